#include "core/cluster/cluster_view.hpp"

#include "core/statements/spock_sql.hpp"
#include "core/util.hpp"

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
    std::vector<Member> first = connect_members(
        rt, args.new_dsn.empty()
                ? std::vector<MemberToReach>{{args.src_name, Dsn::parse(args.src_name, args.src_dsn, "src_dsn")}}
                : std::vector<MemberToReach>{{args.src_name, Dsn::parse(args.src_name, args.src_dsn, "src_dsn")},
                                             {args.new_name, Dsn::parse(args.new_name, args.new_dsn, "new_node_dsn")}});
    view.source = std::move(first[0]);
    if (first.size() > 1) view.new_node = std::move(first[1]);

    // Who the source is and whom it lists, in one round trip.
    const QueryResult seen = view.source.db().exec(sql::source_view());
    const QueryResult me = sql::part_of(seen, "local", Stmt::LocalNodeName);
    if (me.empty())
        throw UserError("src_dsn reaches a database that is not a Spock node",
                        "Expected node \"" + args.src_name + "\".",
                        "Point src_dsn at an existing member of the cluster.", Cause::UndefinedNode);
    if (me.text(0, "node_name") != args.src_name)
        throw UserError("src_dsn reaches node \"" + me.text(0, "node_name") + "\", not \"" + args.src_name + "\"", "",
                        "Pass the name of the node that src_dsn connects to as src_node_name.", Cause::BadArgument);

    const QueryResult nodes = sql::part_of(seen, "nodes", Stmt::NodesWithDsn);
    std::vector<MemberToReach> listed;
    for (size_t i = 0; i < nodes.size(); ++i) {
        std::string name = nodes.text(i, "node_name");
        if (name == args.src_name || name == args.new_name) continue;
        listed.push_back({name, Dsn::parse(name, nodes.text(i, "dsn"), "the DSN listed in spock.node_interface")});
    }
    // The DSNs in spock.node_interface carry the credentials the cluster
    // was set up with, not the caller's: only a superuser may have the
    // server use them (docs/security.md).
    if (!listed.empty() && !rt.caller_is_superuser()) {
        std::vector<std::string> names;
        for (const MemberToReach &m : listed) names.push_back(m.name);
        throw PermissionDenied("this call would reach node(s) " + join(names) +
                                   " with the DSNs stored in spock.node_interface, which only a superuser may have "
                                   "the server use",
                               "Those DSNs carry the credentials the cluster was set up with, not the caller's. "
                               "Nothing was changed.",
                               "Call it as a superuser.");
    }
    view.others = connect_members(rt, listed);
    // Every node the run will change must be the node it was listed as.
    std::vector<Member *> others;
    for (Member &o : view.others) others.push_back(&o);
    std::vector<QueryResult> who = rt.exec_all(same_query(others, sql::local_node_name()));
    for (size_t i = 0; i < others.size(); ++i) {
        const std::string found = who[i].empty() ? std::string() : who[i].text(0, "node_name");
        if (found != others[i]->name)
            throw UserError("the DSN of node \"" + others[i]->name + "\" in " + args.src_name +
                                "'s spock.node_interface reaches " +
                                (found.empty() ? std::string("a database that is no Spock node") : "node \"" + found + "\""),
                            "Nothing was changed.", "Correct that node's interface (spock.node_interface) on " + args.src_name + ".");
    }
    return view;
}

}  // namespace zodan
