// Names and ids that Spock derives from node names (spock-api.md, "Identity
// rules"), computed locally so that a name is checked before any node is
// touched.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace zodan {

// PostgreSQL's hashtext(): hash_any over the bytes, as a signed int4.
int32_t pg_hashtext(const std::string &bytes);

// (hashtext(node_name) & 65535)::oid
uint32_t spock_node_id(const std::string &node_name);

// "sub_<provider>_<subscriber>", the names the add-node procedure uses.
std::string subscription_name(const std::string &provider_node, const std::string &subscriber_node);

// Why `name` cannot join a cluster of `existing` nodes (Spock would refuse
// it half-way, in node_create or sub_create), or nothing when it can.
std::optional<std::string> new_node_name_problem(const std::string &name, const std::vector<std::string> &existing);

}  // namespace zodan
