#include "core/cluster/large_objects.hpp"

#include "core/util.hpp"

namespace zodan {

namespace {

// One row per node: its own large objects, and lolor as far as a join
// needs it. lolor.node is unset (NULL) where lolor never defined it.
Query large_objects() {
    return {Stmt::LargeObjects, "read large objects and lolor",
            "SELECT (SELECT count(*) FROM pg_catalog.pg_largeobject_metadata) AS native, "
            "EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'lolor') AS lolor_installed, "
            "EXISTS (SELECT 1 FROM pg_catalog.pg_available_extensions WHERE name = 'lolor') AS lolor_available, "
            "(SELECT count(*) FROM spock.replication_set_table t JOIN spock.replication_set rs ON rs.set_id = t.set_id "
            "  JOIN pg_catalog.pg_class c ON c.oid = t.set_reloid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
            "  WHERE n.nspname = 'lolor' AND rs.set_nodeid = (SELECT node_id FROM spock.local_node)) AS lolor_replicated, "
            "pg_catalog.current_setting('lolor.node', true) AS lolor_node",
            {}};
}

// Only where lolor is installed (its tables exist).
Query lolor_has_rows() {
    return {Stmt::LolorHasRows, "look for large objects in lolor's tables",
            "SELECT (EXISTS (SELECT 1 FROM lolor.pg_largeobject_metadata) "
            "  OR EXISTS (SELECT 1 FROM lolor.pg_largeobject)) AS has_rows",
            {}};
}

CheckResult pass(const std::string &name) { return {name, true, "", ""}; }

}  // namespace

std::vector<CheckResult> check_large_objects(Runtime &rt, ClusterView &view) {
    std::vector<Member *> nodes{&view.source, &view.new_node};
    for (Member &o : view.others) nodes.push_back(&o);
    const std::vector<QueryResult> read = rt.exec_all(same_query(nodes, large_objects()));
    const QueryResult &s = read[0], &n = read[1];
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
        if (i != 1 && read[i].text(0, "lolor_node") == node_id) same.push_back(nodes[i]->name);
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
