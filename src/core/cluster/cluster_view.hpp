// The nodes of one add-node run: S (source), N (new) and the others (O),
// discovered from S's catalog and each reached over its own connection.
#pragma once

#include <map>

#include <string>
#include <vector>

#include "core/cluster/member.hpp"
#include "core/cluster/spare_sessions.hpp"

namespace zodan {

struct AddNodeArgs {
    std::string src_name, src_dsn, new_name, new_dsn;
    bool verbose = false;
    // As the caller gave them: NULL stays NULL (the SQL defaults are the
    // published procedure's).
    Value location, country;
    std::string info_json = "{}";
};

struct ClusterView {
    Member source;               // S
    Member new_node;             // N (no connection when only the cluster is looked at)
    std::vector<Member> others;  // every existing node but S (and N, were it listed)
    long long source_database_bytes = 0;  // read by the headroom check
    // max_slot_wal_keep_size of each existing node in bytes (-1: none), as
    // the WAL check read it: the watch over the join's slots needs it.
    std::map<std::string, long long> wal_keep_bytes;
    // Sessions the add's later steps take (the checks' replication
    // connections, the copy point's, the copy's sessions on S), opened
    // with the first sessions to the others (spare_sessions.hpp).
    SpareSessions spare;

    // S and every O: the nodes that already form the cluster.
    std::vector<Member *> existing();
    std::vector<std::string> other_names() const;
    bool has_new_node() const { return new_node.conn != nullptr; }
};

// Connects to S and N, lists S's nodes and connects to every other one.
// Throws UserError / RemoteError naming the node that failed.
ClusterView discover_cluster(Runtime &rt, const AddNodeArgs &args);

}  // namespace zodan
