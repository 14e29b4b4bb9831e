// Removing what an add left behind, shared by add_node (redoing a failed
// copy) and remove_node (rolling a node out).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/remote.hpp"

namespace zodan {

// Drops the slot if it exists, stopping a walsender that still streams from
// it first. Returns true when there was one.
bool drop_slot_if_exists(Runtime &rt, Connection &node, const std::string &slot);

// Stops subscriptions: each disabled (committed), its workers' exit waited
// for, and forced after a while. All are disabled before any exit is waited
// for, each node's at the same time as the others', so that no subscriber
// goes on applying its provider's changes long after another stopped.
struct SubscriptionOn {
    Connection *node;
    std::string sub;
};
void stop_subscriptions(Runtime &rt, const std::vector<SubscriptionOn> &subs);

// Drops a subscription without Spock's sub_drop trap: sub_drop deletes the
// subscription's rows and then waits for its worker to exit, while a worker
// updating those rows (a copy running or just failed) waits for sub_drop's
// transaction: both forever. So the worker is stopped first
// (stop_subscriptions), then the subscription dropped.
void stop_and_drop_subscription(Runtime &rt, Connection &node, const std::string &sub);

// What is on a node before a copy: its user objects as "kind:oid"
// (sql::user_objects, version sql::kObjectListing), to tell later what the
// copy brought.
std::vector<std::string> user_objects_on(Connection &node);

// What a copy recorded in its run's journal (core/journal/run_record.hpp).
struct CopyRecord {
    std::vector<std::string> before;                // the node's objects before it
    std::optional<std::vector<std::string>> after;  // and once complete; unknown when it never completed
    std::string listing = "1";                      // sql::user_objects version of both lists
};

// What a rollback of the copy would drop: the objects not made by the copy
// that depend on what it made (named), and the copy's tables ("c:<oid>").
struct CopyRollbackPlan {
    std::vector<std::string> others;
    std::vector<std::string> tables;
};
CopyRollbackPlan plan_copy_rollback(Connection &node, const CopyRecord &record);

// The refusal naming `others` on node `node_name`; `hint` says what to do,
// `what_changed` what the refused call changed ("Nothing was changed.").
UserError copy_dependents_error(const std::string &node_name, const std::vector<std::string> &others,
                                const std::string &hint, const std::string &what_changed);

struct CopyRollback {
    std::vector<std::string> dropped;  // the copy's objects dropped, described
    std::vector<std::string> others;   // objects not made by the copy dropped too (force)
};
// Drops exactly what a copy made, in one transaction: nothing with CASCADE,
// each object once nothing else depends on it. The objects not made by the
// copy that depend on what it made are refused (copy_dependents_error with
// `hint`), dropping nothing, unless `force`: then they are dropped too and
// listed. The copy's tables are locked while the plan is made, so that what
// comes to depend on them meanwhile is not dropped unseen.
CopyRollback drop_copied_objects(Runtime &rt, Connection &node, const CopyRecord &record, bool force,
                                 const std::string &hint);

}  // namespace zodan
