// Round trips to the nodes (docs/protocol.md, "Round trips"): how they are
// counted, and each add_node step's budget of them against the fake
// cluster. Across regions every sequential round trip costs the link's
// delay, so a change that adds one must show here, and raise a budget on
// purpose.
#include <catch2/catch.hpp>

#include <map>
#include <string>

#include "core/plan/add_node.hpp"
#include "core/statements/spock_sql.hpp"
#include "core/text/json.hpp"
#include "fake_cluster.hpp"

using fake::Cluster;
using zodan::Query;
using zodan::QueryResult;
using zodan::RoundTripCount;
using zodan::RoundTrips;
using zodan::Stmt;

namespace {

RoundTripCount counted_since(const RoundTripCount &before) { return RoundTrips::tally().count().since(before); }

long long of(const std::map<std::string, long long> &m, const std::string &key) {
    auto it = m.find(key);
    return it == m.end() ? 0 : it->second;
}

}  // namespace

TEST_CASE("statements in flight together are one sequential round trip", "[round_trips]") {
    Cluster c = Cluster::mesh(3, 4);
    const RoundTripCount start = RoundTrips::tally().count();
    auto a = c.connect("n1", Cluster::dsn_of("n1"));
    auto b = c.connect("n2", Cluster::dsn_of("n2"));
    auto a2 = c.connect("n1", Cluster::dsn_of("n1"));
    RoundTripCount got = counted_since(start);
    CHECK(got.sequential == 0);
    CHECK(of(got.connections, "n1") == 2);
    CHECK(of(got.connections, "n2") == 1);

    const Query q{Stmt::SpockVersion, "read the version", "SELECT 1", {}};
    // One after another: each waits for the one before.
    a->exec(q);
    b->exec(q);
    got = counted_since(start);
    CHECK(got.sequential == 2);
    CHECK(of(got.per_node, "n1") == 1);
    CHECK(of(got.per_node, "n2") == 1);

    // Together (as Runtime::exec_all sends them): one.
    c.exec_all({{a.get(), q}, {b.get(), q}, {a2.get(), q}});
    got = counted_since(start);
    CHECK(got.sequential == 3);
    CHECK(of(got.per_node, "n1") == 2);  // two sessions to n1 at once: one round trip to it
    CHECK(of(got.per_node, "n2") == 2);

    // A statement left running while others go one after another: those
    // are the chain; the long one overlaps them.
    a->send(q);
    b->exec(q);
    b->exec(q);
    a->receive();
    got = counted_since(start);
    CHECK(got.sequential == 5);
    CHECK(of(got.per_node, "n1") == 3);
    CHECK(of(got.per_node, "n2") == 4);

    // An abandoned statement's round trip ends with its cancel.
    a->send(q);
    a->abandon();
    b->exec(q);
    CHECK(counted_since(start).sequential == 7);
}

// The budget of each step of a 3-node add (n1..n3 existing, n4 new,
// through n1), in sequential round trips, and of the busiest node's share.
// What the steps need today; raise one only for a step that must cost more,
// and say why in the commit.
TEST_CASE("each add_node step stays within its budget of round trips", "[round_trips][add_node]") {
    const std::map<std::string, long long> budget = {
        {"check_versions", 1},
        // Everything the checks read, on every node at once, in one
        // statement each (sql::precondition_reads: settings and headroom,
        // the WAL the join will hold, large objects, roles, names, the new
        // node's emptiness), while a replication connection to each node
        // answers on its own session (cluster/checks.cpp).
        {"check_preconditions", 1},
        {"create_node", 2},
        // On N: every provider's subscription and slot name in one look.
        // On each O: its sets, its slot and the window's mark in one
        // statement (sql::local_sets_and_slot), with S's sets; the mark's
        // time with the slots' look for long transactions
        // (sql::window_mark_time), while sub_S_N is made on N's second
        // session; each slot with its sync event (sql::create_slot_then_sync_event);
        // S's progress.
        {"prepare_other_nodes", 6},
        // prepare_other_nodes's events, applied on S: S's progress read
        // once, where an earlier call made them (none here: below).
        {"sync_source", 1},
        // One of them: the structure dumped on the source (the function
        // made while the copy point is taken, then called:
        // copy/structure_dump.cpp), in place of pg_dump's
        // eighty-odd catalog queries across the link, which a program's
        // and so never counted here. Every source session of the copy
        // enters the snapshot in one round trip (the first ending the
        // transaction that listed the jobs in the same statement), and N's
        // side commits while S's side ends. The others' subscriptions on N,
        // in flight since prepare_other_nodes, cost it nothing, nor do the
        // sequences, read on the join window's session while the data
        // streams; spock.pause_timeout is read with the pause.
        {"copy_source", 38},
        {"advance_slots", 1},
        // S's and N's sets, tables and sequences in one read each
        // (sql::local_sets_all), at once; S's again at the end.
        {"mirror_replication_sets", 2},
        {"enable_other_subscriptions", 2},
        {"confirm_inbound", 4},
        // The tables with the key each is cut by in one read
        // (sql::verify_tables); 3rd: the source's key bounds
        // (compare/verify_data.cpp).
        {"verify_data", 3},
        // N's slots with one look for long transactions; then each X's
        // sub_create looks for an existing one itself and enables it in
        // the same statement (sql::sub_create_then_enable).
        {"create_reverse_subscriptions", 8},
        // N's sync event; its wait; then the wait for every subscription
        // replicating reads each node's nodes with the status
        // (sql::mesh_view), and the mesh check and the report use that read.
        {"confirm", 4},
    };
    // Outside the steps: discovery, the join lock, and the journal's writes
    // on N (two for each step: N's own, local across regions); the
    // source's own name and its list of nodes in one read (sql::source_view),
    // the list read again once locked, with the locks on the others
    // (join_lock.hpp). 36th: on N, whether it replayed the fence of a
    // physical run that died after its promotion (physical/window.cpp);
    // 37th: on N, whether it is a complete member already (a repeated add
    // changes nothing). The join slots' watch takes the WAL limits the
    // checks read (waits/wal_retention.hpp); Spock's version and whether
    // zodan's journal is there (for a dead fence) come with each node's
    // first read (sql::source_view, sql::member_view).
    const long long outside_steps_budget = 37;
    Cluster c = Cluster::mesh(3, 4);
    const RoundTripCount start = RoundTrips::tally().count();
    zodan::AddNode(c, Cluster::add_args("n1", "n4")).run();
    const RoundTripCount all = counted_since(start);

    const fake::JournalRun &run = c.nodes.at("n4").runs.at(0);
    long long sum = 0;
    std::map<std::string, long long> in_steps;  // per existing node
    for (const zodan::Step &step : zodan::add_node_plan()) {
        INFO("step " << step.name);
        auto s = run.steps.find(step.name);
        REQUIRE(s != run.steps.end());
        const zodan::JsonValue output = zodan::parse_json(s->second.output.str());
        const zodan::JsonValue *trips = output.get("round_trips");
        REQUIRE(trips != nullptr);
        const long long sequential = std::stoll(trips->text_of("sequential"));
        sum += sequential;
        std::string nodes;
        if (const zodan::JsonValue *per = trips->get("nodes"))
            for (const auto &[node, n] : per->members()) {
                nodes += " " + node + "=" + n.text();
                in_steps[node] += std::stoll(n.text());
            }
        WARN(step.name << ": " << sequential << " sequential round trips;" << nodes);
        // Spock's version on the existing nodes came with the first read of
        // each (sql::source_view, sql::member_view): only N's is read.
        if (step.name == std::string("check_versions")) CHECK(nodes == " n4=1");
        // A step of the plan without a budget is a step added: give it one.
        REQUIRE(budget.count(step.name) == 1);
        CHECK(sequential <= budget.at(step.name));
        // Every step talks to a node, none going uncounted; but sync_source
        // has nothing to read where step 3 saw S apply the events in the
        // same call (S's progress never goes back).
        if (step.name == std::string("sync_source"))
            CHECK(sequential == 0);
        else
            CHECK(sequential > 0);
        // Across a slow link a session costs several round trips before its
        // first statement: a step takes those it needs on the existing nodes
        // from the ones opened together at the start (spare_sessions.hpp).
        if (const zodan::JsonValue *opened = trips->get("connections"))
            for (const auto &[node, n] : opened->members()) {
                INFO("sessions opened to " << node);
                CHECK((node == "n4" || n.text() == "0"));
            }
    }
    // The steps' counts and those outside them make the run's.
    CHECK(sum <= all.sequential);
    WARN("in all: " << all.sequential << " sequential round trips, " << all.sequential - sum << " outside the steps");
    CHECK(all.sequential - sum <= outside_steps_budget);
    // Outside the steps on the existing nodes, across the link: on the
    // source its first read (its name, its list, Spock's version, whether
    // zodan's journal is there), the gate of the join lock, its list again
    // with the locks on the rest (join_lock.hpp); on the others their
    // first read and the lock.
    for (const std::string node : {"n1", "n2", "n3"}) {
        const long long outside = of(all.per_node, node) - in_steps[node];
        WARN("outside the steps on " << node << ": " << outside << " round trips");
        CHECK(outside <= (node == "n1" ? 3 : 2));
    }
    // Said at DEBUG1 for each step, and for the run.
    CHECK(c.debug_lines.size() == zodan::add_node_plan().size() + 2);
}

// Where the fake's defaults hide them: a comparison of several tables cut
// by their keys costs the same round trips as one table's (the tables'
// statements, their key bounds and their sums each one read for all:
// compare/verify_data.cpp), and a wait for replication positions that takes
// several rounds costs its rounds (waits/replication_waits.cpp).
TEST_CASE("many tables compared and waits of several rounds stay within their round trips", "[round_trips][add_node]") {
    const std::map<std::string, long long> budget = {
        // The list, the statements, the key bounds, the sums.
        {"verify_data", 4},
        // Each wait: three rounds here (the fake applies an event on
        // the third look), each one round trip, the positions read with
        // the status (sql::progress_and_status).
        {"confirm", 5},
        {"confirm_inbound", 6},
    };
    Cluster c = Cluster::mesh(3, 4);
    for (const char *t : {"public.a", "public.b", "public.c"}) c.nodes["n1"].data[t] = {{"1", "x"}, {"2", "y"}};
    c.verify_chunk_key = true;
    c.apply_after_polls = 3;
    zodan::AddNode(c, Cluster::add_args("n1", "n4")).run();
    const fake::JournalRun &run = c.nodes.at("n4").runs.at(0);
    for (const auto &[name, most] : budget) {
        INFO("step " << name);
        const zodan::JsonValue output = zodan::parse_json(run.steps.at(name).output.str());
        const long long sequential = std::stoll(output.get("round_trips")->text_of("sequential"));
        WARN(name << ": " << sequential << " sequential round trips");
        CHECK(sequential <= most);
    }
}

// A merged read (spock_sql.hpp) holds each part's own SQL, and split with
// part_of gives what the part's statement alone returns.
TEST_CASE("a merged read is its parts, each as it goes alone", "[round_trips]") {
    namespace sql = zodan::sql;
    auto holds = [](const Query &merged, const Query &part) { return merged.sql.find(part.sql) != std::string::npos; };
    CHECK(holds(sql::source_view(), sql::local_node_name()));
    CHECK(holds(sql::source_view(), sql::nodes_with_dsn()));
    CHECK(holds(sql::source_view(), sql::spock_version()));
    CHECK(holds(sql::member_view(), sql::local_node_name()));
    CHECK(holds(sql::member_view(), sql::spock_version()));
    CHECK(holds(sql::source_view(), sql::journal_here()));
    CHECK(holds(sql::member_view(), sql::journal_here()));
    for (const Query &part : {sql::local_identity(), sql::node_capacity(), sql::large_objects(), sql::database_encoding(),
                              sql::login_roles(), sql::roles(), sql::user_tables(), sql::disabled_subscriptions(),
                              sql::node_exists("n9"), sql::node_id_taken("n9"), sql::local_node_name(),
                              sql::subscription_count(), sql::replication_set_count()})
        CHECK(holds(sql::precondition_reads("n9", true), part));
    // $1 is the name both parts take as theirs.
    CHECK(sql::precondition_reads("n9", true).params.at(0) == sql::node_exists("n9").params.at(0));
    CHECK(sql::node_exists("n9").params == sql::node_id_taken("n9").params);
    for (const Query &part : {sql::local_sets(), sql::local_set_tables(), sql::local_set_sequences()})
        CHECK(holds(sql::local_sets_all(), part));
    CHECK(holds(sql::local_sets_and_slot("s"), sql::local_sets()));
    CHECK(holds(sql::local_sets_and_slot("s"), sql::slot_exists("s")));
    CHECK(holds(sql::mesh_view(), sql::nodes_with_dsn()));
    CHECK(holds(sql::mesh_view(), sql::subscription_status()));
    CHECK(holds(sql::progress_and_status({"n2"}), sql::applied_through({"n2"})));
    CHECK(holds(sql::progress_and_status({"n2"}), sql::subscription_status()));
    CHECK(sql::progress_and_status({"n2"}).params == sql::applied_through({"n2"}).params);

    Cluster c = Cluster::mesh(3, 4);
    zodan::AddNode(c, Cluster::add_args("n1", "n4")).run();
    c.nodes["n2"].subs.begin()->second.enabled = false;
    for (const std::string node : {"n1", "n2", "n4"}) {
        INFO("node " << node);
        auto same = [&](const Query &merged, const std::string &part, const Query &alone) {
            const QueryResult got = sql::part_of(c.answer(node, merged), part, alone.id), want = c.answer(node, alone);
            CHECK(got.rows() == want.rows());
            CHECK_FALSE(want.empty());  // else the comparison proves little
        };
        same(sql::source_view(), "local", sql::local_node_name());
        same(sql::source_view(), "nodes", sql::nodes_with_dsn());
        same(sql::local_sets_all(), "sets", sql::local_sets());
        same(sql::mesh_view(), "nodes", sql::nodes_with_dsn());
        same(sql::mesh_view(), "subscriptions", sql::subscription_status());
        same(sql::progress_and_status({"n1", "n2", "n3", "n4"}), "progress", sql::applied_through({"n1", "n2", "n3", "n4"}));
        same(sql::progress_and_status({"n1"}), "subscriptions", sql::subscription_status());
    }
}
