// Removing what an add left behind, shared by add_node (redoing a failed
// copy) and remove_node (rolling a node out).
#pragma once

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
// (sql::user_objects), to tell later what the copy brought.
std::vector<std::string> user_objects_on(Connection &node);

// Drops exactly what a copy brought: the user objects (schema, relation,
// routine, type) in `copied` (what the copy recorded it made) that were not
// there before it; with `copied` unknown (a copy that never finished),
// every one not in `before_copy`. Returns the statements it ran.
std::vector<std::string> drop_copied_objects(Connection &node, const std::vector<std::string> &before_copy,
                                             const std::optional<std::vector<std::string>> &copied = std::nullopt);

}  // namespace zodan
