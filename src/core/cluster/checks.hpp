// The checks before a join (protocol steps 0 and 1) and after it. They change
// nothing; each yields a named result, so add_node can stop at the first
// failure and health_check can report them all.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/cluster/cluster_view.hpp"

namespace zodan {

struct CheckResult {
    std::string name;
    bool passed = true;
    std::string message;  // what is wrong (empty when passed)
    std::string hint;     // what to do about it
};

std::vector<CheckResult> check_versions(Runtime &rt, ClusterView &view);
CheckResult check_runs_on_new_node(Runtime &rt, ClusterView &view);
std::vector<CheckResult> check_preconditions(Runtime &rt, ClusterView &view);
CheckResult check_subscriptions_enabled(Runtime &rt, ClusterView &view);
// A replication connection (replication=database) to S, every O and N, each
// with the DSN the run's own or Spock's connections will use (the directions
// and what each proves: docs/add_node.md).
// Their question is sent first, then `meanwhile` runs (other reads that
// travel with it), then the answers are read.
std::vector<CheckResult> check_replication_connections(Runtime &rt, ClusterView &view,
                                                       const std::function<void()> &meanwhile = {});
// The new node against the source, table by table: the same replicated
// tables with the same columns and keys, and the same rows (verify_data.hpp).
CheckResult check_tables_match(Runtime &rt, ClusterView &view);
std::vector<CheckResult> check_joined(Runtime &rt, ClusterView &view);

// Every member subscribes to every other one, and no member knows of a node
// outside `members` (one that joined while this run did not look).
// `statuses`, when given, gets each member's sql::subscription_status()
// rows as read for the check.
std::vector<CheckResult> check_full_mesh(Runtime &rt, const std::vector<Member *> &members,
                                         std::vector<QueryResult> *statuses = nullptr);
// The same from each member's sql::mesh_view() as already read.
std::vector<CheckResult> check_full_mesh(const std::vector<Member *> &members, const std::vector<QueryResult> &mesh_reads,
                                         std::vector<QueryResult> *statuses = nullptr);

// Whether the new node is already a complete member, as a repeated add
// finds it: its own Spock node bears the name, the source lists it with the
// DSN given (passwords aside), every existing member and the new node
// subscribe to each other with no subscription disabled, and its journal
// holds no unfinished add. "" when it is; else why not (the add then goes
// on, and its checks fail as for any node of a taken name).
std::string why_not_complete_member(Runtime &rt, ClusterView &view);

// Throws a UserError for the first failed check, listing the others in DETAIL.
void require_all(const std::vector<CheckResult> &results);

}  // namespace zodan
