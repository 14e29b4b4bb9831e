// spock.add_node: the zero-downtime join of docs/protocol.md, run as the
// plan of plan.hpp says, step after step, each recorded in the journal on
// the new node so that a later call resumes where this one stopped.
#pragma once

#include <string>
#include <vector>

#include "core/plan/add_run.hpp"

namespace zodan {

class AddNode {
public:
    AddNode(Runtime &rt, AddNodeArgs args) : run_(rt, std::move(args)) {}
    void run();

private:
    void run_step(int order, const Step &step);
    // Discovers the cluster and takes the join lock on every member; again
    // when the membership changed meanwhile.
    void discover_and_lock();
    // Takes over an unfinished earlier run, or refuses; false when there is none.
    bool resume_earlier_run(const std::string &fingerprint);
    void pause_here(const Step &step);
    // Starts the run's journal on N, with the steps done before it could
    // (a physical run's, until the promotion) and the step running now.
    void begin_journal(const std::string &fingerprint);
    // The add of a node already a complete member: journaled, changing nothing.
    void record_already_member(const std::string &fingerprint);

    AddRun run_;
    std::set<StepId> done_earlier_;  // steps an earlier call of this run finished
    bool journal_open_ = false;
    struct DeferredStep {
        StepId id;
        int order;
        Figures figures;
    };
    std::vector<DeferredStep> deferred_;  // done before the journal started
    const Step *current_ = nullptr;
    int current_order_ = 0;
};

}  // namespace zodan
