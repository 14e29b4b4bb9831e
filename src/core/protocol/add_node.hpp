// spock.add_node: the zero-downtime join of zodan-protocol.md, step by step.
//
// Each step is a named unit with explicit inputs (the cluster view and the
// outputs of earlier steps, held in AddNodeState) and outputs (recorded in
// the journal on N as the step completes).
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/protocol/cluster_view.hpp"
#include "core/protocol/journal.hpp"
#include "core/text/json.hpp"
#include "core/text/lsn.hpp"

namespace zodan {


// What the steps hand to each other.
struct AddNodeState {
    std::map<std::string, std::string> slot_of;    // O -> slot on O for sub_O_N
    std::map<std::string, Lsn> slot_sync_lsn;      // O -> e_O (step 3)
    Lsn source_sync_lsn = 0;                       // e_S (step 6)
    std::map<std::string, Lsn> copy_position;      // O -> P_O (step 7)
    std::vector<std::string> skip_schema;          // step 5
};

// Fingerprint of the arguments that identify a run (a retry must repeat them).
std::string add_node_fingerprint(const AddNodeArgs &args);

class AddNode {
public:
    AddNode(Runtime &rt, AddNodeArgs args);
    void run();
    // A step's journal number: its row in kSteps, the table of the steps
    // (add_node.cpp). Throws std::logic_error for an unknown name.
    static int step_no(const std::string &step_name);

private:
    struct Step;
    static const Step kSteps[];
    void run_step(int no, const Step &step);
    void check_versions_step(JsonObject &out);
    void check_preconditions_step(JsonObject &out);
    void create_node(JsonObject &out);
    void prepare_other_nodes(JsonObject &out);
    void sync_source(JsonObject &out);
    void copy_source(JsonObject &out);
    void catch_up(JsonObject &out);
    void advance_slots(JsonObject &out);
    void mirror_replication_sets(JsonObject &out);
    void enable_other_subscriptions(JsonObject &out);
    void create_reverse_subscriptions(JsonObject &out);
    void confirm(JsonObject &out);

    std::vector<std::string> local_set_names(Member &node);
    bool has_subscription(Member &node, const std::string &name);
    // Takes over an unfinished earlier run, or refuses; false when there is none.
    bool resume_earlier_run(const std::string &fingerprint);
    void restore_outputs();
    void pause_here(const std::string &step);
    // Step 5 again after its copy failed: the subscription and what it copied go first.
    void discard_failed_copy(const std::string &sub);
    // Until the copy into N is complete (Spock's initial sync of `sub`).
    void wait_for_copy(const std::string &sub);
    void detail(const std::string &message, const std::string &detail_text = "");

    Runtime &rt_;
    AddNodeArgs args_;
    ClusterView view_;
    AddNodeState state_;
    Journal journal_;
    std::set<int> done_earlier_;     // steps an earlier call of this run finished
    std::set<int> started_earlier_;  // steps an earlier call of this run began
    int64_t started_ms_ = 0;
    int64_t copy_started_ms_ = 0;  // when this call started or found the copy
};

}  // namespace zodan
