// spock.add_node: the zero-downtime join of docs/protocol.md, step by step.
//
// Each step is a named unit with explicit inputs (the cluster view and the
// outputs of earlier steps, held in AddNodeState) and outputs (recorded in
// the journal on N, keyed by the step's name, as the step completes). The
// steps are the table AddNode::kSteps in add_node.cpp; the copy's steps are
// in add_node_copy.cpp.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/protocol/cluster_view.hpp"
#include "core/protocol/in_flight.hpp"
#include "core/protocol/journal.hpp"
#include "core/text/json.hpp"
#include "core/text/lsn.hpp"

namespace zodan {

// What the steps hand to each other.
struct AddNodeState {
    std::string copy_method;                       // "zodan" or "spock", fixed when the run begins
    std::map<std::string, std::string> slot_of;    // X -> slot on X serving sub_X_N (O, and S for the zodan copy)
    std::map<std::string, Lsn> slot_sync_lsn;      // O -> e_O (prepare_other_nodes)
    // O -> the commit time of a commit of O's made before its slot for N
    // (UTC text; "-infinity": unknown): every change of O that can reach N
    // late is later (the join window's start, join_window.hpp).
    std::map<std::string, std::string> window_from;
    Lsn source_sync_lsn = 0;                       // e_S (catch_up, Spock's copy)
    std::map<std::string, Lsn> copy_position;      // O -> P_O
    Lsn copy_start = 0;                            // C: where the copy's S -> N stream starts (zodan copy)
    std::vector<std::string> skip_schema;          // copy_source
    std::vector<std::string> members;              // S and every O, as the run found them
    std::vector<std::string> sets_deferred;        // mirror_replication_sets: relations N lacked then
};

// Fingerprint of the arguments that identify a run (a retry must repeat them).
std::string add_node_fingerprint(const AddNodeArgs &args);

class AddNode {
public:
    AddNode(Runtime &rt, AddNodeArgs args);
    void run();
    // The names of the steps, in order.
    static std::vector<std::string> step_names();

private:
    struct Step;
    static const Step kSteps[];
    void run_step(int order, const Step &step);
    // Why a step has nothing to do in this run, or "".
    std::string nothing_to_do(const Step &step) const;
    void check_versions_step(JsonObject &out);
    void check_preconditions_step(JsonObject &out);
    void create_node(JsonObject &out);
    void prepare_other_nodes(JsonObject &out);
    void sync_source(JsonObject &out);
    void copy_source(JsonObject &out);  // add_node_copy.cpp, with the two ways of copying
    void catch_up(JsonObject &out);
    void advance_slots(JsonObject &out);
    void mirror_sets(JsonObject &out);
    void enable_other_subscriptions(JsonObject &out);
    void create_reverse_subscriptions(JsonObject &out);
    void confirm_inbound(JsonObject &out);
    // The memberships mirror_sets had to leave for later (confirm_inbound).
    void mirror_deferred_sets(JsonObject &out);
    void confirm(JsonObject &out);
    void verify_data_step(JsonObject &out);

    // The copy (add_node_copy.cpp).
    void copy_with_own_copy_point(JsonObject &out);
    void copy_with_spock_sync(JsonObject &out);
    void discard_earlier_copy();
    void wait_for_spock_copy(const std::string &sub);
    void report_copy(const struct CopySample &sample);

    // Discovers the cluster and takes the join lock on every member; again
    // when the membership changed meanwhile.
    void discover_and_lock();
    std::vector<std::string> local_set_names(Member &node);
    // sub_P_N on N for each provider P lacking it (see prepare_other_nodes):
    // in line on N's session, or, given `in_flight`, all in one statement
    // sent on N's second session and left in `in_flight`.
    void subscribe_new_node(const std::vector<Member *> &providers, InFlight *in_flight);
    // A second session on N, opened once per call: it works while N's own
    // session is busy elsewhere (see subscribe_new_node and
    // create_reverse_subscriptions), and every connection costs the nodes
    // a password exchange and a backend start.
    Connection &second_new_node_session();
    // sub_P_N for each provider P as N has it (sql::subscription_slots).
    QueryResult subscriptions_on_new_node(const std::vector<Member *> &providers);
    bool has_subscription(Member &node, const std::string &name);
    // The marks of window_from for `others`, taken (and journaled) before
    // their slots are made.
    void mark_window_start(const std::vector<Member *> &others, const std::vector<QueryResult> &slots_found);
    // Takes over an unfinished earlier run, or refuses; false when there is none.
    bool resume_earlier_run(const std::string &fingerprint);
    void restore_outputs();
    void pause_here(const std::string &step);
    // Spock's manager on N starts the apply workers of the enabled
    // subscriptions one at a time; it is woken as each one attaches.
    void help_workers_start();
    void detail(const std::string &message, const std::string &detail_text = "");
    Member *member(const std::string &name);
    bool own_copy() const { return state_.copy_method == "zodan"; }

    Runtime &rt_;
    AddNodeArgs args_;
    ClusterView view_;
    AddNodeState state_;
    Journal journal_;
    std::set<std::string> done_earlier_;     // steps an earlier call of this run finished
    std::set<std::string> started_earlier_;  // steps an earlier call of this run began
    std::unique_ptr<Connection> second_session_;  // see second_new_node_session()
    int64_t started_ms_ = 0;
    int64_t copy_started_ms_ = 0;  // when this call started or found the copy
    int64_t next_copy_report_ms_ = 0;
    bool copy_reported_ = false, copy_reported_complete_ = false;
};

}  // namespace zodan
