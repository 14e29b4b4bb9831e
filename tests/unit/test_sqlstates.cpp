// The SQLSTATE a failed call reports, by cause (docs/errors.md): the mapping
// itself, and the cause the step logic gives the failures a script branches
// on, provoked against the fake cluster.
#include <catch2/catch.hpp>

#include "core/plan/add_node.hpp"
#include "core/remove/remove_node.hpp"
#include "fake_cluster.hpp"

using fake::Cluster;
using zodan::Cause;
using zodan::sqlstate_for;
using zodan::sqlstate_of;

namespace {

// The SQLSTATE `f` ends with, as the entry point would report it.
template <typename F>
std::string state_of(F &&f) {
    try {
        f();
    } catch (const std::exception &e) {
        return sqlstate_for(e);
    }
    return "no error";
}

}  // namespace

TEST_CASE("sqlstates: each cause has its own code", "[sqlstates]") {
    CHECK(std::string(sqlstate_of(Cause::Precondition)) == "55000");
    CHECK(std::string(sqlstate_of(Cause::LockHeld)) == "55P03");
    CHECK(std::string(sqlstate_of(Cause::TimedOut)) == "57014");
    CHECK(std::string(sqlstate_of(Cause::Unreachable)) == "08001");
    CHECK(std::string(sqlstate_of(Cause::ConnectionLost)) == "08006");
    CHECK(std::string(sqlstate_of(Cause::BadArgument)) == "22023");
    CHECK(std::string(sqlstate_of(Cause::Privilege)) == "42501");
    CHECK(std::string(sqlstate_of(Cause::UndefinedNode)) == "42704");
    CHECK(std::string(sqlstate_of(Cause::Divergence)) == "ZD001");
}

TEST_CASE("sqlstates: each exception reports its cause; a remote node's own code is kept", "[sqlstates]") {
    using namespace zodan;
    CHECK(sqlstate_for(UserError("x")) == "55000");
    CHECK(sqlstate_for(UserError("x", "", "", Cause::LockHeld)) == "55P03");
    CHECK(sqlstate_for(PermissionDenied("x")) == "42501");
    CHECK(sqlstate_for(InvalidArgument("x")) == "22023");
    CHECK(sqlstate_for(RemoteError("n1", "read", "relation does not exist", "42P01")) == "42P01");
    CHECK(sqlstate_for(RemoteError("n1", "connecting", "refused", "08001")) == "08001");
    // libpq's own failure of an open connection carries no code: the node was lost.
    CHECK(sqlstate_for(RemoteError("n1", "read", "server closed the connection unexpectedly")) == "08006");
    CHECK(sqlstate_for(StatementTimedOut("n1", "read", "no answer", "57014")) == "57014");
    CHECK(sqlstate_for(std::runtime_error("bug")) == "XX000");
    CHECK(sqlstate_for(std::out_of_range("no column")) == "XX000");
}

TEST_CASE("sqlstates: the join lock held by another run is 55P03, for add and remove", "[sqlstates][lock]") {
    Cluster c = Cluster::mesh(3, 4);
    c.nodes["n2"].join_lock = true;
    CHECK(state_of([&] { zodan::AddNode(c, Cluster::add_args("n1", "n4")).run(); }) == "55P03");
    c.nodes["n2"].join_lock = false;
    zodan::AddNode(c, Cluster::add_args("n1", "n4")).run();
    c.local_node = "n1";
    c.nodes["n3"].join_lock = true;
    zodan::RemoveNodeArgs a;
    a.target_name = "n4";
    a.target_dsn = Cluster::dsn_of("n4");
    CHECK(state_of([&] { zodan::RemoveNode(c, a).run(); }) == "55P03");
}

TEST_CASE("sqlstates: a wait past zodan.sync_timeout is 57014", "[sqlstates][waits]") {
    Cluster c = Cluster::mesh(3, 4);
    c.stalled.insert({"n1", "n3"});  // the source never applies n3's stream
    CHECK(state_of([&] { zodan::AddNode(c, Cluster::add_args("n1", "n4")).run(); }) == "57014");
}

TEST_CASE("sqlstates: a new node that differs from the source is ZD001", "[sqlstates][verify]") {
    Cluster c = Cluster::mesh(3, 4);
    c.fail_at = "verify_data";
    CHECK_THROWS(zodan::AddNode(c, Cluster::add_args("n1", "n4")).run());
    c.nodes["n4"].data["public.items"]["2"] = "TWO";  // changed on n4 alone
    c.fail_at.clear();
    CHECK(state_of([&] { zodan::AddNode(c, Cluster::add_args("n1", "n4")).run(); }) == "ZD001");
}

TEST_CASE("sqlstates: arguments that cannot be used are 22023", "[sqlstates][arguments]") {
    Cluster c = Cluster::mesh(3, 4);
    CHECK(state_of([&] { zodan::AddNode(c, Cluster::add_args("n1", "n1")).run(); }) == "22023");
    zodan::AddNodeArgs no_db = Cluster::add_args("n1", "n4");
    no_db.new_dsn = "host=n4";
    CHECK(state_of([&] { zodan::AddNode(c, no_db).run(); }) == "22023");
    // The source named is not the node src_dsn reaches.
    zodan::AddNodeArgs other = Cluster::add_args("n1", "n4");
    other.src_name = "n2";
    CHECK(state_of([&] { zodan::AddNode(c, other).run(); }) == "22023");
}

TEST_CASE("sqlstates: a source that is no node where src_dsn points is 42704", "[sqlstates][arguments]") {
    Cluster c = Cluster::mesh(3, 5);
    zodan::AddNodeArgs a = Cluster::add_args("n1", "n5");
    a.src_dsn = Cluster::dsn_of("n4");  // bare: no Spock node there
    CHECK(state_of([&] { zodan::AddNode(c, a).run(); }) == "42704");
}
