// Headroom before a join: what the join will take on every node (slots, WAL
// senders, worker processes, connections) against what is configured and
// used, and the settings Spock needs. Checked before the first change, so a
// shortfall stops the add with nothing to clean.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/cluster/checks.hpp"
#include "core/cluster/cluster_view.hpp"

namespace zodan {

// One node's configuration and use, as read from it.
struct NodeCapacity {
    std::string node;
    std::string wal_level, track_commit_timestamp, shared_preload_libraries;
    // Servers that gate logical decoding plugins (PostgreSQL 18 as Debian and
    // Spock's patches ship it) have this list; absent elsewhere.
    std::optional<std::string> output_plugin_libraries;
    long long max_slots = 0, slots_used = 0;
    // Replication origins with state: bounded by max_active_replication_origins
    // from PostgreSQL 18 on, by max_replication_slots before.
    std::string origins_setting = "max_replication_slots";
    long long max_origins = 0, origins_used = 0;
    long long max_senders = 0, senders_used = 0;
    long long max_workers = 0, workers_used = 0;
    long long max_connections = 0, connections_used = 0;
    long long database_bytes = 0;
};

// What the join adds on a node, with `streams` copy streams
// (zodan.copy_streams): an existing node serves one subscription to the new
// node (a slot, a WAL sender) and gets one from it (an apply worker, an
// origin), plus our session; the source also serves the copy (a session per
// stream, pg_dump, the copy point's replication session). The new node gets
// one subscription from each of the `existing` nodes (apply workers,
// origins), serves one to each (slots, WAL senders), and takes the copy (a
// session and an origin per stream, pg_restore's sessions) and the other
// nodes' sessions while they subscribe to it.
struct JoinNeeds {
    long long slots, senders, workers, connections, origins;
};
JoinNeeds needs_of_existing_node(bool is_source, int streams);
JoinNeeds needs_of_new_node(size_t existing, int streams);

// The checks for one node: one result per setting or resource.
std::vector<CheckResult> capacity_checks(const NodeCapacity &node, const JoinNeeds &needs);

// Reads every node of the view and checks them all: one passed result per
// node with room, one failed result per shortfall. `source_bytes` gets the
// size of the source's database.
std::vector<CheckResult> check_headroom(Runtime &rt, ClusterView &view, long long *source_bytes = nullptr);
// The same from what sql::node_capacity() (or a read that holds its
// columns) found on each existing node, then on the new node if any.
std::vector<CheckResult> check_headroom(Runtime &rt, ClusterView &view, const std::vector<QueryResult> &read,
                                        long long *source_bytes = nullptr);

// "1.2 GB", "412 MB", "980 kB", "12 bytes"
std::string human_bytes(long long bytes);

}  // namespace zodan
