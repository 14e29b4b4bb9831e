#include "core/physical/physical.hpp"
#include "core/physical/physical_sql.hpp"
#include "core/cluster/headroom.hpp"
#include "core/cluster/names.hpp"
#include "core/statements/spock_sql.hpp"
#include "core/text/lsn.hpp"
#include "core/util.hpp"

namespace zodan::physical {

namespace {

// N's replay further behind S's WAL than this is refused: the add does
// not wait for a backlog (docs/physical.md, "Before you start").
constexpr long long kFarBehindBytes = 1024LL * 1024 * 1024;

CheckResult pass(const std::string &name) { return {name, true, "", ""}; }
CheckResult failed(const std::string &name, const std::string &message, const std::string &hint) {
    return {name, false, message, hint};
}

}  // namespace

CheckResult check_runs_on_standby(Runtime &rt, ClusterView &view) {
    // S and N share the system identifier (N is S's copy): the instance
    // is told by the postmaster's start, the database by its oid.
    QueryResult me = rt.read_local(stmt::instance_identity());
    std::vector<QueryResult> id =
        rt.exec_all(same_query({&view.source, &view.new_node}, stmt::instance_identity()));
    auto same = [](const QueryResult &a, const QueryResult &b) {
        return a.text(0, "sysid") == b.text(0, "sysid") && a.text(0, "started") == b.text(0, "started") &&
               a.text(0, "db") == b.text(0, "db");
    };
    const std::string name = "runs on the new node";
    if (same(me, id[1])) return pass(name);
    return failed(name,
                  "spock.add_node must be called on the new node \"" + view.new_node.name +
                      "\", but new_node_dsn reaches another server" + (same(id[1], id[0]) ? " (the source itself)" : ""),
                  "Point new_node_dsn at this standby's own port and database.");
}

std::vector<CheckResult> check_standby_of_source(AddRun &run) {
    Runtime &rt = run.rt;
    Member &s = run.source(), &n = run.new_node();
    const std::string &S = run.args.src_name, &N = run.args.new_name;
    std::vector<CheckResult> out;

    out.push_back(check_runs_on_standby(rt, run.view));
    QueryResult me = rt.read_local(stmt::instance_identity());
    QueryResult src = s.db().exec(stmt::instance_identity());

    const std::string primary = "the source is a primary";
    out.push_back(src.text(0, "in_recovery") == "false"
                      ? pass(primary)
                      : failed(primary, "src_dsn reaches a server in recovery, not the primary \"" + S + "\"",
                               "Point src_dsn at the source node itself."));

    const std::string copy = "the new node is a copy of the source";
    out.push_back(me.text(0, "sysid") == src.text(0, "sysid")
                      ? pass(copy)
                      : failed(copy,
                               "this standby is not a copy of the source \"" + S + "\": its system identifier is " +
                                   me.text(0, "sysid") + ", the source's " + src.text(0, "sysid"),
                               "Make the new node with pg_basebackup (or a backup) of \"" + S +
                                   "\", or add it logically from an empty primary."));

    QueryResult receiver = n.db().exec(stmt::wal_receiver());
    const std::string streams = "the new node streams from the source";
    out.push_back(receiver.text(0, "status") == "streaming"
                      ? pass(streams)
                      : failed(streams,
                               "this standby is not streaming WAL (its WAL receiver: " + receiver.text(0, "status") +
                                   ")",
                               "Check primary_conninfo and that \"" + S + "\" accepts its replication connection."));
    // A cascaded standby (N streams from another standby of S) is allowed:
    // the probe below proves it follows S's WAL, and the fence reaches it
    // as the rest of that WAL does. Only N's slot is then on its upstream,
    // not on S, and S's synchronous commits cannot wait for it.
    const std::string slot = receiver.text(0, "slot"), app = receiver.text(0, "app");
    const bool direct =
        receiver.text(0, "status") != "streaming" || s.db().exec(stmt::direct_standby(slot, app)).text(0, "direct") == "true";
    if (direct) {
        state_of(run).standby_slot = slot;
    } else {
        rt.report(Level::Notice,
                  "add_node: this standby streams from " + receiver.text(0, "sender") + ", not from " + S +
                      " itself (a cascaded standby)",
                  slot.empty() ? "The add proves it replays the WAL of " + S + "."
                               : "Its slot \"" + slot + "\" on that server is not the add's to drop: drop it there "
                                 "once the add is done.");
    }

    const std::string other_dbs = "no other database of the instance has a Spock node";
    QueryResult others = s.db().exec(stmt::other_spock_databases());
    std::vector<std::string> dbs;
    for (size_t i = 0; i < others.size(); ++i)
        dbs.push_back("\"" + others.text(i, "datname") + "\" (" + others.text(i, "workers") + ")");
    out.push_back(dbs.empty()
                      ? pass(other_dbs)
                      : failed(other_dbs,
                               "another database of the instance of \"" + S + "\" has a Spock node: " + join(dbs),
                               "A physical copy holds every database of the instance, and once promoted Spock "
                               "starts that node's workers with its slot names on its peers. Add this node "
                               "logically (zodan.copy_method = logical, from an empty primary), or move that "
                               "database to an instance of its own."));

    QueryResult replay = n.db().exec(stmt::replay_state());
    const std::string paused = "the new node's replay is not paused";
    out.push_back(replay.text(0, "pause_state") == "not paused"
                      ? pass(paused)
                      : failed(paused,
                               "this standby's replay is paused (pg_get_wal_replay_pause_state(): " +
                                   replay.text(0, "pause_state") + ")",
                               "Run SELECT pg_wal_replay_resume() on it, then call spock.add_node again."));
    const std::string delayed = "the new node replays without delay";
    const std::string delay = replay.text(0, "apply_delay_ms", "0");
    out.push_back(delay == "0" ? pass(delayed)
                               : failed(delayed,
                                        "this standby applies the source's commits " + delay +
                                            " ms late (recovery_min_apply_delay)",
                                        "The fence on \"" + S +
                                            "\" would hold at least that long. Set recovery_min_apply_delay = 0 on "
                                            "this standby (ALTER SYSTEM, then reload) and call spock.add_node again."));
    const std::string behind = "the new node's replay is close behind the source";
    const Lsn at_source = parse_lsn(src.text(0, "wal", "0/0")), replayed = parse_lsn(me.text(0, "wal", "0/0"));
    const long long lag = at_source > replayed ? static_cast<long long>(at_source - replayed) : 0;
    out.push_back(lag <= kFarBehindBytes
                      ? pass(behind)
                      : failed(behind,
                               "this standby's replay is " + std::to_string(lag / (1024 * 1024)) +
                                   " MB behind the WAL of \"" + S + "\" (more than " +
                                   std::to_string(kFarBehindBytes / (1024 * 1024)) + " MB)",
                               "Let it catch up (pg_stat_wal_receiver, pg_last_wal_replay_lsn()), then call "
                               "spock.add_node again."));

    const std::string zodan_there = "zodan is installed in the source's database";
    QueryResult version = s.db().exec(stmt::zodan_version());
    out.push_back(!version.empty()
                      ? pass(zodan_there)
                      : failed(zodan_there,
                               "zodan is not installed in the database of the source \"" + S + "\"",
                               "Run CREATE EXTENSION zodan there: the fence is recorded in its tables, and it "
                               "reaches this standby through the WAL."));

    const std::string filters = "the source's sets have no row filters or column lists";
    QueryResult filtered = s.db().exec(stmt::filtered_tables());
    std::vector<std::string> which;
    for (size_t i = 0; i < filtered.size(); ++i)
        which.push_back(filtered.text(i, "rel") + " in " + filtered.text(i, "set_name") + " (" +
                        (filtered.text(i, "row_filter") == "true" ? "row filter" : "column list") + ")");
    out.push_back(which.empty() ? pass(filters)
                                : failed(filters,
                                         "the replication sets of \"" + S + "\" filter rows or columns: " + join(which),
                                         "A physical copy holds every row and column of the source; add the node "
                                         "logically (zodan.copy_method = logical, from an empty primary)."));

    const std::string sync = "the new node is no synchronous standby of the source";
    QueryResult waits = direct ? s.db().exec(stmt::synchronous_standby(app)) : QueryResult();
    out.push_back(waits.empty()
                      ? pass(sync)
                      : failed(sync,
                               "\"" + S + "\" waits for this standby at commit (application_name \"" +
                                   receiver.text(0, "app") + "\", " + waits.text(0, "sync_state") + ")",
                               "Remove it from synchronous_standby_names on \"" + S +
                                   "\" first: once promoted it confirms nothing, and S's commits would wait."));

    out.push_back(check_subscriptions_enabled(rt, run.view));

    std::vector<Member *> existing = run.view.existing();
    std::vector<std::string> names;
    for (const Member *m : existing) names.push_back(m->name);
    const std::optional<std::string> name_problem = new_node_name_problem(N, names);
    out.push_back(!name_problem ? pass("new node name follows Spock's rules")
                                : failed("new node name follows Spock's rules", *name_problem,
                                         "Choose another name for the new node."));
    QueryResult collision = s.db().exec(sql::node_id_taken(N));
    out.push_back(collision.empty()
                      ? pass("new node id is free")
                      : failed("new node id is free",
                               "node name \"" + N + "\" has the node id " + collision.text(0, "node_id") +
                                   " of existing node \"" + collision.text(0, "node_name") +
                                   "\" (Spock derives ids from names)",
                               "Choose another name for the new node."));
    std::vector<QueryResult> known = rt.exec_all(same_query(existing, sql::node_exists(N)));
    std::vector<std::string> where;
    for (size_t i = 0; i < existing.size(); ++i)
        if (known[i].text(0, "n") != "0") where.push_back(existing[i]->name);
    out.push_back(where.empty() ? pass("new node name is free")
                                : failed("new node name is free",
                                         "node name \"" + N + "\" is already taken in the cluster (known on " +
                                             join(where) + ")",
                                         "Choose another name, or remove the old node with spock.remove_node."));
    long long source_bytes = 0;
    for (CheckResult &r : check_headroom(rt, run.view, &source_bytes)) out.push_back(std::move(r));
    run.view.source_database_bytes = source_bytes;
    return out;
}

void prove_replay(AddRun &run, Figures &figures) {
    Runtime &rt = run.rt;
    PhysicalState &ps = state_of(run);
    Connection &s = run.source().db(), &n = run.new_node().db();
    const int64_t started = rt.now_ms();
    s.exec(stmt::write_probe(run.args.src_name, run.args.new_name, ps.token));
    const int64_t deadline = started + rt.sync_timeout_ms();
    int64_t next_report = started + std::max(1000, rt.progress_interval_ms());
    std::string replayed;
    try {
        for (int delay = 2;; delay = std::min(delay * 2, 100)) {
            QueryResult seen = n.exec(stmt::probe_seen(ps.token));
            replayed = seen.text(0, "replayed");
            if (seen.text(0, "n") != "0") break;
            if (rt.now_ms() >= deadline)
                throw UserError("this standby did not replay a change of the source \"" + run.args.src_name +
                                    "\" within " + std::to_string(rt.sync_timeout_ms() / 1000) + " s",
                                "Replayed up to " + replayed +
                                    ". It is a copy of the source that does not follow it now, or far behind.",
                                "Check its replication from \"" + run.args.src_name +
                                    "\" (pg_stat_wal_receiver), let it catch up, then call spock.add_node again.");
            if (rt.now_ms() >= next_report) {
                rt.report(Level::Notice, "add_node: waiting for this standby to replay the source's WAL",
                          "replayed up to " + replayed);
                next_report = rt.now_ms() + std::max(1000, rt.progress_interval_ms());
            }
            rt.sleep_ms(delay);
        }
    } catch (...) {
        send_on_the_way_out(rt, s, stmt::drop_probe(ps.token));
        throw;
    }
    s.exec(stmt::drop_probe(ps.token));
    const int64_t took = rt.now_ms() - started;
    figures.add("replay_ms", static_cast<long long>(took));
    run.detail("this standby replays the WAL of " + run.args.src_name, "a change of it seen after " +
                                                                           std::to_string(took) + " ms");
}

}  // namespace zodan::physical
