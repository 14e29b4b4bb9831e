// Names and ids that Spock derives from node, database and subscription
// names (spock-api.md, "Identity rules"), computed locally so that the plan
// can be made, shown and checked before any node is touched.
#pragma once

#include <cstdint>
#include <string>

namespace zodan {

// PostgreSQL's hashtext(): hash_any over the bytes, as a signed int4.
int32_t pg_hashtext(const std::string &bytes);

// (hashtext(node_name) & 65535)::oid
uint32_t spock_node_id(const std::string &node_name);

// spock.spock_gen_slot_name(dbname, provider_node, subscription).
std::string spock_slot_name(const std::string &dbname, const std::string &provider_node,
                            const std::string &subscription);

// "sub_<provider>_<subscriber>", the names the add-node procedure uses.
std::string subscription_name(const std::string &provider_node, const std::string &subscriber_node);

}  // namespace zodan
