// The join lock: one change of membership (an add or a remove) at a time in
// a cluster. A run holds a session-level advisory lock on every member it
// changes (and on the new node) through its own sessions, from before its
// first change to its end; a second run finds it taken and is refused with
// an error that names the running one and where it runs. The lock goes with
// the sessions, however the run ends. docs/protocol.md, "The join lock".
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/cluster/member.hpp"

namespace zodan {

// Takes the lock on every member of the cluster and on the new node (of an
// add), never waiting: first on the lowest-named member, then on the rest
// at once. When any is taken, throws UserError naming the holder, its node
// and process (the locks this call did get are released again).
//
// `once_gated`, when given: a read of the caller's that must see the
// member `on` as it is once its lock is held (the membership, read again).
// Where `on` is the lowest-named member it goes with the locks on the rest,
// costing no round trip of its own; its result is then in `result`.
struct ReadOnceLocked {
    Member *on = nullptr;
    Query query;
    std::optional<QueryResult> result = std::nullopt;
};
void take_join_lock(Runtime &rt, const std::vector<Member *> &cluster_members, const std::string &operation,
                    Member *new_node = nullptr, ReadOnceLocked *once_gated = nullptr);

}  // namespace zodan
