// remove_node against the fake cluster: what it removes where, what it
// refuses, and that it takes the join lock.
#include <algorithm>
#include <catch2/catch.hpp>

#include "core/protocol/add_node.hpp"
#include "core/protocol/remove_node.hpp"
#include "fake_cluster.hpp"

using fake::Cluster;

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
    auto locks = c.calls_named("take the join lock");
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
    CHECK(c.calls_named("drop subscription").empty());
}

TEST_CASE("a rollback drops only what the copy made, and refuses a node written to since", "[remove_node][rollback]") {
    Cluster c = Cluster::mesh(3, 4);
    c.fail_at = "mirror_replication_sets";
    CHECK_THROWS(zodan::AddNode(c, Cluster::add_args("n1", "n4")).run());
    c.written_locally = {"public.items"};
    CHECK_THROWS_WITH(zodan::RemoveNode(c, remove_args("n4")).run(),
                      Catch::Contains("node \"n4\" has been written to since its copy: public.items"));
    CHECK(c.calls_named("drop subscription").empty());
    zodan::RemoveNode(c, remove_args("n4", true)).run();
    CHECK(c.nodes["n4"].subs.empty());
    // The drops were limited to what the copy recorded it made, in the
    // listing it was recorded in.
    // (Planned by the refused call, then by the forced one.)
    auto plans = c.calls_named("plan the rollback of the copy");
    REQUIRE(plans.size() == 2);
    CHECK(plans[1].params.at(1).has_value());
    CHECK(plans[1].params.at(2) == zodan::Value("2"));
    // In one transaction, without CASCADE.
    auto drops = c.calls_named("drop what the copy brought");
    REQUIRE(drops.size() == 1);
    CHECK(c.calls_named("commit the rollback of the copy").size() == 1);
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
    CHECK(c.calls_named("drop subscription").empty());
    CHECK(c.calls_named("begin the rollback of the copy").empty());
    CHECK(ties(c.nodes["n2"], "n4") > 0);
    // With force they go too, and are named.
    c.calls.clear();
    zodan::RemoveNode(c, remove_args("n4", true)).run();
    CHECK(c.calls_named("commit the rollback of the copy").size() == 1);
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
