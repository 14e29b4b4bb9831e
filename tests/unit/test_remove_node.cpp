// remove_node against the fake cluster: what it removes where, what it
// refuses, and that it takes the join lock.
#include <algorithm>
#include <set>
#include <catch2/catch.hpp>

#include "core/plan/add_node.hpp"
#include "core/remove/remove_node.hpp"
#include "fake_cluster.hpp"

using fake::Cluster;
using zodan::Stmt;

namespace {


zodan::RemoveNodeArgs remove_args(const std::string &n, bool force = false) {
    zodan::RemoveNodeArgs a;
    a.target_name = n;
    a.target_dsn = Cluster::dsn_of(n);
    a.force = force;
    return a;
}

// Anything on `node` that still ties it to `gone`.
size_t ties(const fake::Node &node, const std::string &gone) {
    size_t n = node.known.count(gone);
    for (const auto &[sub, s] : node.subs) n += sub.find(gone) != std::string::npos;
    for (const auto &[slot, lsn] : node.slots) n += slot.find(gone) != std::string::npos;
    return n;
}

}  // namespace

TEST_CASE("remove_node cuts every tie to the node, on every member and on the node", "[remove_node]") {
    Cluster c = Cluster::mesh(3, 4);
    zodan::AddNode(c, Cluster::add_args("n1", "n4")).run();
    REQUIRE(ties(c.nodes["n2"], "n4") > 0);
    c.local_node = "n1";  // run on a member
    c.calls.clear();
    zodan::RemoveNode(c, remove_args("n4")).run();
    for (const char *x : {"n1", "n2", "n3"}) CHECK(ties(c.nodes[x], "n4") == 0);
    CHECK(c.nodes["n4"].subs.empty());
    CHECK_FALSE(c.nodes["n4"].registered);
    // The members locked first, n4 too.
    auto locks = c.calls_of({Stmt::JoinLockTake});
    std::vector<std::string> where;
    for (const auto &l : locks) where.push_back(l.node);
    std::sort(where.begin(), where.end());
    CHECK(where == std::vector<std::string>{"n1", "n2", "n3", "n4"});
    // The other members still form a mesh.
    CHECK(c.nodes["n2"].subs.count("sub_n1_n2") == 1);
    CHECK(c.notices.back().find("node n4 removed") != std::string::npos);
}

TEST_CASE("remove_node refuses while another change of membership runs, changing nothing", "[remove_node][lock]") {
    Cluster c = Cluster::mesh(3, 4);
    zodan::AddNode(c, Cluster::add_args("n1", "n4")).run();
    c.local_node = "n1";
    c.nodes["n3"].join_lock = true;
    CHECK_THROWS_WITH(zodan::RemoveNode(c, remove_args("n4")).run(), Catch::Contains("holds the join lock on node \"n3\""));
    CHECK(ties(c.nodes["n2"], "n4") > 0);
    CHECK(c.calls_of({Stmt::SubDrop}).empty());
}

TEST_CASE("a rollback drops only what the copy made, and refuses a node written to since", "[remove_node][rollback]") {
    Cluster c = Cluster::mesh(3, 4);
    c.fail_at = "mirror_replication_sets";
    CHECK_THROWS(zodan::AddNode(c, Cluster::add_args("n1", "n4")).run());
    c.written_locally = {"public.items"};
    CHECK_THROWS_WITH(zodan::RemoveNode(c, remove_args("n4")).run(),
                      Catch::Contains("node \"n4\" has been written to since its copy: public.items"));
    CHECK(c.calls_of({Stmt::SubDrop}).empty());
    zodan::RemoveNode(c, remove_args("n4", true)).run();
    CHECK(c.nodes["n4"].subs.empty());
    // The drops were limited to what the copy recorded it made, in the
    // listing it was recorded in.
    // (Planned by the refused call, then by the forced one.)
    auto plans = c.calls_of({Stmt::CopyRollbackPlan});
    REQUIRE(plans.size() == 2);
    CHECK(plans[1].params.at(1).has_value());
    CHECK(plans[1].params.at(2) == zodan::Value("2"));
    // In one transaction, without CASCADE.
    auto drops = c.calls_of({Stmt::DropInSavepoint});
    REQUIRE(drops.size() == 1);
    CHECK(c.calls_of({Stmt::CommitRollback}).size() == 1);
}

TEST_CASE("a rollback refuses, naming them, when objects not made by the copy depend on it", "[remove_node][rollback]") {
    Cluster c = Cluster::mesh(3, 4);
    c.fail_at = "mirror_replication_sets";
    CHECK_THROWS(zodan::AddNode(c, Cluster::add_args("n1", "n4")).run());
    c.copy_dependents = {"table app.user_notes", "view public.items_summary"};
    CHECK_THROWS_WITH(zodan::RemoveNode(c, remove_args("n4")).run(),
                      Catch::Contains("node \"n4\" holds objects not made by its copy that depend on what the copy "
                                      "made: table app.user_notes, view public.items_summary"));
    // Refused before anything changed anywhere.
    CHECK(c.calls_of({Stmt::SubDrop}).empty());
    CHECK(c.calls_of({Stmt::BeginRollback}).empty());
    CHECK(ties(c.nodes["n2"], "n4") > 0);
    // With force they go too, and are named.
    c.calls.clear();
    zodan::RemoveNode(c, remove_args("n4", true)).run();
    CHECK(c.calls_of({Stmt::CommitRollback}).size() == 1);
    CHECK(std::find_if(c.notices.begin(), c.notices.end(), [](const std::string &m) {
              return m.find("force: node n4 lost objects not made by its copy") != std::string::npos &&
                     m.find("table app.user_notes, view public.items_summary") != std::string::npos;
          }) != c.notices.end());
}

TEST_CASE("a rollback from the new node finds, through its source, the members it holds slots on", "[remove_node][rollback]") {
    // Stopped before the copy: N's catalog knows only the source, while the
    // other members already hold the slots for their paths into N.
    Cluster c = Cluster::mesh(3, 4);
    c.fail_at = "copy_source";
    CHECK_THROWS(zodan::AddNode(c, Cluster::add_args("n1", "n4")).run());
    CHECK(c.nodes["n4"].known.count("n2") == 0);
    REQUIRE(ties(c.nodes["n2"], "n4") > 0);
    zodan::RemoveNode(c, remove_args("n4")).run();
    for (const char *x : {"n1", "n2", "n3"}) CHECK(ties(c.nodes[x], "n4") == 0);
    CHECK(c.nodes["n4"].subs.empty());
}

TEST_CASE("a rollback names the members it could not find when the source is gone", "[remove_node][rollback]") {
    Cluster c = Cluster::mesh(3, 4);
    c.fail_at = "copy_source";
    CHECK_THROWS(zodan::AddNode(c, Cluster::add_args("n1", "n4")).run());
    c.nodes.erase("n1");  // refuses every connection
    zodan::RemoveNode(c, remove_args("n4")).run();
    for (const char *x : {"n1", "n2", "n3"})
        CHECK(std::find(c.notices.begin(), c.notices.end(),
                        std::string("node ") + x + " could not be reached; it may still hold subscriptions or slots for node n4") !=
              c.notices.end());
}

namespace {

// n1..n3 meshed with n4 joined, the procedure run on `caller`.
Cluster joined_mesh(const std::string &caller) {
    Cluster c = Cluster::mesh(3, 4);
    zodan::AddNode(c, Cluster::add_args("n1", "n4")).run();
    c.local_node = caller;
    c.calls.clear();
    c.notices.clear();
    return c;
}

// The whole text of the error a remove raises: message, detail, hint.
std::string refusal(Cluster &c, const zodan::RemoveNodeArgs &a) {
    try {
        zodan::RemoveNode(c, a).run();
    } catch (const zodan::UserError &e) {
        return std::string(e.what()) + "\n" + e.detail() + "\n" + e.hint();
    }
    return "(no error)";
}

bool noticed(const Cluster &c, const std::string &part) {
    return std::any_of(c.notices.begin(), c.notices.end(),
                       [&](const std::string &n) { return n.find(part) != std::string::npos; });
}

// A node of another cluster, reached at host `host`, named `name` there.
void add_foreign_node(Cluster &c, const std::string &host, const std::string &name,
                      const std::map<std::string, std::string> &knows) {
    fake::Node n;
    n.name = name;
    n.sysid = "9" + host;
    n.registered = true;
    n.known = knows;
    for (const auto &[other, dsn] : knows)
        if (other != name) n.subs["sub_" + other + "_" + name] = fake::Sub{other, true, "replicating", ""};
    n.slots["spk_inventory_" + name + "_sub_" + name + "_x"] = 0x100;
    c.nodes[host] = n;
}

// What a node holds of Spock: to show that a refused call changed nothing.
std::string state_of(const fake::Node &n) {
    std::string s = n.registered ? "node;" : "";
    for (const auto &[k, dsn] : n.known) s += "knows " + k + ";";
    for (const auto &[k, sub] : n.subs) s += k + (sub.enabled ? "+" : "-") + ";";
    for (const auto &[k, lsn] : n.slots) s += "slot " + k + ";";
    return s;
}

}  // namespace

TEST_CASE("remove_node of a live node waits until every member applied what it committed, then stops them all",
          "[remove_node][drain]") {
    Cluster c = joined_mesh("n1");
    c.apply_after_polls = 3;  // replication lags
    std::map<std::string, std::string> at_first_disable;  // member -> what it had applied of n4 then
    zodan::Lsn event = 0;
    c.on_statement = [&](const std::string &node, const zodan::Query &q) {
        if (q.id == Stmt::SyncEvent && node == "n4") event = c.nodes["n4"].wal + 0x100;
        if (q.id == Stmt::SubDisable && at_first_disable.empty())
            for (const char *x : {"n1", "n2", "n3"})
                at_first_disable[x] = zodan::format_lsn(c.nodes[x].progress["n4"]);
    };
    zodan::RemoveNode(c, remove_args("n4")).run();
    REQUIRE(event != 0);
    REQUIRE(at_first_disable.size() == 3);
    for (const auto &[x, lsn] : at_first_disable) CHECK(zodan::parse_lsn(lsn) >= event);
    // Every subscription from n4 disabled, all in one batch, before any is dropped.
    std::set<std::string> disabled_first;
    std::set<int> batches;
    for (const fake::Call &call : c.calls) {
        const bool from_n4 = !call.params.empty() && call.params[0]->rfind("sub_n4_", 0) == 0;
        if (call.id == Stmt::SubDrop && from_n4) break;
        if (call.id == Stmt::SubDisable && from_n4 && disabled_first.insert(call.node).second)
            batches.insert(call.batch);
    }
    CHECK(disabled_first == std::set<std::string>{"n1", "n2", "n3"});
    CHECK(batches.size() == 1);
    CHECK(noticed(c, "remove_node: waited until n1, n2, n3 had applied everything node n4 committed before the remove "
                     "(a sync event from n4); when their subscriptions from n4 stopped, each had applied as much of it "
                     "as the others"));
    for (const char *x : {"n1", "n2", "n3"}) CHECK(ties(c.nodes[x], "n4") == 0);
}

TEST_CASE("remove_node names the members that got less of what the node committed during the remove",
          "[remove_node][drain]") {
    Cluster c = joined_mesh("n1");
    bool written = false;
    c.on_statement = [&](const std::string &, const zodan::Query &q) {
        // After the wait, before the subscriptions stop: n4 commits, and only n1 applies it in time.
        if (!written && q.id == Stmt::SubDisable) {
            written = true;
            c.nodes["n4"].wal += 0x500;
            c.nodes["n1"].progress["n4"] = c.nodes["n4"].wal;
        }
    };
    zodan::RemoveNode(c, remove_args("n4")).run();
    CHECK(noticed(c, "node n4 committed changes during the remove that reached only some members: n2, n3 applied "
                     "less of them than n1"));
    CHECK_FALSE(noticed(c, "each had applied as much of it as the others"));
}

TEST_CASE("remove_node refuses, changing nothing, when a member cannot apply what the node committed; force goes on",
          "[remove_node][drain]") {
    Cluster c = joined_mesh("n1");
    c.stalled = {{"n2", "n4"}};
    CHECK_THROWS_WITH(zodan::RemoveNode(c, remove_args("n4")).run(),
                      Catch::Contains("timed out") && Catch::Contains("to apply the changes of n4") &&
                          Catch::Contains("every member applies what it committed"));
    CHECK(c.calls_of({Stmt::SubDisable}).empty());
    CHECK(c.calls_of({Stmt::DropSlot, Stmt::SubDrop, Stmt::NodeDrop, Stmt::DropOrigin, Stmt::DropOriginIfExists,
                       Stmt::RepsetDrop, Stmt::DropInSavepoint}).empty());
    zodan::RemoveNode(c, remove_args("n4", true)).run();
    CHECK(noticed(c, "node n4 was not waited for (force: timed out"));
    CHECK(noticed(c, "n2 applied less of its changes than n1, n3"));
    for (const char *x : {"n1", "n2", "n3"}) CHECK(ties(c.nodes[x], "n4") == 0);
}

TEST_CASE("remove_node of an unreachable node says what may be missing, and where", "[remove_node][drain]") {
    Cluster c = joined_mesh("n1");
    c.nodes["n3"].progress["n4"] += 0x40;  // n3 had applied more of n4 than the others when n4 went down
    c.nodes.erase("n4");
    zodan::RemoveNode(c, remove_args("n4")).run();
    CHECK(noticed(c, "node n4 could not be reached: a change it committed that a member had not applied is missing "
                     "on that member; n1, n2 applied less of its changes than n3"));
    CHECK(c.calls_of({Stmt::SyncEvent}).empty());
    for (const char *x : {"n1", "n2", "n3"}) CHECK(ties(c.nodes[x], "n4") == 0);
}

TEST_CASE("remove_node never touches another cluster's node of the same name, nor its members", "[remove_node][identity]") {
    // Cluster A: n1, n2. Cluster B: n4, n5 (hosts b4, b5).
    Cluster c = Cluster::mesh(2, 2);
    c.local_node = "n1";
    add_foreign_node(c, "b4", "n4", {{"n4", Cluster::dsn_of("b4")}, {"n5", Cluster::dsn_of("b5")}});
    add_foreign_node(c, "b5", "n5", {{"n4", Cluster::dsn_of("b4")}, {"n5", Cluster::dsn_of("b5")}});
    const std::string b4 = state_of(c.nodes["b4"]), b5 = state_of(c.nodes["b5"]), n2 = state_of(c.nodes["n2"]);
    zodan::RemoveNodeArgs a;
    a.target_name = "n4";
    a.target_dsn = Cluster::dsn_of("b4");
    CHECK_THROWS_WITH(zodan::RemoveNode(c, a).run(),
                      Catch::Contains("could not show that target_node_dsn reaches node \"n4\" of this cluster"));
    CHECK(state_of(c.nodes["b4"]) == b4);
    CHECK(state_of(c.nodes["b5"]) == b5);
    CHECK(state_of(c.nodes["n2"]) == n2);
    for (const fake::Call &call : c.calls) CHECK(call.node != "b5");  // B's other member is never reached
    CHECK(c.calls_of({Stmt::JoinLockTake}).empty());
}

TEST_CASE("remove_node refuses a DSN that reaches a namesake of a member in another cluster", "[remove_node][identity]") {
    // Cluster A: n1, n2. Cluster B, staging: n1, n2 too (hosts b1, b2).
    Cluster c = Cluster::mesh(2, 2);
    c.local_node = "n1";
    const std::map<std::string, std::string> b = {{"n1", Cluster::dsn_of("b1")}, {"n2", Cluster::dsn_of("b2")}};
    add_foreign_node(c, "b1", "n1", b);
    add_foreign_node(c, "b2", "n2", b);
    const std::string b2 = state_of(c.nodes["b2"]), n2 = state_of(c.nodes["n2"]);
    zodan::RemoveNodeArgs a;
    a.target_name = "n2";
    a.target_dsn = Cluster::dsn_of("b2");
    CHECK_THAT(refusal(c, a), Catch::Contains("target_node_dsn reaches a node \"n2\" that is not this cluster's") &&
                                  Catch::Contains("The DSN this cluster lists for node \"n2\" (spock.node_interface) "
                                                  "reaches another database"));
    // Run on A's n2 itself with B's n2 DSN.
    c.local_node = "n2";
    CHECK_THROWS_WITH(zodan::RemoveNode(c, a).run(),
                      Catch::Contains("target_node_dsn reaches another database than this one, node \"n2\""));
    // When A's DSN for n2 cannot be reached, B's n2 lists an n1 that is not A's.
    c.local_node = "n1";
    c.nodes["n1"].known["n2"] = "host=gone dbname=inventory user=pgedge password=s3cret";
    CHECK_THAT(refusal(c, a), Catch::Contains("It lists node \"n1\" with a DSN that reaches another database"));
    CHECK(state_of(c.nodes["b2"]) == b2);
    CHECK(state_of(c.nodes["n2"]) == n2);
    CHECK(c.calls_of({Stmt::DropSlot, Stmt::SubDrop, Stmt::NodeDrop, Stmt::DropOrigin, Stmt::DropOriginIfExists,
                       Stmt::RepsetDrop, Stmt::DropInSavepoint}).empty());
    CHECK(c.calls_of({Stmt::SubDisable}).empty());
}

TEST_CASE("a rollback run from a member that does not list the new node is shown it through the node's source",
          "[remove_node][identity][rollback]") {
    Cluster c = Cluster::mesh(3, 4);
    c.fail_at = "copy_source";
    CHECK_THROWS(zodan::AddNode(c, Cluster::add_args("n1", "n4")).run());
    REQUIRE(c.nodes["n2"].known.count("n4") == 0);
    c.local_node = "n2";
    zodan::RemoveNode(c, remove_args("n4")).run();
    for (const char *x : {"n1", "n2", "n3"}) CHECK(ties(c.nodes[x], "n4") == 0);
    CHECK(c.nodes["n4"].subs.empty());
    CHECK_FALSE(c.nodes["n4"].registered);
}

TEST_CASE("a caller who is not a superuser may not have remove_node use the stored DSNs", "[remove_node][security]") {
    Cluster c = joined_mesh("n1");
    c.superuser = false;
    CHECK_THROWS_WITH(zodan::RemoveNode(c, remove_args("n4")).run(),
                      Catch::Contains("spock.remove_node would reach node(s) n1, n2, n3 with the DSNs stored in "
                                      "spock.node_interface, which only a superuser may have the server use"));
    CHECK(ties(c.nodes["n2"], "n4") > 0);
    CHECK(c.calls_of({Stmt::JoinLockTake}).empty());
    // The same on the node itself, which lists the others too.
    c.local_node = "n4";
    CHECK_THROWS_WITH(zodan::RemoveNode(c, remove_args("n4")).run(), Catch::Contains("which only a superuser"));
    // A superuser's remove, then the non-superuser's again on the node, which now lists nobody: allowed.
    c.superuser = true;
    zodan::RemoveNode(c, remove_args("n4")).run();
    c.superuser = false;
    c.notices.clear();
    zodan::RemoveNode(c, remove_args("n4")).run();
    CHECK(noticed(c, "node n4 is not a member of this cluster; nothing to do"));
}

namespace {

// The runs of `operation` in `node`'s journal, oldest first.
std::vector<const fake::JournalRun *> runs_of(const Cluster &c, const std::string &node, const std::string &operation) {
    std::vector<const fake::JournalRun *> out;
    for (const fake::JournalRun &r : c.nodes.at(node).runs)
        if (r.operation == operation) out.push_back(&r);
    return out;
}

std::string output_of(const fake::JournalRun &r, const std::string &step, const std::string &key) {
    return zodan::parse_json(r.steps.at(step).output.str()).text_of(key);
}

}  // namespace

TEST_CASE("remove_node journals its steps on the node it runs on", "[remove_node][journal]") {
    Cluster c = joined_mesh("n1");
    zodan::RemoveNode(c, remove_args("n4")).run();
    auto runs = runs_of(c, "n1", "remove_node");
    REQUIRE(runs.size() == 1);
    const fake::JournalRun &r = *runs[0];
    CHECK(r.state == "done");
    CHECK(r.new_node == "n4");
    CHECK(r.src == "n1");  // where it ran
    std::vector<std::string> steps;
    for (const auto &[name, step] : r.steps) {
        steps.push_back(name);
        CHECK(step.state == "done");
    }
    CHECK(steps == std::vector<std::string>{"check_target", "clean_members", "clean_target", "drain_target"});
    CHECK(output_of(r, "check_target", "members") == "n1,n2,n3");
    CHECK(output_of(r, "check_target", "nothing_to_do").empty());
    // What each step removed, for a script (the view spock.zodan_results reads it).
    CHECK(r.steps.at("clean_members").output.str().find("dropped subscription sub_n4_n2") != std::string::npos);
    CHECK(r.steps.at("clean_target").output.str().find("\"n4\"") != std::string::npos);
    // No other node keeps a journal of it.
    CHECK(runs_of(c, "n2", "remove_node").empty());
    CHECK(runs_of(c, "n4", "remove_node").empty());
}

TEST_CASE("a failed remove is journaled as failed, and a new call starts over and finishes it",
          "[remove_node][journal]") {
    Cluster c = joined_mesh("n1");
    c.fail_at = "clean_target";
    CHECK_THROWS_WITH(zodan::RemoveNode(c, remove_args("n4")).run(), Catch::Contains("injected failure"));
    auto runs = runs_of(c, "n1", "remove_node");
    REQUIRE(runs.size() == 1);
    CHECK(runs[0]->state == "failed");
    CHECK(runs[0]->steps.at("clean_members").state == "done");
    CHECK(runs[0]->steps.at("clean_target").state == "failed");
    // The members are clean, the node itself not yet.
    for (const char *x : {"n1", "n2", "n3"}) CHECK(ties(c.nodes[x], "n4") == 0);
    CHECK(c.nodes["n4"].registered);

    c.fail_at.clear();
    c.notices.clear();
    zodan::RemoveNode(c, remove_args("n4")).run();
    CHECK(noticed(c, "the earlier remove of node n4 (run 1) did not finish; starting over"));
    CHECK_FALSE(c.nodes["n4"].registered);
    CHECK(c.nodes["n4"].subs.empty());
    runs = runs_of(c, "n1", "remove_node");
    REQUIRE(runs.size() == 2);
    CHECK(runs[0]->state == "failed");  // kept as it ended
    CHECK(runs[1]->state == "done");
    CHECK(output_of(*runs[1], "check_target", "earlier_run_id") == "1");
}

TEST_CASE("removing a node that is no longer a member succeeds, changing nothing", "[remove_node][idempotent]") {
    Cluster c = joined_mesh("n1");
    zodan::RemoveNode(c, remove_args("n4")).run();
    c.calls.clear();
    c.notices.clear();
    zodan::RemoveNode(c, remove_args("n4")).run();
    CHECK(noticed(c, "remove_node: node n4 is not a member of this cluster; nothing to do"));
    CHECK(c.calls_of({Stmt::SubDrop, Stmt::DropSlot, Stmt::NodeDrop, Stmt::DropOrigin}).empty());
    auto runs = runs_of(c, "n1", "remove_node");
    REQUIRE(runs.size() == 2);
    CHECK(runs[1]->state == "done");
    CHECK(output_of(*runs[1], "check_target", "nothing_to_do") == "node n4 is not a member of this cluster");
}

TEST_CASE("a node of that name that is a Spock node of another cluster is still refused", "[remove_node][idempotent]") {
    Cluster c = joined_mesh("n1");
    zodan::RemoveNode(c, remove_args("n4")).run();
    // n4 registers again on its own, a cluster of one that is not n1's.
    c.nodes["n4"].registered = true;
    CHECK_THROWS_WITH(zodan::RemoveNode(c, remove_args("n4")).run(),
                      Catch::Contains("could not show that target_node_dsn reaches node \"n4\" of this cluster"));
}
