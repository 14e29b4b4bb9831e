// Large objects before a join (core/cluster/large_objects.cpp): the
// source's own are refused, lolor's go with the copy when the new node can
// hold them. lolor is not in the test servers, so its cases are tested here.
#include <catch2/catch.hpp>

#include "core/plan/add_node.hpp"
#include "fake_cluster.hpp"

using fake::Cluster;
using zodan::Stmt;

namespace {

void refused(Cluster &c, const std::string &message, const std::string &hint) {
    try {
        zodan::AddNode(c, Cluster::add_args("n1", "n4")).run();
        FAIL("the add should have been refused");
    } catch (const zodan::UserError &e) {
        CHECK_THAT(e.what(), Catch::Contains(message));
        CHECK_THAT(e.hint(), Catch::Contains(hint));
    }
    CHECK(c.calls_of({Stmt::NodeCreate}).empty());
    CHECK(c.calls_of({Stmt::CreateSlot, Stmt::CreateSlotExportingSnapshot}).empty());
}

// The source replicates lolor's tables; n4 has lolor installed and a
// lolor.node of its own.
Cluster with_lolor() {
    Cluster c = Cluster::mesh(3, 4);
    for (const char *name : {"n1", "n2", "n3", "n4"}) {
        auto &l = c.nodes[name].lolor;
        l.installed = l.available = true;
        l.node = std::string(name + 1);
        if (std::string(name) != "n4") l.replicated = 2;
    }
    return c;
}

}  // namespace

TEST_CASE("large objects: the source's own are refused, lolor's need a ready new node", "[add_node][checks]") {
    SECTION("none anywhere: the add goes on") {
        Cluster c = Cluster::mesh(3, 4);
        zodan::AddNode(c, Cluster::add_args("n1", "n4")).run();
        CHECK(c.calls_of({Stmt::LolorHasRows}).empty());
    }
    SECTION("large objects in the source's pg_largeobject") {
        Cluster c = Cluster::mesh(3, 4);
        c.nodes["n1"].large_objects = 3;
        refused(c, "source \"n1\" holds 3 large object(s) in pg_largeobject", "lolor");
    }
    SECTION("those of another existing node are not the new node's concern") {
        Cluster c = Cluster::mesh(3, 4);
        c.nodes["n2"].large_objects = 3;
        zodan::AddNode(c, Cluster::add_args("n1", "n4")).run();
    }
    SECTION("large objects already on the new node") {
        Cluster c = Cluster::mesh(3, 4);
        c.nodes["n4"].large_objects = 1;
        refused(c, "new node \"n4\" already holds 1 large object(s)", "must be empty");
    }
    SECTION("lolor replicated and ready on the new node: the add goes on") {
        Cluster c = with_lolor();
        zodan::AddNode(c, Cluster::add_args("n1", "n4")).run();
    }
    SECTION("lolor replicated, not available on the new node's server") {
        Cluster c = with_lolor();
        c.nodes["n4"].lolor = {};
        refused(c, "lolor is not available on the server of new node \"n4\"", "Install lolor");
    }
    SECTION("lolor available but not created on the new node: the copy creates it") {
        Cluster c = with_lolor();
        c.nodes["n4"].lolor.installed = false;
        zodan::AddNode(c, Cluster::add_args("n1", "n4")).run();
        CHECK(c.calls_of({Stmt::LolorHasRows}).empty());
    }
    SECTION("lolor's tables on the new node hold large objects") {
        Cluster c = with_lolor();
        c.nodes["n4"].lolor.has_rows = true;
        refused(c, "new node \"n4\" already holds large objects in lolor's tables", "must be empty");
    }
    SECTION("lolor.node unset on the new node") {
        Cluster c = with_lolor();
        c.nodes["n4"].lolor.node = std::nullopt;
        refused(c, "lolor.node is not set on new node \"n4\"", "no other node uses");
    }
    SECTION("lolor.node 0 on the new node") {
        Cluster c = with_lolor();
        c.nodes["n4"].lolor.node = std::string("0");
        refused(c, "lolor.node is not set on new node \"n4\"", "no other node uses");
    }
    SECTION("lolor.node of the new node taken by an existing node") {
        Cluster c = with_lolor();
        c.nodes["n4"].lolor.node = std::string("2");
        refused(c, "lolor.node is 2 on new node \"n4\" and on n2", "no other node uses");
    }
    SECTION("lolor installed but not replicated: large objects stay per node, as in the cluster") {
        Cluster c = with_lolor();
        for (auto &[name, node] : c.nodes) node.lolor.replicated = 0;
        c.nodes["n4"].lolor.node = std::nullopt;
        zodan::AddNode(c, Cluster::add_args("n1", "n4")).run();
    }
}
