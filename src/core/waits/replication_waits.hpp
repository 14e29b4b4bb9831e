// Waiting for replication to reach a state, on several nodes at once: each
// poll asks every node in one concurrent round, and a subscription that
// cannot deliver (disabled, or down past a grace period) ends the wait early.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/text/lsn.hpp"
#include "core/cluster/member.hpp"

namespace zodan {

// Sync events on `origins` (written on all of them at once), then waits
// until `target` has applied each; returns the events' LSNs.
std::map<std::string, Lsn> sync_and_wait(Runtime &rt, const std::vector<Member *> &origins, Member &target);

// Waits until every target has applied each origin's stream through the LSN given.
void wait_applied(Runtime &rt, const std::vector<Member *> &targets, const std::map<std::string, Lsn> &through);

// Waits until the named subscriptions (all when empty) on every node are replicating.
// `on_poll` runs once per poll (progress reports).
void wait_replicating(Runtime &rt, const std::vector<Member *> &nodes, const std::vector<std::string> &subscriptions,
                      const std::function<void()> &on_poll = {});
// The same for every subscription, each poll reading the nodes each node
// knows with the status (sql::mesh_view): returns the last poll's reads,
// for the mesh check (cluster/checks.hpp) at no round trip of its own.
std::vector<QueryResult> wait_mesh_replicating(Runtime &rt, const std::vector<Member *> &nodes);

}  // namespace zodan
