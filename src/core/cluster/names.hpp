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

// The most bytes a node name may have: Spock stores them as type name
// (NAMEDATALEN - 1).
constexpr size_t kNodeNameMaxBytes = 63;

// Throws InvalidArgument when `value`, given as the procedure's argument
// `argument` (e.g. "new_node_name"), cannot be a node's name at all: longer
// than a name may be. Checked before anything else, so that no such name
// reaches a connection (it names the call in application_name).
void require_node_name_argument(const std::string &argument, const std::string &value);

// Why `name` cannot join a cluster of `existing` nodes, or nothing when it can.
std::optional<std::string> new_node_name_problem(const std::string &name, const std::vector<std::string> &existing);

}  // namespace zodan
