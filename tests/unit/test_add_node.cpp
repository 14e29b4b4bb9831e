// The add-node step plan against the fake cluster: which statements go to
// which node, in which order, which of them run together, and what a
// failure leaves behind.
#include <algorithm>
#include <catch2/catch.hpp>

#include "core/plan/add_node.hpp"
#include "core/cluster/checks.hpp"
#include "core/copy/join_window.hpp"
#include "core/cluster/member.hpp"
#include "core/waits/replication_waits.hpp"
#include "core/statements/spock_sql.hpp"
#include "core/util.hpp"
#include "core/text/lsn.hpp"
#include "core/text/text_array.hpp"
#include "fake_cluster.hpp"

using fake::Call;
using fake::Cluster;
using fake::Sub;
using zodan::Stmt;

namespace {


std::vector<std::string> nodes_of(const std::vector<Call> &calls) {
    std::vector<std::string> out;
    for (const Call &c : calls) out.push_back(c.node);
    std::sort(out.begin(), out.end());
    return out;
}

bool same_batch(const std::vector<Call> &calls) {
    if (calls.size() < 2) return false;
    return std::all_of(calls.begin(), calls.end(), [&](const Call &c) { return c.batch == calls[0].batch; });
}

// Index of the first call of statement `id` on `node` (whose first
// parameter is `param`, when one is given).
size_t position(const Cluster &c, const std::string &node, Stmt id, const std::string &param = "") {
    for (size_t i = 0; i < c.calls.size(); ++i)
        if (c.calls[i].node == node && c.calls[i].id == id &&
            (param.empty() || (!c.calls[i].params.empty() && c.calls[i].params[0] == param)))
            return i;
    FAIL("no call " << zodan::stmt_name(id) << " " << param << " on " << node);
    return 0;
}

// Those of `calls` whose first parameter is `param`.
std::vector<Call> with_param(const std::vector<Call> &calls, const std::string &param) {
    std::vector<Call> out;
    for (const Call &c : calls)
        if (!c.params.empty() && c.params[0] == param) out.push_back(c);
    return out;
}

}  // namespace

// Slot creations on the nodes other than S and N (not the copy point's on
// S, not those on N serving the paths out of it).
std::vector<Call> peer_slots(const Cluster &c) {
    std::vector<Call> out;
    for (const Call &call : c.calls_of({Stmt::CreateSlot, Stmt::CreateSlotThenSyncEvent}))
        if (call.node != c.local_node) out.push_back(call);
    return out;
}

// A subscription made: by sub_create or as one of the disabled ones of
// sub_create_disabled.
struct Made {
    std::string node, sub;
    bool enabled, copies;
    int batch;
    size_t call;  // index in the cluster's calls
};

std::vector<Made> subscriptions_made(const Cluster &c) {
    std::vector<Made> out;
    for (size_t i = 0; i < c.calls.size(); ++i) {
        const Call &call = c.calls[i];
        if (call.id == Stmt::SubCreateDisabled) {
            for (const std::string &sub : zodan::parse_text_array(*call.params[0]))
                out.push_back({call.node, sub, false, false, call.batch, i});
        } else if (call.id == Stmt::SubCreate || call.id == Stmt::SubCreateIfAbsent || call.id == Stmt::SubCreateThenEnable) {
            out.push_back({call.node, *call.params[0], *call.params[5] == "true", *call.params[4] == "true", call.batch, i});
        }
    }
    return out;
}

std::vector<Made> made_on(const std::vector<Made> &made, const std::string &node, bool on = true) {
    std::vector<Made> out;
    for (const Made &m : made)
        if ((m.node == node) == on) out.push_back(m);
    return out;
}

size_t made_at(const std::vector<Made> &made, const std::string &node, const std::string &sub) {
    for (const Made &m : made)
        if (m.node == node && m.sub == sub) return m.call;
    FAIL("no subscription " << sub << " made on " << node);
    return 0;
}

std::vector<Call> calls_on(const std::vector<Call> &calls, const std::string &node) {
    std::vector<Call> out;
    for (const Call &c : calls)
        if (c.node == node) out.push_back(c);
    return out;
}

TEST_CASE("multi-node join follows the protocol", "[add_node]") {
    Cluster c = Cluster::mesh(3, 4);
    zodan::AddNode(c, Cluster::add_args("n1", "n4")).run();

    // One line per step of the plan, in its order, each naming its step as
    // the plan does, and none saying it had nothing to do.
    size_t at = 0;
    for (const zodan::Step &step : zodan::add_node_plan()) {
        auto line = std::find_if(c.notices.begin() + static_cast<long>(at), c.notices.end(),
                                 [&](const std::string &n) { return n.find(step.title) != std::string::npos; });
        REQUIRE(line != c.notices.end());
        CHECK(line->find("nothing to do") == std::string::npos);
        at = static_cast<size_t>(line - c.notices.begin()) + 1;
    }

    // The join lock: first on the lowest-named member alone (two runs started
    // at once meet there, and one wins), then on the others and the new
    // node at once.
    auto locks = c.calls_of({Stmt::JoinLockTake});
    CHECK(nodes_of(locks) == std::vector<std::string>{"n1", "n2", "n3", "n4"});
    REQUIRE(locks.size() == 4);
    CHECK(locks[0].batch != locks[1].batch);
    CHECK(same_batch(std::vector<Call>(locks.begin() + 1, locks.end())));

    // Slots on the other nodes, made together; the copy's own slot on S.
    auto slots = peer_slots(c);
    CHECK(nodes_of(slots) == std::vector<std::string>{"n2", "n3"});
    CHECK(same_batch(slots));
    CHECK(c.nodes["n2"].slots.count("spk_inventory_n2_sub_n2_n4") == 1);
    CHECK(c.nodes["n1"].slots.count("spk_inventory_n1_sub_n1_n4") == 1);

    // Every subscription into N is made disabled: none copies.
    auto made = subscriptions_made(c);
    std::vector<std::string> on_new;
    for (const Made &m : made_on(made, "n4")) on_new.push_back(m.sub + (m.enabled || m.copies ? "+" : "-"));
    std::sort(on_new.begin(), on_new.end());
    CHECK(on_new == std::vector<std::string>{"sub_n1_n4-", "sub_n2_n4-", "sub_n3_n4-"});

    // The copy point comes after S caught up with the others (with the
    // apply workers paused around it), the data after it, the slot advance
    // after the data, the enabling after the advance, the reverse paths last.
    CHECK(position(c, "n2", Stmt::CreateSlotThenSyncEvent) < position(c, "n1", Stmt::PauseApplyWorkers));
    CHECK(position(c, "n1", Stmt::PauseApplyWorkers) < position(c, "n1", Stmt::CreateSlotExportingSnapshot));
    CHECK(position(c, "n1", Stmt::CreateSlotExportingSnapshot) < position(c, "n1", Stmt::ResumeApplyWorkers));
    // The structure dumped on the source (test_structure_dump.cpp): no pg_dump here.
    CHECK(c.programs == std::vector<std::string>{"pg_restore", "pg_restore"});
    CHECK(position(c, "n1", Stmt::ResumeApplyWorkers) < position(c, "n4", Stmt::CopyIn));
    CHECK(position(c, "n4", Stmt::CopyIn) < position(c, "n2", Stmt::AdvanceSlot));
    CHECK(position(c, "n2", Stmt::AdvanceSlot) < position(c, "n4", Stmt::EnableDisabled));
    // The source's subscription on N comes before anything is made
    // elsewhere (N's catalog then knows the source, which knows every
    // member); the others' are sent once it is made, in one statement on
    // N's second session, in flight with the slots on the others, the
    // source's sync and the copy. No existing node learns of N before the
    // paths out of it are made, last.
    CHECK(made_at(made, "n4", "sub_n1_n4") < position(c, "n2", Stmt::CreateSlotThenSyncEvent));
    std::vector<Call> during_copy;
    for (const Call &call : calls_on(c.calls_of({Stmt::SubCreateDisabled}), "n4"))
        if (*call.params[0] != "{sub_n1_n4}") during_copy.push_back(call);
    REQUIRE(during_copy.size() == 1);
    CHECK(zodan::parse_text_array(*during_copy[0].params[0]) == std::vector<std::string>{"sub_n2_n4", "sub_n3_n4"});
    CHECK(during_copy[0].batch == c.calls[position(c, "n2", Stmt::CreateSlotThenSyncEvent)].batch);
    CHECK(during_copy[0].batch == c.calls[position(c, "n1", Stmt::CreateSlotExportingSnapshot)].batch);
    CHECK(during_copy[0].batch != c.calls[made_at(made, "n4", "sub_n1_n4")].batch);
    CHECK(position(c, "n2", Stmt::CreateSlotThenSyncEvent) < made_at(made, "n4", "sub_n2_n4"));
    CHECK(position(c, "n4", Stmt::EnableDisabled) < made_at(made, "n1", "sub_n4_n1"));
    for (const char *sub : {"sub_n1_n4", "sub_n2_n4", "sub_n3_n4"}) CHECK(c.nodes["n4"].subs.at(sub).enabled);

    // Slot and origin are advanced to exactly what the copy holds of that
    // origin (what S had applied at the copy point); S's own stream starts
    // at the copy point's slot.
    auto advance = c.calls_of({Stmt::AdvanceSlot});
    REQUIRE(advance.size() == 2);
    CHECK(same_batch(advance));
    for (const Call &a : advance) {
        zodan::Lsn p = c.nodes["n4"].copied.at(a.node);
        CHECK(*a.params[1] == zodan::format_lsn(p));
        CHECK(c.nodes["n4"].origins.at(*a.params[0]) == p);
    }
    CHECK(c.nodes["n4"].origins.at("spk_inventory_n1_sub_n1_n4") == c.nodes["n1"].slots.at("spk_inventory_n1_sub_n1_n4"));

    // The new node's paths out: their slots made on N first, one after
    // another on one session, then on every existing node at once each
    // made (disabled, as Spock then leaves the slot to us) and enabled in
    // one statement.
    std::vector<Call> reverse;
    for (const Made &m : made_on(made, "n4", false)) {
        reverse.push_back(c.calls[m.call]);
        CHECK(c.calls[m.call].id == Stmt::SubCreateThenEnable);
        CHECK(!m.enabled);
    }
    CHECK(nodes_of(reverse) == std::vector<std::string>{"n1", "n2", "n3"});
    CHECK(same_batch(reverse));
    auto out_slots = calls_on(c.calls_of({Stmt::CreateSlot}), "n4");
    REQUIRE(out_slots.size() == 3);
    CHECK(c.nodes["n4"].slots.count("spk_inventory_n4_sub_n4_n2") == 1);
    for (const char *slot : {"spk_inventory_n4_sub_n4_n1", "spk_inventory_n4_sub_n4_n2", "spk_inventory_n4_sub_n4_n3"})
        CHECK(position(c, "n4", Stmt::CreateSlot, slot) < made_at(made, "n1", "sub_n4_n1"));
    CHECK(c.calls_of({Stmt::EnableDisabled}).size() == 1);  // only N's paths in
    for (const char *x : {"n1", "n2", "n3"}) CHECK(c.nodes[x].subs.at(std::string("sub_n4_") + x).enabled);

    // The data compared, table by table, on S and N at once.
    auto sums = c.calls_of({Stmt::VerifySums});
    CHECK(nodes_of(sums) == std::vector<std::string>{"n1", "n4"});
    CHECK(same_batch(sums));
    CHECK(std::find_if(c.notices.begin(), c.notices.end(), [](const std::string &n) {
              return n.find("node n4 joined through n1: 4 nodes, 12 subscriptions replicating") != std::string::npos;
          }) != c.notices.end());
}

TEST_CASE("a caller who is not a superuser may not have add_node use the stored DSNs", "[add_node][security]") {
    Cluster c = Cluster::mesh(3, 4);
    c.superuser = false;
    CHECK_THROWS_AS(zodan::AddNode(c, Cluster::add_args("n1", "n4")).run(), zodan::PermissionDenied);
    CHECK_THROWS_WITH(zodan::AddNode(c, Cluster::add_args("n1", "n4")).run(),
                      Catch::Contains("this call would reach node(s) n2, n3 with the DSNs stored in "
                                      "spock.node_interface, which only a superuser may have the server use"));
    CHECK(c.calls_of({Stmt::JoinLockTake}).empty());
    CHECK_FALSE(c.nodes["n4"].registered);
    // A cluster of one node lists no other member: the caller's own DSNs suffice.
    Cluster single = Cluster::mesh(1, 2);
    single.superuser = false;
    zodan::AddNode(single, Cluster::add_args("n1", "n2")).run();
    CHECK(single.nodes["n2"].registered);
}

TEST_CASE("two-node join has no other nodes to prepare", "[add_node]") {
    Cluster c = Cluster::mesh(1, 2);
    zodan::AddNode(c, Cluster::add_args("n1", "n2")).run();
    CHECK(peer_slots(c).empty());
    CHECK(c.calls_of({Stmt::AdvanceSlot}).empty());
    auto subs = subscriptions_made(c);
    REQUIRE(subs.size() == 2);
    CHECK(subs[0].node == "n2");
    CHECK(subs[0].sub == "sub_n1_n2");
    CHECK(subs[1].node == "n1");
    CHECK(subs[1].sub == "sub_n2_n1");
    CHECK(c.nodes["n2"].subs.at("sub_n1_n2").enabled);
    CHECK(c.nodes["n1"].subs.count("sub_n2_n1") == 1);
}

TEST_CASE("a copy point whose positions moved is taken again", "[add_node][copy_point]") {
    Cluster c = Cluster::mesh(3, 4);
    c.moving_attempts = 2;  // S applied more while the first two slots were made
    zodan::AddNode(c, Cluster::add_args("n1", "n4")).run();
    CHECK(c.copy_point_attempts == 3);
    CHECK(with_param(c.calls_of({Stmt::DropSlot}), "spk_inventory_n1_sub_n1_n4").size() == 2);
    CHECK(std::count(c.notices.begin(), c.notices.end(), "add_node: taking the copy point on n1 again (attempt 2)") == 1);
    // The positions used are those of the attempt that held: what the copy holds.
    for (const Call &a : c.calls_of({Stmt::AdvanceSlot}))
        CHECK(*a.params[1] == zodan::format_lsn(c.nodes["n4"].copied.at(a.node)));
}

TEST_CASE("a second join in the cluster is refused, naming the one that runs", "[add_node][lock]") {
    Cluster c = Cluster::mesh(3, 4);
    c.nodes["n2"].join_lock = true;  // another run holds it there
    CHECK_THROWS_WITH(zodan::AddNode(c, Cluster::add_args("n1", "n4")).run(),
                      Catch::Contains("zodan: add_node n9 holds the join lock on node \"n2\" (process 999)"));
    CHECK(c.calls_of({Stmt::NodeCreate}).empty());
    CHECK(c.calls_of({Stmt::JournalBegin}).empty());
    // What it got elsewhere it let go again.
    CHECK_FALSE(c.nodes["n1"].join_lock);
    CHECK_FALSE(c.nodes["n4"].join_lock);
}

TEST_CASE("a difference left after the join is found and named", "[add_node][verify]") {
    Cluster c = Cluster::mesh(3, 4);
    c.fail_at = "verify_data";
    CHECK_THROWS(zodan::AddNode(c, Cluster::add_args("n1", "n4")).run());
    c.nodes["n4"].data["public.items"]["2"] = "TWO";  // changed on n4 alone
    c.nodes["n4"].data["public.items"].erase("3");
    c.fail_at.clear();
    CHECK_THROWS_WITH(zodan::AddNode(c, Cluster::add_args("n1", "n4")).run(),
                      Catch::Contains("node \"n4\" differs from the source \"n1\": public.items: 2 row(s) differ "
                                      "(key 2 differs; key 3 missing on n4)"));
    // It looked again after a round of sync events before calling it a divergence.
    CHECK(c.calls_of({Stmt::VerifyRows}).size() == 4);
}

TEST_CASE("a row written throughout the comparison is named, not called a divergence", "[add_node][verify]") {
    Cluster c = Cluster::mesh(3, 4);
    c.fail_at = "verify_data";
    CHECK_THROWS(zodan::AddNode(c, Cluster::add_args("n1", "n4")).run());
    c.hot_rows[{"n1", "public.items"}] = "2";  // moves on the source before every read
    c.fail_at.clear();
    zodan::AddNode(c, Cluster::add_args("n1", "n4")).run();
    CHECK(std::any_of(c.notices.begin(), c.notices.end(), [](const std::string &m) {
        return m.find("rows of node \"n4\" still changing after 5 rounds were not compared") != std::string::npos;
    }));
    // Read once, then again after each of the five rounds.
    CHECK(c.calls_of({Stmt::VerifyRows}).size() == 12);
}

TEST_CASE("a run is not resumed into a cluster whose membership changed", "[add_node][resume]") {
    Cluster c = Cluster::mesh(3, 5);
    c.local_node = "n5";
    c.fail_at = "copy_source:after";
    CHECK_THROWS(zodan::AddNode(c, Cluster::add_args("n1", "n5")).run());
    // n4 joins meanwhile (by hand here): every member knows it.
    for (int i = 1; i <= 3; ++i) c.nodes["n" + std::to_string(i)].known["n4"] = Cluster::dsn_of("n4");
    c.nodes["n4"].registered = true;
    c.nodes["n4"].known = c.nodes["n1"].known;
    c.fail_at.clear();
    CHECK_THROWS_WITH(zodan::AddNode(c, Cluster::add_args("n1", "n5")).run(),
                      Catch::Contains("the cluster changed since this run of spock.add_node began"));
}

TEST_CASE("work on the other nodes runs concurrently however many there are", "[add_node]") {
    // The number of sequential rounds that touch the other nodes must not grow
    // with their number: everything sent to them goes out in shared batches.
    auto rounds_on_others = [](int existing) {
        Cluster c = Cluster::mesh(existing, existing + 1);
        zodan::AddNode(c, Cluster::add_args("n1", "n" + std::to_string(existing + 1))).run();
        std::map<int, int> size;  // batch -> calls to the other nodes in it
        for (const Call &call : c.calls) {
            if (call.node == "n1" || call.node == c.local_node || call.node == "program") continue;
            ++size[call.batch];
        }
        int alone = 0;
        for (const auto &[batch, n] : size) alone += n == 1 ? 1 : 0;
        return std::make_pair(size.size(), alone);
    };
    auto three = rounds_on_others(3);
    auto six = rounds_on_others(6);
    CHECK(six.first == three.first);
    CHECK(three.second == 0);
    CHECK(six.second == 0);
}

TEST_CASE("a failing remote call stops the run and names the node", "[add_node]") {
    Cluster c = Cluster::mesh(3, 4);
    c.failures[{"n3", Stmt::CreateSlotThenSyncEvent}] = "too many replication slots";
    try {
        zodan::AddNode(c, Cluster::add_args("n1", "n4")).run();
        FAIL("add_node should have failed");
    } catch (const zodan::RemoteError &e) {
        CHECK(e.node() == "n3");
        CHECK(std::string(e.what()).find("too many replication slots") != std::string::npos);
    }
    // Nothing after the failing step ran: no copy, no sync event.
    CHECK(c.calls_of({Stmt::PauseApplyWorkers}).empty());
    CHECK(c.calls_of({Stmt::SyncEvent}).empty());
    // The journal recorded the failure of the step and of the run.
    bool step_failed = false, run_failed = false;
    for (const Call &call : c.calls) {
        if (call.id == Stmt::JournalStepFailed && *call.params[1] == "prepare_other_nodes") step_failed = true;
        if (call.id == Stmt::JournalFinish && *call.params[1] == "failed") run_failed = true;
    }
    CHECK(step_failed);
    CHECK(run_failed);
}

TEST_CASE("a run begun with Spock's own sync is not resumed: it is rolled back", "[add_node][resume]") {
    Cluster c = Cluster::mesh(3, 4);
    c.fail_at = "copy_source";
    CHECK_THROWS(zodan::AddNode(c, Cluster::add_args("n1", "n4")).run());
    // As zodan 0.2.0 recorded a run with zodan.copy_method = spock.
    c.nodes["n4"].runs.back().steps["check_versions"].output.merge(zodan::JsonObject().add("copy_method", "spock"));
    c.fail_at.clear();
    auto changes = [&] {
        return c.calls_of({Stmt::NodeCreate, Stmt::CreateSlot, Stmt::CreateSlotThenSyncEvent, Stmt::SubCreate, Stmt::SubCreateIfAbsent, Stmt::SubCreateThenEnable, Stmt::SubCreateDisabled,
                           Stmt::CreateSlotExportingSnapshot, Stmt::JournalTakeOver})
            .size();
    };
    const size_t changed = changes();
    CHECK_THROWS_WITH(zodan::AddNode(c, Cluster::add_args("n1", "n4")).run(),
                      Catch::Contains("copied with Spock's own sync") && Catch::Contains("no longer has"));
    CHECK(changes() == changed);
}

// The add is refused with `message`, and nothing changed anywhere: no node,
// slot or subscription was created.
void refused_without_change(Cluster &c, const std::string &message) {
    CHECK_THROWS_WITH(zodan::AddNode(c, Cluster::add_args("n1", "n4")).run(), Catch::Contains(message));
    CHECK(c.calls_of({Stmt::NodeCreate}).empty());
    CHECK(c.calls_of({Stmt::CreateSlot, Stmt::CreateSlotExportingSnapshot}).empty());
    CHECK(c.calls_of({Stmt::SubCreate, Stmt::SubCreateIfAbsent, Stmt::SubCreateThenEnable, Stmt::SubCreateDisabled}).empty());
    CHECK(c.calls_of({Stmt::PauseApplyWorkers}).empty());
}

TEST_CASE("preconditions fail with their own errors", "[add_node][checks]") {
    SECTION("called on another node") {
        Cluster c = Cluster::mesh(3, 4);
        c.local_node = "n2";
        CHECK_THROWS_WITH(zodan::AddNode(c, Cluster::add_args("n1", "n4")).run(),
                          Catch::Contains("must be called on the new node \"n4\""));
    }
    SECTION("DSN without dbname") {
        Cluster c = Cluster::mesh(3, 4);
        auto a = Cluster::add_args("n1", "n4");
        a.new_dsn = "host=n4 user=pgedge password=s3cret";
        try {
            zodan::AddNode(c, a).run();
            FAIL("should fail");
        } catch (const zodan::UserError &e) {
            CHECK(std::string(e.what()).find("names no dbname") != std::string::npos);
            CHECK(e.detail().find("s3cret") == std::string::npos);
        }
    }
    SECTION("name taken") {
        Cluster c = Cluster::mesh(3, 4);
        c.nodes["n2"].known["n4"] = Cluster::dsn_of("n4");
        refused_without_change(c, "already taken");
    }
    SECTION("user tables on the new node") {
        Cluster c = Cluster::mesh(3, 4);
        c.nodes["n4"].user_tables = {"public.t"};
        refused_without_change(c, "public.t");
    }
    SECTION("node id taken") {
        Cluster c = Cluster::mesh(3, 4);
        c.n_id_collisions["n4"] = "n2";  // the source says n4's id is n2's
        refused_without_change(c, "has the node id 4242 of existing node \"n2\"");
    }
    SECTION("login role missing") {
        Cluster c = Cluster::mesh(3, 4);
        c.nodes["n1"].roles.push_back("alice");
        refused_without_change(c, "alice");
    }
    SECTION("version mismatch") {
        Cluster c = Cluster::mesh(3, 4);
        c.nodes["n3"].version = "5.1.0";
        refused_without_change(c, "version mismatch");
    }
    SECTION("version too old") {
        Cluster c = Cluster::mesh(3, 4);
        c.nodes["n4"].version = "5.0.8";
        refused_without_change(c, "older than 5.0.9");
    }
    SECTION("disabled subscription") {
        Cluster c = Cluster::mesh(3, 4);
        c.nodes["n2"].subs["sub_n3_n2"].enabled = false;
        refused_without_change(c, "sub_n3_n2 on n2");
    }
    SECTION("another encoding on the new node") {
        Cluster c = Cluster::mesh(3, 4);
        c.nodes["n4"].encoding = "LATIN1";
        refused_without_change(c, "new node \"n4\" stores text as LATIN1, the source \"n1\" as UTF8");
    }
}

TEST_CASE("replication that lags is waited for", "[add_node][waits]") {
    Cluster c = Cluster::mesh(3, 4);
    c.apply_after_polls = 5;  // every sync event shows up only on the fifth look
    zodan::AddNode(c, Cluster::add_args("n1", "n4")).run();
    CHECK(c.progress_reads >= 5);
    CHECK(c.nodes["n4"].subs.size() == 3);
    CHECK(c.nodes["n1"].subs.count("sub_n4_n1") == 1);
}

TEST_CASE("a wait for a lagging sync event returns only once the event is applied", "[waits]") {
    Cluster c = Cluster::mesh(3, 3);
    c.local_node = "n1";
    zodan::Member n2 = zodan::connect_member(c, "n2", zodan::Dsn::parse("n2", Cluster::dsn_of("n2"), "test"));
    zodan::Member n3 = zodan::connect_member(c, "n3", zodan::Dsn::parse("n3", Cluster::dsn_of("n3"), "test"));
    c.apply_after_polls = 5;  // n3 applies n2's event on the fifth look
    const zodan::Lsn event = zodan::lsn_of(n2.db().exec(zodan::sql::sync_event()).scalar());
    const int reads_before = c.progress_reads;
    CHECK(c.nodes["n3"].progress["n2"] < event);
    zodan::wait_applied(c, {&n3}, {{"n2", event}});
    // What the wait saw is what n3 holds now: applied, after as many looks as it took.
    CHECK(c.nodes["n3"].progress["n2"] >= event);
    CHECK(c.progress_reads - reads_before >= 5);
}

TEST_CASE("a wait that never ends times out after zodan.sync_timeout, naming what it waited for", "[add_node][waits]") {
    Cluster c = Cluster::mesh(3, 4);
    c.stalled.insert({"n1", "n3"});  // the source never applies n3's stream
    CHECK_THROWS_WITH(zodan::AddNode(c, Cluster::add_args("n1", "n4")).run(),
                      Catch::Contains("timed out after 60 s waiting for n1 to apply the changes of n2, n3"));
    // It stopped in step 3: nothing was copied, nothing opened towards n4.
    CHECK(c.programs.empty());
    CHECK(c.nodes["n1"].subs.count("sub_n4_n1") == 0);
}

TEST_CASE("a failed run is resumed where it stopped, and nothing done is done again", "[add_node][resume]") {
    Cluster c = Cluster::mesh(3, 4);
    c.fail_at = "advance_slots:after";  // the slots were advanced, the step not recorded
    CHECK_THROWS_WITH(zodan::AddNode(c, Cluster::add_args("n1", "n4")).run(), Catch::Contains("injected failure"));
    const auto &journal = c.nodes["n4"].runs;
    REQUIRE(journal.size() == 1);
    CHECK(journal[0].state == "failed");
    CHECK(journal[0].steps.at("advance_slots").state == "failed");
    const size_t slots = peer_slots(c).size();
    const size_t copies = c.programs.size();
    CHECK(c.nodes["n1"].subs.count("sub_n4_n1") == 0);

    c.fail_at.clear();
    c.notices.clear();
    zodan::AddNode(c, Cluster::add_args("n1", "n4")).run();
    CHECK(std::find(c.notices.begin(), c.notices.end(), "add_node: resuming the unfinished run at step advance_slots") !=
          c.notices.end());
    CHECK(journal.size() == 1);
    CHECK(journal[0].state == "done");
    // The steps before were not run again: no new slot, no second copy.
    CHECK(peer_slots(c).size() == slots);
    CHECK(c.programs.size() == copies);
    // advance_slots ran again, from the positions the journal kept; the join completed.
    CHECK(c.nodes["n1"].subs.count("sub_n4_n1") == 1);
    CHECK(c.nodes["n4"].subs.at("sub_n2_n4").enabled);
}

TEST_CASE("a second call with other arguments is refused while a run is unfinished", "[add_node][resume]") {
    Cluster c = Cluster::mesh(3, 4);
    c.fail_at = "copy_source:after";
    CHECK_THROWS(zodan::AddNode(c, Cluster::add_args("n1", "n4")).run());
    c.fail_at.clear();
    CHECK_THROWS_WITH(zodan::AddNode(c, Cluster::add_args("n2", "n4")).run(), Catch::Contains("did not finish"));
}

TEST_CASE("an apply worker Spock lost track of is ended so that Spock starts it again", "[add_node][waits]") {
    Cluster c = Cluster::mesh(3, 4);
    c.stalled.insert({"n1", "n2"});
    Sub &sub = c.nodes["n1"].subs.at("sub_n2_n1");
    sub.status = "down";
    sub.lost_worker_pid = "4242";
    zodan::AddNode(c, Cluster::add_args("n1", "n4")).run();
    CHECK(with_param(c.calls_of({Stmt::EndLostApplyWorkers}), "sub_n2_n1").size() == 1);
    CHECK(with_param(c.calls_of({Stmt::EndLostApplyWorkers}), "sub_n2_n1").front().node == "n1");
    CHECK(std::count_if(c.notices.begin(), c.notices.end(), [](const std::string &m) {
              return m.find("Spock lost track of the apply worker of subscription sub_n2_n1 on node \"n1\"") !=
                     std::string::npos;
          }) == 1);
    CHECK(c.nodes["n4"].subs.count("sub_n2_n4") == 1);
    // Down for about 2 s only: not long enough to be worth asking the node's restart delay.
    CHECK(c.calls_of({Stmt::ApplyRestartDelay}).empty());
}

// n1's sub_n2_n1 is down, Spock starting its worker again 20 s from now.
static Cluster with_worker_restarting_in_20s() {
    Cluster c = Cluster::mesh(3, 4);
    c.stalled.insert({"n1", "n2"});
    Sub &sub = c.nodes["n1"].subs.at("sub_n2_n1");
    sub.status = "down";
    sub.restarts_at = c.now_ms() + 20000;
    return c;
}

TEST_CASE("a wait outlasts a node's longer restart delay while Spock starts the worker again", "[add_node][waits]") {
    Cluster c = with_worker_restarting_in_20s();
    c.nodes["n1"].restart_delay_ms = 30000;
    zodan::AddNode(c, Cluster::add_args("n1", "n4")).run();
    CHECK(c.nodes["n1"].subs.at("sub_n2_n1").status == "replicating");
    CHECK(c.nodes["n4"].subs.count("sub_n2_n4") == 1);
    // Asked on the node whose subscription went down, once, and nowhere else.
    std::vector<fake::Call> asked = c.calls_of({Stmt::ApplyRestartDelay});
    REQUIRE(asked.size() == 1);
    CHECK(asked.front().node == "n1");
}

TEST_CASE("with Spock's default restart delay the same outage ends the wait, saying how long it allowed",
          "[add_node][waits]") {
    Cluster c = with_worker_restarting_in_20s();
    try {
        zodan::AddNode(c, Cluster::add_args("n1", "n4")).run();
        FAIL("the add went on past a subscription down for longer than Spock's restart takes");
    } catch (const zodan::UserError &e) {
        CHECK_THAT(e.what(), Catch::Contains("subscription sub_n2_n1 on node \"n1\" is down"));
        CHECK_THAT(e.detail(), Catch::Contains("longer than the 10 s allowed"));
        CHECK_THAT(e.detail(), Catch::Contains("5000 ms restart delay"));
    }
    CHECK(c.calls_of({Stmt::ApplyRestartDelay}).size() == 1);
}

TEST_CASE("a subscription that stays down ends a wait early, naming it", "[add_node][waits]") {
    Cluster c = Cluster::mesh(3, 4);
    c.stalled.insert({"n1", "n2"});
    c.nodes["n1"].subs.at("sub_n2_n1").status = "down";  // its apply worker is gone
    CHECK_THROWS_WITH(zodan::AddNode(c, Cluster::add_args("n1", "n4")).run(),
                      Catch::Contains("subscription sub_n2_n1 on node \"n1\" is down"));
}

TEST_CASE("the rows the source changed in the join window are rewritten on N with their own stamp", "[add_node][window]") {
    Cluster c = Cluster::mesh(3, 4);
    // The marks: n2's commit at ...02, n3's at ...03; the window starts at the earliest.
    auto &rows = c.nodes["n1"].window_rows;
    rows.push_back({"2026-01-01 00:00:00.000001+00", "9057", "public.items", "[\"9\"]"});   // before: left alone
    rows.push_back({"2026-01-01 00:00:00.000007+00", "26863", "public.items", "[\"1\"]"});  // one transaction of n2's
    rows.push_back({"2026-01-01 00:00:00.000007+00", "26863", "public.items", "[\"2\"]"});
    rows.push_back({"2026-01-01 00:00:00.000008+00", "4242", "public.items", "[\"3\"]"});   // one of n1's own
    zodan::AddNode(c, Cluster::add_args("n1", "n4")).run();

    // Each other node's mark is a commit there before its slot, both at
    // once, in the statement that reads its sets and looks up its slot.
    auto marks = c.calls_of({Stmt::LocalSetsAndSlot});
    CHECK(nodes_of(marks) == std::vector<std::string>{"n2", "n3"});
    CHECK(same_batch(marks));
    for (const Call &m : marks) CHECK(*m.params.at(1) == "true");
    CHECK(c.nodes["n2"].marks == 1);
    CHECK(c.nodes["n3"].marks == 1);
    CHECK(position(c, "n2", Stmt::LocalSetsAndSlot) < position(c, "n2", Stmt::CreateSlotThenSyncEvent));
    CHECK(position(c, "n3", Stmt::LocalSetsAndSlot) < position(c, "n3", Stmt::CreateSlotThenSyncEvent));
    auto scans = c.calls_of({Stmt::WindowRows});
    REQUIRE(scans.size() == 1);
    CHECK(scans[0].node == "n1");
    CHECK(*scans[0].params[0] == "2026-01-01 00:00:00.000002+00");

    // One transaction per (origin, timestamp), all in one call on N, after its indexes exist.
    const auto &done = c.nodes["n4"].restamped;
    REQUIRE(done.size() == 1);
    using zodan::parse_text_array;
    using V = std::vector<std::string>;
    CHECK(parse_text_array(done[0][0]) == V{"UPDATE public.items"});
    CHECK(parse_text_array(done[0][1]) == V{"26863", "4242"});
    CHECK(parse_text_array(done[0][2]) == V{"2026-01-01 00:00:00.000007+00", "2026-01-01 00:00:00.000008+00"});
    CHECK(parse_text_array(done[0][3]) == V{"1", "2"});
    CHECK(parse_text_array(done[0][4]) == V{"1", "1"});
    CHECK(parse_text_array(done[0][5]) == V{"[[\"1\"], [\"2\"]]", "[[\"3\"]]"});
    size_t indexes = 0;  // the last pg_restore: indexes and constraints
    for (size_t i = 0; i < c.calls.size(); ++i)
        if (c.calls[i].node == "program" && c.calls[i].program == "pg_restore") indexes = i;
    CHECK(position(c, "n4", Stmt::Restamp) > indexes);
}

TEST_CASE("with no other node no change can be late: no join window", "[add_node][window]") {
    Cluster c = Cluster::mesh(1, 2);
    c.nodes["n1"].window_rows.push_back({"2026-01-01 00:00:00.000007+00", "26863", "public.items", "[\"1\"]"});
    zodan::AddNode(c, Cluster::add_args("n1", "n2")).run();
    CHECK(c.nodes["n1"].marks == 0);
    CHECK(c.calls_of({Stmt::WindowTables}).empty());
    CHECK(c.nodes["n2"].restamped.empty());
}

TEST_CASE("a resumed run keeps the window's start its first call marked", "[add_node][window]") {
    Cluster c = Cluster::mesh(3, 4);
    c.fail_at = "prepare_other_nodes:after";  // the slots made, the step not recorded as done
    CHECK_THROWS(zodan::AddNode(c, Cluster::add_args("n1", "n4")).run());
    c.fail_at.clear();
    const int before = c.nodes["n2"].marks + c.nodes["n3"].marks;
    zodan::AddNode(c, Cluster::add_args("n1", "n4")).run();
    CHECK(c.nodes["n2"].marks + c.nodes["n3"].marks == before);
    auto scans = c.calls_of({Stmt::WindowRows});
    REQUIRE(scans.size() == 1);
    CHECK(*scans[0].params[0] == "2026-01-01 00:00:00.000002+00");
}

TEST_CASE("a source transaction of many rows is rewritten in statements of 1,000 rows, one transaction", "[add_node][window]") {
    Cluster c = Cluster::mesh(3, 4);
    for (int k = 0; k < 1500; ++k)
        c.nodes["n1"].window_rows.push_back(
            {"2026-01-01 00:00:00.000007+00", "26863", "public.items", "[\"" + std::to_string(k) + "\"]"});
    zodan::AddNode(c, Cluster::add_args("n1", "n4")).run();
    const auto &done = c.nodes["n4"].restamped;
    REQUIRE(done.size() == 1);
    CHECK(zodan::parse_text_array(done[0][1]) == std::vector<std::string>{"26863"});  // one transaction
    CHECK(zodan::parse_text_array(done[0][3]) == std::vector<std::string>{"1", "1"});  // of two statements
    CHECK(zodan::parse_text_array(done[0][5]).at(1).find("[\"1499\"]") != std::string::npos);
}

TEST_CASE("the join window starts at the earliest mark; an unknown one means every row", "[window]") {
    CHECK(zodan::window_start({}) == "");
    CHECK(zodan::window_start({{"n2", "2026-01-01 00:00:01.000000+00"}, {"n3", "2025-12-31 23:59:59.999999+00"}}) ==
          "2025-12-31 23:59:59.999999+00");
    CHECK(zodan::window_start({{"n2", "2026-01-01 00:00:01.000000+00"}, {"n3", "-infinity"}}) == "-infinity");
}
