// Removing what an add left behind, shared by add_node (redoing a failed
// copy) and remove_node (rolling a node out).
#pragma once

#include <string>
#include <vector>

#include "core/remote.hpp"

namespace zodan {

// Drops the slot if it exists, stopping a walsender that still streams from
// it first. Returns true when there was one.
bool drop_slot_if_exists(Runtime &rt, Connection &node, const std::string &slot);

// Drops what a copy brought to a node that was empty before it: schemas
// other than `keep_schemas` (and system, extension and spock ones) and the
// user relations in public. Returns the statements it ran.
std::vector<std::string> drop_copied_objects(Connection &node, const std::vector<std::string> &keep_schemas);

}  // namespace zodan
