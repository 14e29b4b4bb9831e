// Statements left running while a step goes on (waits/in_flight.hpp): a
// failure among those that ended is seen at once, without waiting for the
// rest, and collect() still gives every result in the order sent.
#include <catch2/catch.hpp>

#include "core/waits/in_flight.hpp"
#include "fake_cluster.hpp"

using fake::Cluster;
using zodan::Query;
using zodan::Stmt;

TEST_CASE("a statement in flight that failed is thrown as soon as it is looked at", "[in_flight]") {
    Cluster c = Cluster::mesh(3, 4);
    auto n1 = c.connect("n1", Cluster::dsn_of("n1"));
    auto n2 = c.connect("n2", Cluster::dsn_of("n2"));
    c.failures[{"n2", Stmt::SpockVersion}] = "connection to server at \"n2\" failed";
    const Query version{Stmt::SpockVersion, "read the version", "SELECT 1", {}};
    const Query name{Stmt::LocalNodeName, "read the local Spock node", "SELECT 1", {}};

    zodan::InFlight fine(c);
    fine.send(*n1, name);
    fine.throw_if_failed();  // ended well: kept for collect()
    const std::vector<zodan::QueryResult> got = fine.collect();
    REQUIRE(got.size() == 1);
    CHECK(got[0].text(0, "node_name") == "n1");

    zodan::InFlight failing(c);
    failing.send(*n1, name);
    failing.send(*n2, version);
    CHECK_THROWS_AS(failing.throw_if_failed(), zodan::RemoteError);
    // Both sessions are usable again: nothing is left running on them.
    CHECK(n1->exec(name).text(0, "node_name") == "n1");
    CHECK_THROWS_AS(n2->exec(version), zodan::RemoteError);
}
