#include "core/cluster/large_objects.hpp"

#include "core/statements/spock_sql.hpp"
#include "core/util.hpp"

namespace zodan {

namespace {

// Only where lolor is installed (its tables exist).
Query lolor_has_rows() {
    return {Stmt::LolorHasRows, "look for large objects in lolor's tables",
            "SELECT (EXISTS (SELECT 1 FROM lolor.pg_largeobject_metadata) "
            "  OR EXISTS (SELECT 1 FROM lolor.pg_largeobject)) AS has_rows",
            {}};
}

CheckResult pass(const std::string &name) { return {name, true, "", ""}; }

}  // namespace

std::vector<CheckResult> check_large_objects(ClusterView &view, const std::vector<QueryResult> &read) {
    std::vector<Member *> nodes = view.existing();
    nodes.push_back(&view.new_node);
    const QueryResult &s = read.front(), &n = read.back();
    const std::string &src = view.source.name, &dst = view.new_node.name;
    std::vector<CheckResult> out;

    const std::string own = "no large objects outside lolor";
    if (s.text(0, "native") != "0")
        out.push_back({own, false,
                       "source \"" + src + "\" holds " + s.text(0, "native") +
                           " large object(s) in pg_largeobject, which logical replication does not carry: the new "
                           "node would get none of them",
                       "Keep large objects with the lolor extension (its tables replicate through a replication "
                       "set), or remove them from the source (lo_unlink); then add the node."});
    else if (n.text(0, "native") != "0")
        out.push_back({own, false,
                       "new node \"" + dst + "\" already holds " + n.text(0, "native") +
                           " large object(s) in pg_largeobject",
                       "The new node must be empty: remove them (lo_unlink) or use a fresh database."});
    else
        out.push_back(pass(own));

    // lolor's tables in the source's sets: the copy takes their rows.
    if (s.text(0, "lolor_replicated") == "0") return out;
    const std::string ready = "lolor ready on the new node";
    const bool installed = n.text(0, "lolor_installed") == "t";
    if (!installed && n.text(0, "lolor_available") != "t") {
        out.push_back({ready, false,
                       "source \"" + src + "\" replicates large objects through lolor, but lolor is not available "
                       "on the server of new node \"" + dst + "\"",
                       "Install lolor on the new node's server as on the other nodes (its package, and the "
                       "settings its documentation asks for, lolor.node among them); the copy creates the "
                       "extension."});
        return out;
    }
    if (installed && view.new_node.db().exec(lolor_has_rows()).text(0, "has_rows") == "t") {
        out.push_back({ready, false, "new node \"" + dst + "\" already holds large objects in lolor's tables",
                       "The new node must be empty: remove them (lo_unlink) or use a fresh database."});
        return out;
    }
    // lolor makes new large objects' OIDs from lolor.node: two nodes with
    // the same value make the same OIDs, which then collide as they replicate.
    const std::string node_id = n.text(0, "lolor_node");
    if (node_id.empty() || node_id == "0") {
        out.push_back({ready, false,
                       "source \"" + src + "\" replicates large objects through lolor, but lolor.node is not set "
                       "on new node \"" + dst + "\"",
                       "Set lolor.node on the new node to a value no other node uses (ALTER SYSTEM SET lolor.node "
                       "= ...; then restart it), then add the node."});
        return out;
    }
    std::vector<std::string> same;
    for (size_t i = 0; i < nodes.size(); ++i)
        if (nodes[i] != &view.new_node && read[i].text(0, "lolor_node") == node_id) same.push_back(nodes[i]->name);
    if (!same.empty()) {
        out.push_back({ready, false,
                       "lolor.node is " + node_id + " on new node \"" + dst + "\" and on " + join(same) +
                           ": their new large objects would get the same OIDs",
                       "Set lolor.node on the new node to a value no other node uses (ALTER SYSTEM SET lolor.node "
                       "= ...; then restart it), then add the node."});
        return out;
    }
    out.push_back(pass(ready));
    return out;
}

}  // namespace zodan
