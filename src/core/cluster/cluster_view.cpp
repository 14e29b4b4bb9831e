#include "core/cluster/cluster_view.hpp"

#include "core/statements/spock_sql.hpp"
#include "core/util.hpp"

#include <algorithm>

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

namespace {

// What an add takes later across the link: a replication connection to
// every node for the checks, a second one to S for the copy point, and, for
// a logical copy, S's sessions of the copy's lanes and of the join window's
// rows. Opened with the others' first sessions, they cost the round trips
// of one connection instead of one connection each, step after step; a
// call that finds the node joined already closes them unused.
std::vector<SessionRequest> spares_for_add(Runtime &rt, const ClusterView &view,
                                           const std::vector<MemberToReach> &others) {
    // More lanes than this connect when the copy starts (there are rarely
    // as many tables as lanes in a small database, and a large one copies
    // for long enough that a connection's round trips do not count).
    constexpr int kLanesAhead = 4;
    std::vector<SessionRequest> out;
    const std::string s = view.source.dsn.text();
    out.push_back({view.source.name, s, SessionKind::Replication});
    out.push_back({view.source.name, s, SessionKind::Replication});
    for (const MemberToReach &o : others) out.push_back({o.name, o.dsn.text(), SessionKind::Replication});
    out.push_back({view.new_node.name, view.new_node.dsn.text(), SessionKind::Replication});
    if (!rt.in_recovery() && rt.copy_method() != CopyMethodSetting::Physical) {
        const int lanes = std::max(1, std::min(kLanesAhead, rt.copy_streams()));
        for (int k = 0; k < lanes + 1; ++k) out.push_back({view.source.name, s, SessionKind::Regular});
    }
    return out;
}

// Whether a node's first read found zodan's journal there.
bool journal_found(const QueryResult &seen) {
    const QueryResult here = sql::part_of(seen, "journal", Stmt::PhysicalJournalHere);
    return !here.empty() && here.text(0, "here") == "true";
}

}  // namespace

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

    view.source.spock_version = sql::part_of(seen, "version", Stmt::SpockVersion);
    view.source.journal_here = journal_found(seen);
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
    // The others' sessions, and the add's spare sessions with them.
    std::vector<SessionRequest> wanted;
    for (const MemberToReach &m : listed) wanted.push_back({m.name, m.dsn.text(), SessionKind::Regular, true});
    const std::vector<SessionRequest> spares = args.new_dsn.empty() ? std::vector<SessionRequest>{}
                                                                    : spares_for_add(rt, view, listed);
    wanted.insert(wanted.end(), spares.begin(), spares.end());
    std::vector<OpenedSession> opened = rt.open_sessions(wanted);
    for (size_t i = 0; i < listed.size(); ++i) {
        if (opened[i].failure) std::rethrow_exception(opened[i].failure);
        Member m;
        m.name = listed[i].name;
        m.dsn = listed[i].dsn;
        m.conn = std::move(opened[i].conn);
        view.others.push_back(std::move(m));
    }
    opened.erase(opened.begin(), opened.begin() + static_cast<long>(listed.size()));
    view.spare.keep(spares, std::move(opened));
    // Every node the run will change must be the node it was listed as;
    // Spock's version there comes with the answer (step 0 checks it).
    std::vector<Member *> others;
    for (Member &o : view.others) others.push_back(&o);
    std::vector<QueryResult> seen_there = rt.exec_all(same_query(others, sql::member_view()));
    for (size_t i = 0; i < others.size(); ++i) {
        const QueryResult who = sql::part_of(seen_there[i], "local", Stmt::LocalNodeName);
        others[i]->spock_version = sql::part_of(seen_there[i], "version", Stmt::SpockVersion);
        others[i]->journal_here = journal_found(seen_there[i]);
        const std::string found = who.empty() ? std::string() : who.text(0, "node_name");
        if (found != others[i]->name)
            throw UserError("the DSN of node \"" + others[i]->name + "\" in " + args.src_name +
                                "'s spock.node_interface reaches " +
                                (found.empty() ? std::string("a database that is no Spock node") : "node \"" + found + "\""),
                            "Nothing was changed.", "Correct that node's interface (spock.node_interface) on " + args.src_name + ".");
    }
    return view;
}

}  // namespace zodan
