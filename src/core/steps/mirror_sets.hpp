// Making the new node's replication sets exactly the source's: the sets and
// their flags, table memberships (column lists, row filters) and sequences.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "core/cluster/member.hpp"

namespace zodan {

struct MirrorOutcome {
    size_t sets = 0, tables = 0, sequences = 0;
    int changes = 0;
    // Relations the source lists that the new node does not have yet:
    // created after the copy point (Spock's DDL replication), they reach
    // the new node through its subscriptions, so their memberships are
    // mirrored once those deliver (see AddNode::confirm_inbound).
    std::vector<std::string> deferred;
};

// Changes made on the source meanwhile are reported as a WARNING, not
// fatal: the operator decides whether the new node should follow them.
MirrorOutcome mirror_replication_sets(Runtime &rt, Member &source, Member &new_node);

}  // namespace zodan
