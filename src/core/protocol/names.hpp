// The names the product gives subscriptions, and the rules a new node's
// name must follow (Spock would refuse it half-way, in sub_create), checked
// before any node is touched. (Node ids, which Spock derives from names by
// hashtext, are compared by the source itself: checks.cpp.)
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace zodan {

// "sub_<provider>_<subscriber>", the names the add-node procedure uses.
std::string subscription_name(const std::string &provider_node, const std::string &subscriber_node);

// Why `name` cannot join a cluster of `existing` nodes, or nothing when it can.
std::optional<std::string> new_node_name_problem(const std::string &name, const std::vector<std::string> &existing);

}  // namespace zodan
