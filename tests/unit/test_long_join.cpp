// The checks a long join needs: replication connections before anything
// changes, the WAL the join will hold against max_slot_wal_keep_size, and
// the join's slots watched during the run.
#include <catch2/catch.hpp>

#include "core/compare/verify_data.hpp"
#include "core/copy/copy_progress.hpp"
#include "core/plan/add_node.hpp"
#include "core/waits/wal_retention.hpp"
#include "fake_cluster.hpp"

using namespace zodan;
using fake::Cluster;

namespace {

constexpr long long MB = 1024 * 1024;

std::string error_of(Cluster &c, const std::string &src, const std::string &new_node) {
    try {
        AddNode(c, Cluster::add_args(src, new_node)).run();
    } catch (const UserError &e) {
        return std::string(e.what()) + "\nHINT: " + e.hint() + "\nDETAIL: " + e.detail();
    } catch (const std::exception &e) {
        return e.what();
    }
    return "";
}

bool nothing_changed(const Cluster &c) { return c.calls_of({Stmt::NodeCreate, Stmt::CreateSlot, Stmt::CreateSlotThenSyncEvent}).empty(); }

}  // namespace

TEST_CASE("long join: a node refusing replication connections stops the add in its checks", "[long_join]") {
    Cluster c = Cluster::mesh(3, 4);
    c.nodes["n3"].refuses_replication = true;
    const std::string e = error_of(c, "n1", "n4");
    CHECK_THAT(e, Catch::Contains("node \"n3\" refuses a replication connection (replication=database), which the "
                                  "subscription of n4 to it opens"));
    CHECK_THAT(e, Catch::Contains("opens: FATAL:  must be superuser or replication role to start walsender (DSN host=n3 "));
    CHECK_THAT(e, Catch::Contains("On \"n3\", pg_hba.conf needs a line that lets user pgedge reach database inventory"));
    CHECK_THAT(e, Catch::Contains("password=********"));
    CHECK_THAT(e, !Catch::Contains("s3cret"));
    CHECK(nothing_changed(c));
}

TEST_CASE("long join: the new node refusing them names the other nodes' subscriptions", "[long_join]") {
    Cluster c = Cluster::mesh(3, 4);
    c.nodes["n4"].refuses_replication = true;
    CHECK_THAT(error_of(c, "n1", "n4"),
               Catch::Contains("node \"n4\" refuses a replication connection (replication=database), which the other "
                               "nodes' subscriptions to it open"));
    CHECK(nothing_changed(c));
}

TEST_CASE("long join: the estimate of the WAL the join holds", "[long_join]") {
    CHECK(expected_hold_seconds(0) == kJoinBaseSeconds);
    CHECK(expected_hold_seconds(100 * kAssumedJoinBytesPerSecond) == kJoinBaseSeconds + 100);
    WalRetentionFigures f{"n2", 1024 * MB, 1.0 * MB, 100};
    CHECK(judge_wal_retention(f).result.passed);  // 100 MB of 1 GB
    CHECK(judge_wal_retention(f).warning.empty());
    f.wal_bytes_per_second = 6.0 * MB;  // 600 MB: over half
    CHECK(judge_wal_retention(f).result.passed);
    CHECK_THAT(judge_wal_retention(f).warning, Catch::Contains("more than half of its max_slot_wal_keep_size = 1024MB"));
    f.wal_bytes_per_second = 11.0 * MB;  // 1.1 GB: over
    WalRetentionVerdict v = judge_wal_retention(f);
    CHECK_FALSE(v.result.passed);
    CHECK_THAT(v.result.message, Catch::Contains("node \"n2\" would keep about 1.1 GB of WAL"));
    CHECK_THAT(v.result.message, Catch::Contains("max_slot_wal_keep_size = 1024MB"));
    CHECK_THAT(v.result.hint, Catch::Contains("ALTER SYSTEM SET max_slot_wal_keep_size = '2200MB'"));
    f.keep_bytes = -1;  // no limit: nothing to judge
    CHECK(judge_wal_retention(f).result.passed);
    CHECK(judge_wal_retention(f).warning.empty());
}

TEST_CASE("long join: a node writing more than its limit allows for the join is refused before anything changes",
          "[long_join]") {
    Cluster c = Cluster::mesh(3, 4);
    c.nodes["n2"].wal_keep_bytes = 32 * MB;
    c.nodes["n2"].wal_per_read = 4 * MB;  // about 4 MB/s over the sample
    const std::string e = error_of(c, "n1", "n4");
    CHECK_THAT(e, Catch::Contains("node \"n2\" would keep about"));
    CHECK_THAT(e, Catch::Contains("max_slot_wal_keep_size = 32MB"));
    CHECK(nothing_changed(c));

    // The same limit on a quiet node: the join goes ahead.
    Cluster quiet = Cluster::mesh(3, 4);
    quiet.nodes["n2"].wal_keep_bytes = 32 * MB;
    CHECK_NOTHROW(AddNode(quiet, Cluster::add_args("n1", "n4")).run());
}

TEST_CASE("long join: the slot at risk", "[long_join]") {
    SlotState s{"n2", "spk_inventory_n2_sub_n2_n4", "reserved", 500 * MB, 1024 * MB};
    CHECK_FALSE(slot_at_risk(s));
    s.wal_status = "extended";
    CHECK_FALSE(slot_at_risk(s));
    s.safe_wal_size = 100 * MB;  // under a tenth of the limit
    REQUIRE(slot_at_risk(s));
    CHECK_THAT(slot_at_risk(s)->what(), Catch::Contains("replication slot spk_inventory_n2_sub_n2_n4 on node \"n2\" is "
                                                        "within 100 MB of max_slot_wal_keep_size = 1024MB"));
    s.wal_status = "unreserved";
    s.safe_wal_size = -5 * MB;
    CHECK_THAT(slot_at_risk(s)->what(), Catch::Contains("(wal_status unreserved): the next checkpoint there invalidates it"));
    CHECK_THAT(slot_at_risk(s)->hint(), Catch::Contains("call spock.add_node again: it resumes"));
    s.wal_status = "lost";
    s.safe_wal_size.reset();
    CHECK_THAT(slot_at_risk(s)->what(), Catch::Contains("has lost WAL the new node needs"));
    CHECK_THAT(slot_at_risk(s)->hint(), Catch::Contains("spock.remove_node"));
}

TEST_CASE("long join: a slot of the join past max_slot_wal_keep_size stops the run in its next wait", "[long_join]") {
    Cluster c = Cluster::mesh(3, 4);
    c.nodes["n2"].wal_keep_bytes = 32 * MB;
    c.nodes["n2"].slot_wal["spk_inventory_n2_sub_n2_n4"] = {"unreserved", -3 * MB};
    c.apply_after_polls = 3;  // the waits after the slot's making poll
    const std::string e = error_of(c, "n1", "n4");
    CHECK_THAT(e, Catch::Contains("replication slot spk_inventory_n2_sub_n2_n4 on node \"n2\" keeps more WAL for the new "
                                  "node than max_slot_wal_keep_size = 32MB allows (wal_status unreserved)"));
    // Looked at over a session of the watch's own, on n2 only (n3 has no limit).
    CHECK(c.calls_of({Stmt::JoinSlotsWal}).size() >= 1);
    for (const auto &call : c.calls_of({Stmt::JoinSlotsWal})) CHECK(call.node == "n2");

    // Without a limit anywhere nothing is looked at.
    Cluster free = Cluster::mesh(3, 4);
    free.apply_after_polls = 3;
    AddNode(free, Cluster::add_args("n1", "n4")).run();
    CHECK(free.calls_of({Stmt::JoinSlotsWal}).empty());
}

namespace {

// n4 joined n1..n3; then n1 and n4 both hold public.big, keys 1..10.
struct Compared {
    Cluster c = Cluster::mesh(3, 4);
    std::vector<zodan::Member> members;
    Compared() {
        AddNode(c, Cluster::add_args("n1", "n4")).run();
        for (const char *n : {"n1", "n4"})
            for (int k = 1; k <= 10; ++k) c.nodes[n].data["public.big"][std::to_string(k)] = "row " + std::to_string(k);
        c.verify_chunk_key = true;
        for (const char *n : {"n1", "n2", "n3", "n4"})
            members.push_back(zodan::connect_member(c, n, zodan::Dsn::parse(n, Cluster::dsn_of(n), "test")));
        c.calls.clear();
    }
    VerifyOutcome verify(long long chunk_rows, const VerifyProgress &on_progress = {}) {
        return verify_against_source(c, members[0], members[3], {&members[0], &members[1], &members[2]}, on_progress,
                                     chunk_rows);
    }
    std::string error(long long chunk_rows) {
        try {
            verify(chunk_rows);
        } catch (const UserError &e) {
            return e.what();
        }
        return "";
    }
};

}  // namespace

TEST_CASE("comparison: a large table is read by intervals of its key, no statement reading it whole", "[long_join][verify]") {
    Compared t;
    t.c.nodes["n1"].data["public.big"]["1"] = "row 1";  // the same on both
    // Its statistics say nothing: it is cut by its key all the same.
    t.c.nodes["n1"].stale_statistics = true;
    VerifyOutcome v = t.verify(3);
    // public.big in (-inf, 3], (3, 6], (6, 9], (9, +inf); public.items (3
    // rows) in (-inf, 3], then (3, +inf), found empty.
    CHECK(v.statements == 6);
    CHECK(v.rows == 13);
    CHECK(t.c.chunk_bounds_read == 6);
    for (const auto &call : t.c.calls_of({Stmt::VerifySums}))
        if (call.params.size() == 3) CHECK((call.params[1] || call.params[2]));  // every interval is bounded somewhere
    // A table without such a key is read whole; two read whole whose
    // statistics (stale) say nothing go in one statement.
    t.c.verify_chunk_key = false;
    t.c.chunk_bounds_read = 0;
    CHECK(t.verify(3).statements == 1);
    CHECK(t.c.chunk_bounds_read == 0);
}

TEST_CASE("comparison: by intervals it finds what the whole read found", "[long_join][verify]") {
    SECTION("a row differing in a middle interval, named; only that interval read key by key") {
        Compared t;
        t.c.nodes["n4"].data["public.big"]["5"] = "FIVE";
        CHECK_THAT(t.error(3), Catch::Contains("public.big: 1 row(s) differ (key 5 differs)"));
        for (const auto &call : t.c.calls_of({Stmt::VerifyRows})) {
            REQUIRE(call.params.size() == 3);
            CHECK(call.params[1] == Value("3"));
            CHECK(call.params[2] == Value("6"));
        }
    }
    SECTION("a row on the new node beyond the source's last key: the last interval is open above") {
        Compared t;
        t.c.nodes["n4"].data["public.big"]["11"] = "eleven";
        CHECK_THAT(t.error(3), Catch::Contains("key 11 only on n4"));
    }
    SECTION("a row below the source's first key: the first interval is open below") {
        Compared t;
        t.c.nodes["n4"].data["public.big"]["0"] = "zero";
        CHECK_THAT(t.error(3), Catch::Contains("key 0 only on n4"));
    }
    SECTION("a row missing on the new node at an interval's bound") {
        Compared t;
        t.c.nodes["n4"].data["public.big"].erase("6");
        CHECK_THAT(t.error(3), Catch::Contains("key 6 missing on n4"));
    }
}

TEST_CASE("comparison: progress every zodan.progress_interval", "[long_join][verify]") {
    Compared t;
    t.c.progress_ms = 1;  // every statement of the fake takes a millisecond or more
    std::vector<VerifySample> seen;
    t.verify(3, [&](const VerifySample &s) { seen.push_back(s); });
    REQUIRE_FALSE(seen.empty());
    CHECK(seen.back().tables_total == 2);
    CHECK(seen.back().rows_done == 13);
    CHECK(std::any_of(t.c.notices.begin(), t.c.notices.end(), [](const std::string &m) {
        return m.rfind("comparing n4 with n1: ", 0) == 0 && m.find(" tables, ") != std::string::npos;
    }));
    VerifySample half{1, 2, 500, 1000, -1};
    CHECK(seconds_left(half, 10000) == 10);
    half.seconds_left = 10;
    CHECK(describe_verify("n1", "n4", half) == "comparing n4 with n1: 1/2 tables, 500 of about 1000 rows, about 10 s left");
}

TEST_CASE("index builds: progress every zodan.progress_interval while pg_restore builds them", "[long_join]") {
    Cluster c = Cluster::mesh(3, 4);
    c.progress_ms = 100;
    AddNode(c, Cluster::add_args("n1", "n4")).run();
    CHECK(std::any_of(c.notices.begin(), c.notices.end(), [](const std::string &m) {
        return m.rfind("building indexes on n4: ", 0) == 0 &&
               m.find("now on public.items (building index: scanning table, 40% of blocks)") != std::string::npos;
    }));
    IndexSample s{3, 12, {"public.big (building index: scanning table, 40% of blocks)"}, 12};
    CHECK(describe_indexes("n4", s) ==
          "building indexes on n4: 3 of about 12 made, now on public.big (building index: scanning table, 40% of blocks); 12 s in");
    // Off with zodan.progress_interval = 0.
    Cluster quiet = Cluster::mesh(3, 4);
    AddNode(quiet, Cluster::add_args("n1", "n4")).run();
    CHECK(quiet.calls_of({Stmt::IndexBuilds}).empty());
}
