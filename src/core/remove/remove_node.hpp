// spock.remove_node: cut every tie between the cluster and one node, on
// every node that can be reached; also the rollback of a failed add_node.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/copy/cleanup.hpp"
#include "core/cluster/member.hpp"
#include "core/journal/journal.hpp"

namespace zodan {

struct RemoveNodeArgs {
    std::string target_name, target_dsn;
    bool verbose = true;
    // Roll back even a new node that was written to since its copy, or
    // that holds objects not made by the copy that depend on what it made
    // (what was written, and those objects, go with it).
    bool force = false;
};

class RemoveNode {
public:
    RemoveNode(Runtime &rt, RemoveNodeArgs args);
    void run();

private:
    // Which node the target's DSN reaches, and whether that is this very
    // database; refuses a DSN that reaches another node of that name.
    void identify_target();
    void find_members();
    void reach_listed_members();  // those of dsn_of_ not tried yet
    void add_members(const QueryResult &nodes);  // cluster_nodes rows
    // Refuses, changing nothing, a target that cannot be shown to be the
    // node of that name in the caller's cluster.
    void prove_target_is_ours();
    // Connects with a DSN stored in a Spock catalog, which only a superuser
    // may have the server use.
    Member connect_stored(const std::string &name, const std::string &dsn, const std::string &role);
    void refuse_stored_dsns(const std::vector<std::string> &nodes);
    // Before any survivor's subscription from the target goes: waits until
    // every survivor has applied what the target committed, stops those
    // subscriptions all together, then says what each survivor applied.
    void drain_target(bool unfinished_add);
    void clean_survivor(Member &x);
    void clean_target();
    // Throws when a copied table holds rows written on the target itself.
    void refuse_if_written_to(const std::optional<CopyRecord> &copied);
    std::string force_hint() const;
    void note(const std::string &node, const std::string &what) { removed_[node].push_back(what); }
    void roll_back_add(const PriorRun &prior, const std::optional<CopyRecord> &copied);
    // The journal of this remove, on the node the call runs on: its checks'
    // findings as the first step, then one row per step (run_step).
    void open_journal();
    void run_step(const std::string &name, const std::function<void(Figures &)> &body);
    // What was removed on `nodes`, as a JSON object node -> [what].
    std::string removed_json(const std::vector<std::string> &nodes);
    void report_outcome();

    Runtime &rt_;
    RemoveNodeArgs args_;
    std::optional<Member> target_;
    std::string target_unreachable_;             // why, when it could not be reached
    Dsn target_dsn_;                             // read once; its database names the slots serving it
    std::string target_identity_, target_node_id_;  // node_identity of what the DSN reaches
    std::string target_listed_dsn_;              // the DSN the caller's cluster lists for the target
    std::string caller_name_;                    // the caller's own Spock node, when it has one
    std::string caller_identity_;
    bool caller_is_target_ = false;              // the DSN reaches the database the call runs in
    std::map<std::string, std::string> caller_ids_;  // node ids as the caller's node lists them
    std::map<std::string, std::string> dsn_of_;  // surviving members found
    std::vector<Member> survivors_;
    std::map<std::string, std::vector<std::string>> removed_;  // node -> what was removed there
    std::vector<std::string> unreachable_;
    bool not_member_ = false;  // no member reached lists the target, and it is no Spock node
    Journal journal_;
    int step_order_ = 0;
};

}  // namespace zodan
