// Large objects, before a join (docs/add_node.md, "Large objects").
// Logical replication does not carry pg_largeobject, and the copy takes
// tables only: large objects of the source's own would be missing on the
// new node without a word, so they are refused. Those the lolor extension
// keeps in its tables (lolor.pg_largeobject, lolor.pg_largeobject_metadata)
// replicate like any table in a replication set, and the copy takes them:
// then the new node must be able to hold them (lolor installed, its tables
// empty, a lolor.node of its own).
#pragma once

#include <vector>

#include "core/cluster/checks.hpp"

namespace zodan {

// From what sql::large_objects() (or a read that holds its columns) found
// on each existing node, then on the new node, in that order.
std::vector<CheckResult> check_large_objects(ClusterView &view, const std::vector<QueryResult> &read);

}  // namespace zodan
