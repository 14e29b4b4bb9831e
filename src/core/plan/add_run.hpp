// One run of spock.add_node as its steps see it: the arguments, the cluster
// found, the run's record (what earlier steps made, run_record.hpp) and the
// journal it is kept in. The runner (add_node.hpp) owns it; each step reads
// and writes it.
#pragma once

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/journal/journal.hpp"
#include "core/journal/run_record.hpp"
#include "core/plan/plan.hpp"
#include "core/cluster/cluster_view.hpp"
#include "core/waits/in_flight.hpp"

namespace zodan {

namespace physical {
struct PhysicalState;
}

class AddRun {
public:
    AddRun(Runtime &rt, AddNodeArgs args) : rt(rt), args(std::move(args)) {}

    Runtime &rt;
    const AddNodeArgs args;
    ClusterView view;
    AddRecord record;
    Journal journal;
    std::set<StepId> started_earlier;  // steps an earlier call of this run began
    int64_t started_ms = 0;
    // The call runs on a hot standby (a physical run, docs/physical.md):
    // N is read-only until the promotion, so the run's journal starts then
    // (open_journal, set by the runner); the path's own state in this call.
    bool standby = false;
    std::function<void()> open_journal;
    // prepare_other_nodes saw S apply every O's sync event in this call
    // (S's progress never goes back: sync_source need not look again).
    bool source_applied_events = false;
    std::shared_ptr<physical::PhysicalState> physical;

    Member &source() { return view.source; }
    Member &new_node() { return view.new_node; }
    std::vector<Member *> others();
    Member *member(const std::string &name);
    // The path from `node` into N that prepare_other_nodes recorded.
    PathIn &path(const std::string &node);
    // A line for the operator with zodan's verbose output on.
    void detail(const std::string &message, const std::string &detail_text = "") const;
    // A second session on N, opened once per call: it works while N's own
    // session is busy elsewhere (the others' subscriptions on N made during
    // the copy, the slots on N for the paths out of it), and every
    // connection costs the nodes a password exchange and a backend start.
    Connection &second_new_node_session();
    // The others' subscriptions on N while Spock makes them, on N's second
    // session: sent by prepare_other_nodes once N has the source's, so that
    // they overlap the rest of that step, the source's sync and the copy;
    // collected after the copy (copy_source). Null until sent.
    InFlight *others_subscribing() { return others_subscribing_.get(); }
    InFlight &start_others_subscribing();

private:
    std::unique_ptr<Connection> second_session_;
    // After the session it uses: an uncollected statement is cancelled on
    // it before the session closes.
    std::unique_ptr<InFlight> others_subscribing_;
};

}  // namespace zodan
