#include "core/cluster/checks.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "core/cluster/headroom.hpp"
#include "core/cluster/large_objects.hpp"
#include "core/cluster/names.hpp"
#include "core/statements/spock_sql.hpp"
#include "core/util.hpp"
#include "core/compare/verify_data.hpp"
#include "core/journal/journal.hpp"
#include "core/text/text_array.hpp"
#include "core/text/version.hpp"
#include "core/waits/wal_retention.hpp"

namespace zodan {

namespace {

CheckResult pass(const std::string &name) { return {name, true, "", ""}; }
CheckResult failed(const std::string &name, const std::string &message, const std::string &hint) {
    return {name, false, message, hint};
}

std::vector<std::string> column(const QueryResult &r, const std::string &name) {
    std::vector<std::string> values;
    for (size_t i = 0; i < r.size(); ++i) values.push_back(r.text(i, name));
    return values;
}

// Runs one statement on many members at once.
std::vector<QueryResult> on_each(Runtime &rt, const std::vector<Member *> &members, const Query &q) {
    return rt.exec_all(same_query(members, q));
}

}  // namespace

std::vector<CheckResult> check_versions(Runtime &rt, ClusterView &view) {
    std::vector<Member *> all = view.existing();
    if (view.has_new_node()) all.push_back(&view.new_node);
    // Read where the first read of the node did not already (discovery).
    std::vector<Member *> unread;
    for (Member *m : all)
        if (!m->spock_version) unread.push_back(m);
    std::vector<QueryResult> read = on_each(rt, unread, sql::spock_version());
    std::vector<QueryResult> results;
    for (size_t i = 0, next = 0; i < all.size(); ++i)
        results.push_back(all[i]->spock_version ? *all[i]->spock_version : read.at(next++));
    const Version minimum = Version::parse(kMinimumSpockVersion);
    std::vector<CheckResult> out;
    std::optional<Version> reference;  // S's version: all must share its major.minor
    for (size_t i = 0; i < all.size(); ++i) {
        const std::string check = "spock version on " + all[i]->name;
        if (results[i].empty()) {
            out.push_back(failed(check, "spock is not installed on node \"" + all[i]->name + "\"",
                                 "CREATE EXTENSION spock on every node first."));
            continue;
        }
        std::string text = results[i].text(0, "extversion");
        Version v;
        try {
            v = Version::parse(text);
        } catch (const std::invalid_argument &) {
            out.push_back(failed(check, "node \"" + all[i]->name + "\" reports an unreadable spock version \"" + text +
                                            "\"", "Install a released Spock version."));
            continue;
        }
        if (compare(v, minimum) < 0) {
            out.push_back(failed(check,
                                 "node \"" + all[i]->name + "\" runs spock " + text + ", older than " +
                                     kMinimumSpockVersion,
                                 std::string("Upgrade Spock on that node to ") + kMinimumSpockVersion + " or later."));
            continue;
        }
        if (!reference) reference = v;
        if (!same_major_minor(v, *reference)) {
            out.push_back(failed(check,
                                 "spock version mismatch: node \"" + all[i]->name + "\" runs " + text +
                                     ", another major.minor than node \"" + view.source.name + "\"",
                                 "All nodes must run the same Spock major.minor version."));
            continue;
        }
        out.push_back(pass(check));
    }
    return out;
}

namespace {

// Whether the node new_node_dsn reaches is this server's database.
CheckResult runs_on_new_node(Runtime &rt, ClusterView &view, const QueryResult &identity) {
    auto [sysid, db] = rt.local_identity();
    if (identity.text(0, "sysid") != sysid || identity.text(0, "db") != db)
        return failed("runs on the new node",
                      "spock.add_node must be called on the new node \"" + view.new_node.name +
                          "\", but new_node_dsn reaches another database",
                      "Connect to the database that new_node_dsn names and call the procedure there.");
    return pass("runs on the new node");
}

std::vector<std::string> text_array(const QueryResult &r, const std::string &column) {
    return parse_text_array(r.text(0, column, "{}"));
}

CheckResult subscriptions_enabled(const std::vector<std::string> &bad) {
    return bad.empty() ? pass("all subscriptions enabled")
                       : failed("all subscriptions enabled", "disabled subscription(s) in the cluster: " + join(bad),
                                "Enable them (spock.sub_enable) or repair the cluster before adding a node.");
}

}  // namespace

CheckResult check_runs_on_new_node(Runtime &rt, ClusterView &view) {
    return runs_on_new_node(rt, view, view.new_node.db().exec(sql::local_identity()));
}

std::vector<CheckResult> check_preconditions(Runtime &rt, ClusterView &view) {
    // Everything the checks below read, on every node at once, in one
    // statement each (sql::precondition_reads): across regions each
    // statement more on a node would cost the link's delay. Existing
    // nodes first, the new node last.
    // The replication connections' question travels meanwhile, on
    // sessions of their own; the WAL check's first sample is in the reads.
    std::vector<Member *> nodes = view.existing();
    nodes.push_back(&view.new_node);
    std::vector<std::pair<Connection *, Query>> asks;
    for (Member *m : nodes) asks.emplace_back(&m->db(), sql::precondition_reads(view.new_node.name, m == &view.new_node));
    std::vector<QueryResult> reads;
    int64_t read_at_ms = 0;
    std::vector<CheckResult> replication = check_replication_connections(rt, view, [&] {
        reads = rt.exec_all(asks);
        read_at_ms = rt.now_ms();
    });
    const QueryResult &src = reads.front(), &n = reads.back();
    std::vector<CheckResult> out;
    out.push_back(runs_on_new_node(rt, view, n));

    // The copy moves bytes as the source stores them, and the comparison
    // hashes them as each node stores them: one encoding on both ends.
    const std::string src_encoding = src.text(0, "encoding"), new_encoding = n.text(0, "encoding");
    out.push_back(src_encoding == new_encoding
                      ? pass("new node's encoding is the source's")
                      : failed("new node's encoding is the source's",
                               "new node \"" + view.new_node.name + "\" stores text as " + new_encoding +
                                   ", the source \"" + view.source.name + "\" as " + src_encoding,
                               "Create the new node's database with ENCODING '" + src_encoding +
                                   "' (and TEMPLATE template0), then add it."));

    std::vector<std::string> tables = text_array(n, "user_tables");
    out.push_back(tables.empty()
                      ? pass("no user tables on the new node")
                      : failed("no user tables on the new node",
                               "new node \"" + view.new_node.name + "\" already has user tables: " + join(tables),
                               "The new node must be empty: drop these tables (or use a fresh database)."));

    std::vector<std::string> src_roles = text_array(src, "login_roles");
    std::vector<std::string> new_roles = text_array(n, "roles");
    std::vector<std::string> missing;
    for (const std::string &role : src_roles)
        if (std::find(new_roles.begin(), new_roles.end(), role) == new_roles.end()) missing.push_back(role);
    out.push_back(missing.empty()
                      ? pass("login roles exist on the new node")
                      : failed("login roles exist on the new node",
                               "login role(s) of \"" + view.source.name + "\" missing on new node \"" + view.new_node.name +
                                   "\": " + join(missing),
                               "Create these roles on the new node, with the same attributes, before adding it."));

    std::vector<Member *> existing = view.existing();
    std::vector<std::string> disabled;
    for (size_t i = 0; i < existing.size(); ++i)
        for (const std::string &s : text_array(reads[i], "disabled_subs")) disabled.push_back(s + " on " + existing[i]->name);
    out.push_back(subscriptions_enabled(disabled));

    std::vector<std::string> cluster_names;
    for (const Member *m : existing) cluster_names.push_back(m->name);
    const std::optional<std::string> name_problem = new_node_name_problem(view.new_node.name, cluster_names);
    out.push_back(!name_problem ? pass("new node name follows Spock's rules")
                                : failed("new node name follows Spock's rules", *name_problem,
                                         "Choose another name for the new node."));

    // Spock derives a node's id from its name (hashtext & 65535); the source
    // computes it, and node_create would refuse a name whose id is taken.
    out.push_back(!src.at(0, "taken_name")
                      ? pass("new node id is free")
                      : failed("new node id is free",
                               "node name \"" + view.new_node.name + "\" has the node id " + src.text(0, "taken_id") +
                                   " of existing node \"" + src.text(0, "taken_name") +
                                   "\" (Spock derives ids from names)",
                               "Choose another name for the new node."));

    std::vector<std::string> where;
    for (size_t i = 0; i < existing.size(); ++i)
        if (reads[i].text(0, "known") != "0") where.push_back(existing[i]->name);
    out.push_back(where.empty() ? pass("new node name is free")
                                : failed("new node name is free",
                                         "node name \"" + view.new_node.name + "\" is already taken in the cluster (known on " +
                                             join(where) + ")",
                                         "Choose another name, or remove the old node with spock.remove_node."));

    const Value local = n.at(0, "local_node");
    const std::string subs = n.text(0, "subscriptions"), sets = n.text(0, "sets");
    if (local || subs != "0" || sets != "0")
        out.push_back(failed("new node has no Spock configuration",
                             "new node \"" + view.new_node.name + "\" already has Spock configuration (" +
                                 (!local ? std::string("no local node") : "local node \"" + *local + "\"") +
                                 ", " + subs + " subscription(s), " + sets + " replication set(s))",
                             "Remove it first (spock.remove_node on that node) or use a fresh database."));
    else
        out.push_back(pass("new node has no Spock configuration"));
    for (CheckResult &r : check_large_objects(view, reads)) out.push_back(std::move(r));
    // Last: what the join will use on every node, before anything changes.
    long long source_bytes = 0;
    for (CheckResult &r : check_headroom(rt, view, reads, &source_bytes)) out.push_back(std::move(r));
    view.source_database_bytes = source_bytes;
    for (CheckResult &r : replication) out.push_back(std::move(r));
    const std::vector<QueryResult> wal_sample(reads.begin(), reads.end() - 1);  // the existing nodes'
    for (CheckResult &r : check_wal_retention(rt, view, source_bytes, WalSample{wal_sample, read_at_ms}))
        out.push_back(std::move(r));
    return out;
}

std::vector<CheckResult> check_replication_connections(Runtime &rt, ClusterView &view,
                                                       const std::function<void()> &meanwhile) {
    // Who opens a replication connection to whom, with which DSN: the copy
    // point from this server to S; the new node's apply workers, on this
    // server, to S and every O with the DSNs the run knows them by; every
    // existing node's apply worker to N with new_node_dsn, from that node.
    // The last is tried from here: the DSN, its role and N's WAL senders
    // are what the node would meet, its own address in N's pg_hba.conf is
    // not (docs/add_node.md).
    struct Target {
        Member *node;
        std::string who;  // who opens it, for the message
    };
    std::vector<Target> targets{{&view.source, "the copy point (from " + view.new_node.name + ")"}};
    for (Member &o : view.others) targets.push_back({&o, "the subscription of " + view.new_node.name + " to it"});
    if (view.has_new_node()) targets.push_back({&view.new_node, "the other nodes' subscriptions to it"});
    auto refused = [&](const Target &t, const std::string &server_message) {
        const std::string user = t.node->dsn.value("user").value_or("the DSN's user");
        return failed(
            "replication connection to " + t.node->name,
            // The DSN last: the server's log filter (invoke.cpp) cuts an
            // error's message at the word password.
            "node \"" + t.node->name + "\" refuses a replication connection (replication=database), which " + t.who +
                " opens: " + server_message + " (DSN " + t.node->dsn.masked() + ")",
            "On \"" + t.node->name + "\", pg_hba.conf needs a line that lets user " + user + " reach database " +
                t.node->dbname() + " from the nodes that connect to it, e.g. \"host " + t.node->dbname() + " " + user +
                " <their address>/32 scram-sha-256\" (a logical replication connection is matched by its database, "
                "like any session: a line for the keyword replication alone does not admit it); the role needs "
                "the REPLICATION attribute (or SUPERUSER); max_wal_senders a free sender.");
    };
    // Taken from the run's spare sessions (opened with the others' first
    // ones); any not there are opened here, together. Then all asked to
    // identify the system at once: a walsender that accepted the
    // connection answers. The answers are read after `meanwhile`, which
    // runs while they travel.
    std::vector<std::pair<const Member *, SessionKind>> wanted;
    for (const Target &t : targets) wanted.emplace_back(t.node, SessionKind::Replication);
    std::vector<OpenedSession> opened = view.spare.take_each(rt, wanted);
    std::vector<CheckResult> out;
    std::vector<std::pair<Connection *, const Target *>> asked;
    for (size_t i = 0; i < targets.size(); ++i) {
        if (opened[i].failure) {
            try {
                std::rethrow_exception(opened[i].failure);
            } catch (const RemoteError &e) {
                out.push_back(refused(targets[i], e.server_message()));
                continue;
            }
        }
        try {
            opened[i].conn->send(Query{Stmt::IdentifySystem, "identify the system", "IDENTIFY_SYSTEM", {}, true});
        } catch (const RemoteError &e) {  // a spare lost since it was opened
            out.push_back(refused(targets[i], e.server_message()));
            continue;
        }
        asked.emplace_back(opened[i].conn.get(), &targets[i]);
    }
    if (meanwhile) meanwhile();
    for (const auto &[conn, target] : asked) {
        try {
            conn->receive();
            out.push_back(pass("replication connection to " + target->node->name));
        } catch (const RemoteError &e) {
            out.push_back(refused(*target, e.server_message()));
        }
    }
    return out;
}

CheckResult check_subscriptions_enabled(Runtime &rt, ClusterView &view) {
    std::vector<Member *> existing = view.existing();
    std::vector<QueryResult> disabled = on_each(rt, existing, sql::disabled_subscriptions());
    std::vector<std::string> bad;
    for (size_t i = 0; i < existing.size(); ++i)
        for (const std::string &s : column(disabled[i], "sub_name")) bad.push_back(s + " on " + existing[i]->name);
    return subscriptions_enabled(bad);
}

std::vector<CheckResult> check_joined(Runtime &rt, ClusterView &view) {
    std::vector<CheckResult> out;
    std::vector<Member *> all = view.existing();
    if (view.has_new_node()) all.push_back(&view.new_node);
    std::set<std::string> names;
    for (Member *m : all) names.insert(m->name);

    std::vector<QueryResult> statuses = on_each(rt, all, sql::subscription_status());
    for (size_t i = 0; i < all.size(); ++i) {
        std::set<std::string> providers;
        std::vector<std::string> unhealthy;
        for (size_t r = 0; r < statuses[i].size(); ++r) {
            providers.insert(statuses[i].text(r, "provider_node"));
            if (statuses[i].text(r, "status") != "replicating")
                unhealthy.push_back(statuses[i].text(r, "subscription_name") + " is " + statuses[i].text(r, "status"));
        }
        std::vector<std::string> missing;
        for (const std::string &p : names)
            if (p != all[i]->name && !providers.count(p)) missing.push_back(p);
        const std::string check = "subscriptions of " + all[i]->name;
        if (!unhealthy.empty())
            out.push_back(failed(check, "on node \"" + all[i]->name + "\": " + join(unhealthy),
                                 "See spock.sub_show_status() and the node's log."));
        else if (!missing.empty())
            out.push_back(failed(check, "node \"" + all[i]->name + "\" has no subscription from " + join(missing),
                                 "The mesh is incomplete; run spock.add_node again to finish the join."));
        else
            out.push_back(pass(check));
    }

    if (!view.has_new_node()) return out;
    std::vector<QueryResult> read = on_each(rt, {&view.source, &view.new_node}, sql::local_sets_all());
    std::vector<QueryResult> sets, tables;
    for (const QueryResult &r : read) {
        sets.push_back(sql::part_of(r, "sets", Stmt::LocalSets));
        tables.push_back(sql::part_of(r, "tables", Stmt::LocalSetTables));
    }
    bool same = sets[0].rows() == sets[1].rows() && tables[0].rows() == tables[1].rows();
    out.push_back(same ? pass("replication sets match the source")
                       : failed("replication sets match the source",
                                "replication sets of \"" + view.new_node.name + "\" differ from those of \"" +
                                    view.source.name + "\"",
                                "Compare spock.replication_set and spock.replication_set_table on both nodes."));
    out.push_back(check_tables_match(rt, view));
    return out;
}

CheckResult check_tables_match(Runtime &rt, ClusterView &view) {
    const std::string name = "tables match the source";
    std::vector<QueryResult> shapes = on_each(rt, {&view.source, &view.new_node}, sql::table_shapes());
    std::map<std::string, std::pair<std::string, std::string>> want, have;  // rel -> (cols, key)
    for (size_t i = 0; i < shapes[0].size(); ++i)
        want[shapes[0].text(i, "rel")] = {shapes[0].text(i, "cols"), shapes[0].text(i, "key")};
    for (size_t i = 0; i < shapes[1].size(); ++i)
        have[shapes[1].text(i, "rel")] = {shapes[1].text(i, "cols"), shapes[1].text(i, "key")};
    std::vector<std::string> problems;
    for (const auto &[rel, shape] : want) {
        auto h = have.find(rel);
        if (h == have.end()) problems.push_back(rel + " is not replicated on " + view.new_node.name);
        else if (h->second.first != shape.first)
            problems.push_back(rel + " has other columns (" + h->second.first + " on " + view.new_node.name + ", " +
                               shape.first + " on " + view.source.name + ")");
        else if (h->second.second != shape.second)
            problems.push_back(rel + " has another primary key on " + view.new_node.name);
    }
    for (const auto &[rel, shape] : have)
        if (!want.count(rel)) problems.push_back(rel + " is replicated on " + view.new_node.name + " only");

    // Then the rows: the comparison of verify_data (key-range hashes,
    // again after rounds of sync events while changes are in flight).
    if (problems.empty()) {
        try {
            std::vector<Member *> existing = view.existing();
            verify_against_source(rt, view.source, view.new_node, existing);
        } catch (const UserError &e) {
            problems.push_back(std::string(e.what()) + (e.detail().empty() ? "" : " " + e.detail()));
        }
    }
    if (problems.empty()) return pass(name);
    return failed(name, "tables of \"" + view.new_node.name + "\" differ from \"" + view.source.name + "\": " +
                            join(problems, "; "),
                  "Compare those tables on both nodes; spock.remove_node and a new add start the node afresh.");
}

std::vector<CheckResult> check_full_mesh(Runtime &rt, const std::vector<Member *> &members,
                                         std::vector<QueryResult> *statuses) {
    // The nodes each member knows and its subscriptions' status, in one read.
    return check_full_mesh(members, on_each(rt, members, sql::mesh_view()), statuses);
}

std::vector<CheckResult> check_full_mesh(const std::vector<Member *> &members, const std::vector<QueryResult> &read,
                                         std::vector<QueryResult> *statuses) {
    std::set<std::string> names;
    for (const Member *m : members) names.insert(m->name);
    std::vector<QueryResult> known, subs;
    for (const QueryResult &r : read) {
        known.push_back(sql::part_of(r, "nodes", Stmt::NodesWithDsn));
        subs.push_back(sql::part_of(r, "subscriptions", Stmt::SubscriptionStatus));
    }
    if (statuses) *statuses = subs;
    std::vector<CheckResult> out;
    for (size_t i = 0; i < members.size(); ++i) {
        const std::string me = members[i]->name, check = "mesh seen from " + me;
        std::vector<std::string> strangers, missing;
        for (const std::string &n : column(known[i], "node_name"))
            if (!names.count(n)) strangers.push_back(n);
        std::set<std::string> providers;
        for (const std::string &p : column(subs[i], "provider_node")) providers.insert(p);
        for (const std::string &n : names)
            if (n != me && !providers.count(n)) missing.push_back(n);
        if (!strangers.empty())
            out.push_back(failed(check, "node \"" + me + "\" knows node(s) " + join(strangers) +
                                            " that took no part in this join",
                                 "Another add or remove ran at the same time. Check that run, then run "
                                 "spock.health_check('post') and add the missing paths."));
        else if (!missing.empty())
            out.push_back(failed(check, "node \"" + me + "\" has no subscription from " + join(missing),
                                 "The mesh is incomplete; call spock.add_node again to finish the join."));
        else
            out.push_back(pass(check));
    }
    return out;
}

std::string why_not_complete_member(Runtime &rt, ClusterView &view) {
    const std::string &n = view.new_node.name;
    QueryResult local = view.new_node.db().exec(sql::local_node_name());
    if (local.empty() || local.text(0, "node_name") != n) return "it is no Spock node of that name";
    QueryResult listed = view.source.db().exec(sql::nodes_with_dsn());
    bool same_dsn = false;
    for (size_t i = 0; i < listed.size(); ++i)
        if (listed.text(i, "node_name") == n) {
            try {
                same_dsn = Dsn::parse(n, listed.text(i, "dsn"), "the DSN the source lists").masked() ==
                           view.new_node.dsn.masked();
            } catch (const UserError &) {
                same_dsn = false;
            }
        }
    if (!same_dsn) return "the source does not list it with new_node_dsn";
    std::vector<Member *> all = view.existing();
    all.push_back(&view.new_node);
    std::vector<QueryResult> statuses = on_each(rt, all, sql::subscription_status());
    for (size_t i = 0; i < all.size(); ++i) {
        std::set<std::string> from;  // providers of enabled subscriptions
        for (size_t r = 0; r < statuses[i].size(); ++r)
            if (statuses[i].text(r, "status") != "disabled") from.insert(statuses[i].text(r, "provider_node"));
        if (all[i] == &view.new_node) {
            for (const Member *x : view.existing())
                if (!from.count(x->name)) return "it has no enabled subscription from " + x->name;
        } else if (!from.count(n)) {
            return all[i]->name + " has no enabled subscription from it";
        }
    }
    std::optional<PriorRun> prior = Journal::latest(view.new_node.db(), "add_node", "");
    if (prior && (prior->unfinished() || prior->state == "running")) return "its add did not finish";
    return "";
}

void require_all(const std::vector<CheckResult> &results) {
    std::vector<const CheckResult *> failures;
    for (const CheckResult &r : results)
        if (!r.passed) failures.push_back(&r);
    if (failures.empty()) return;
    std::string detail;
    for (size_t i = 1; i < failures.size(); ++i) detail += (i > 1 ? "\n" : "") + std::string("also: ") + failures[i]->message;
    throw UserError(failures[0]->message, detail, failures[0]->hint);
}

}  // namespace zodan
