// A repeated spock.add_node of a node that already joined (a script run
// again): nothing to do when it is a complete member with the DSN given;
// refused as before otherwise.
#include <catch2/catch.hpp>

#include "core/plan/add_node.hpp"
#include "core/remote.hpp"
#include "fake_cluster.hpp"

using fake::Cluster;
using zodan::Stmt;

namespace {

// Statements that change a node (or its Spock configuration).
std::vector<fake::Call> changes(const Cluster &c) {
    return c.calls_of({Stmt::NodeCreate, Stmt::NodeDrop, Stmt::CreateSlot, Stmt::CreateSlotThenSyncEvent, Stmt::CreateSlotExportingSnapshot,
                       Stmt::DropSlot, Stmt::SubCreate, Stmt::SubCreateIfAbsent, Stmt::SubCreateThenEnable, Stmt::SubCreateDisabled, Stmt::SubDrop, Stmt::SubDisable,
                       Stmt::EnableDisabled, Stmt::PauseApplyWorkers, Stmt::RepsetCreate, Stmt::RepsetAddTable});
}

Cluster joined() {
    Cluster c = Cluster::mesh(3, 4);
    zodan::AddNode(c, Cluster::add_args("n1", "n4")).run();
    c.calls.clear();
    c.notices.clear();
    return c;
}

}  // namespace

TEST_CASE("an add of a node already a complete member succeeds, changing nothing", "[add_node][results]") {
    Cluster c = joined();
    zodan::AddNode(c, Cluster::add_args("n1", "n4")).run();
    CHECK(changes(c).empty());
    CHECK(c.notices.back().find("add_node: node n4 is already a member of the cluster with this DSN") !=
          std::string::npos);
    // Journaled as a run of its own, done, with what it found.
    const fake::JournalRun &r = c.nodes["n4"].runs.back();
    CHECK(c.nodes["n4"].runs.size() == 2);
    CHECK(r.state == "done");
    REQUIRE(r.steps.count("already_member") == 1);
    const zodan::JsonValue out = zodan::parse_json(r.steps.at("already_member").output.str());
    CHECK(out.text_of("members") == "n1,n2,n3");
    CHECK(out.text_of("nothing_to_do") == "node n4 is already a member of the cluster");
    // A password rotated since is the same DSN.
    auto a = Cluster::add_args("n1", "n4");
    a.new_dsn = "host=n4 dbname=inventory user=pgedge password=rotated";
    c.calls.clear();
    zodan::AddNode(c, a).run();
    CHECK(changes(c).empty());
}

TEST_CASE("an add of a member under another DSN, or of an incomplete member, still fails", "[add_node][results]") {
    SECTION("another DSN") {
        Cluster c = joined();
        auto a = Cluster::add_args("n1", "n4");
        a.new_dsn = "host=n4 port=5433 dbname=inventory user=pgedge password=s3cret";
        try {
            zodan::AddNode(c, a).run();
            FAIL("should fail");
        } catch (const zodan::UserError &e) {
            CHECK(std::string(e.what()).find("already taken") != std::string::npos);
            CHECK(zodan::sqlstate_for(e) == "55000");
        }
        CHECK(changes(c).empty());
    }
    SECTION("a subscription to it disabled") {
        Cluster c = joined();
        c.nodes["n2"].subs.at("sub_n4_n2").enabled = false;
        CHECK_THROWS_WITH(zodan::AddNode(c, Cluster::add_args("n1", "n4")).run(),
                          Catch::Contains("disabled subscription(s) in the cluster: sub_n4_n2 on n2"));
        CHECK(changes(c).empty());
    }
    SECTION("a subscription from it missing") {
        Cluster c = joined();
        c.nodes["n4"].subs.erase("sub_n3_n4");
        CHECK_THROWS_WITH(zodan::AddNode(c, Cluster::add_args("n1", "n4")).run(), Catch::Contains("already taken"));
        CHECK(changes(c).empty());
    }
}
