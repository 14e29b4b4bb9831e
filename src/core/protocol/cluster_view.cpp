#include "core/protocol/cluster_view.hpp"

#include "core/protocol/spock_sql.hpp"

namespace zodan {

std::vector<Member *> ClusterView::existing() {
    std::vector<Member *> all{&source};
    for (Member &o : others) all.push_back(&o);
    return all;
}

std::vector<std::string> ClusterView::other_names() const {
    std::vector<std::string> names;
    for (const Member &o : others) names.push_back(o.name);
    return names;
}

ClusterView discover_cluster(Runtime &rt, const AddNodeArgs &args) {
    ClusterView view;
    // health_check may look at the cluster alone, without a new node.
    if (!args.new_dsn.empty()) view.new_node = connect_member(rt, args.new_name, args.new_dsn, "new_node_dsn");
    view.source = connect_member(rt, args.src_name, args.src_dsn, "src_dsn");

    QueryResult me = view.source.db().exec(sql::local_node_name());
    if (me.empty())
        throw UserError("src_dsn reaches a database that is not a Spock node",
                        "Expected node \"" + args.src_name + "\".",
                        "Point src_dsn at an existing member of the cluster.");
    if (me.text(0, "node_name") != args.src_name)
        throw UserError("src_dsn reaches node \"" + me.text(0, "node_name") + "\", not \"" + args.src_name + "\"", "",
                        "Pass the name of the node that src_dsn connects to as src_node_name.");

    QueryResult nodes = view.source.db().exec(sql::nodes_with_dsn());
    for (size_t i = 0; i < nodes.size(); ++i) {
        std::string name = nodes.text(i, "node_name");
        if (name == args.src_name || name == args.new_name) continue;
        view.others.push_back(connect_member(rt, name, nodes.text(i, "dsn"), "the DSN listed in spock.node_interface"));
    }
    return view;
}

}  // namespace zodan
