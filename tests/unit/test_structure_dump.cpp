// The copy's structure dump made on the source (copy/copy_data.cpp,
// docs/protocol.md "The structure copy across the link"), and the dump on
// the new node's host it falls back to.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "core/plan/add_node.hpp"
#include "core/text/json.hpp"
#include "core/text/text_array.hpp"
#include "fake_cluster.hpp"

using fake::Call;
using fake::Cluster;
using zodan::Stmt;
using zodan::StructureDumpSetting;

namespace {

// The copy_source step's figures in N's journal.
zodan::JsonValue copy_figures(const Cluster &c) {
    return zodan::parse_json(c.nodes.at("n4").runs.at(0).steps.at("copy_source").output.str());
}

std::vector<Call> on(const std::vector<Call> &calls, const std::string &node) {
    std::vector<Call> out;
    for (const Call &call : calls)
        if (call.node == node) out.push_back(call);
    return out;
}

size_t index_of(const Cluster &c, const std::string &node, Stmt id) {
    for (size_t i = 0; i < c.calls.size(); ++i)
        if (c.calls[i].node == node && c.calls[i].id == id) return i;
    return c.calls.size();
}

bool noticed(const Cluster &c, const std::string &part) {
    return std::any_of(c.notices.begin(), c.notices.end(),
                       [&](const std::string &n) { return n.find(part) != std::string::npos; });
}

}  // namespace

TEST_CASE("the structure is dumped on the source, in the copy point's snapshot", "[add_node][structure_dump]") {
    Cluster c = Cluster::mesh(3, 4);
    zodan::AddNode(c, Cluster::add_args("n1", "n4")).run();

    // No pg_dump on N's host: the archive came from S's function, whole.
    CHECK(std::count(c.programs.begin(), c.programs.end(), "pg_dump") == 0);
    REQUIRE(c.scratch_files.count("structure.dump") == 1);
    CHECK(c.scratch_files.at("structure.dump") == "PGDMP structure of n1");
    // The function made, then called, on S, before the copy's session
    // enters the snapshot; with the snapshot, the schemas to leave out,
    // this library's version and N's major version.
    const std::vector<Call> dumps = on(c.calls_of({Stmt::DumpStructure}), "n1");
    REQUIRE(dumps.size() == 1);
    CHECK(index_of(c, "n1", Stmt::CreateDumpFunction) < index_of(c, "n1", Stmt::DumpStructure));
    CHECK(index_of(c, "n1", Stmt::DumpStructure) < index_of(c, "n1", Stmt::BeginInSnapshot));
    CHECK(*dumps[0].params[0] == "00000003-00000002-1");
    CHECK(zodan::parse_text_array(*dumps[0].params[1]).empty());
    CHECK(*dumps[0].params[2] == "0.4.0-test");
    CHECK(*dumps[0].params[3] == "15");
    CHECK(!noticed(c, "is dumped on this node"));

    const zodan::JsonValue figures = copy_figures(c);
    REQUIRE(figures.get("structure_dump") != nullptr);
    CHECK(figures.get("structure_dump")->text() == "source");
    CHECK(figures.get("structure_bytes")->text() == "21");
}

TEST_CASE("a source that cannot dump its structure falls back to pg_dump on N, saying why", "[add_node][structure_dump]") {
    Cluster c = Cluster::mesh(3, 4);
    c.nodes["n1"].dump_refusal =
        "dump the structure of the source failed: pg_dump: error: connection to server failed: "
        "FATAL:  pg_hba.conf rejects connection (host=n1 password=s3cret)";
    zodan::AddNode(c, Cluster::add_args("n1", "n4")).run();

    CHECK(std::count(c.programs.begin(), c.programs.end(), "pg_dump") == 1);
    CHECK(c.scratch_files.at("structure.dump") == "PGDMP dumped here");
    CHECK(noticed(c, "the structure of n1 is dumped on this node, not on n1, at one round trip to n1 per catalog "
                     "query pg_dump reads"));
    CHECK(noticed(c, "pg_hba.conf rejects connection"));
    CHECK(!noticed(c, "s3cret"));  // masked
    CHECK(copy_figures(c).get("structure_dump")->text() == "new node");
    CHECK(copy_figures(c).get("structure_bytes")->text() == "17");
    // The copy went on over the same session to S.
    CHECK(c.nodes["n4"].data == c.nodes["n1"].data);
}

TEST_CASE("zodan.structure_dump = local never asks the source", "[add_node][structure_dump]") {
    Cluster c = Cluster::mesh(3, 4);
    c.structure_dump_setting = StructureDumpSetting::Local;
    zodan::AddNode(c, Cluster::add_args("n1", "n4")).run();
    CHECK(c.calls_of({Stmt::CreateDumpFunction, Stmt::DumpStructure}).empty());
    CHECK(std::count(c.programs.begin(), c.programs.end(), "pg_dump") == 1);
    CHECK(!noticed(c, "is dumped on this node"));
    CHECK(copy_figures(c).get("structure_dump")->text() == "new node");
}

TEST_CASE("zodan.structure_dump = source fails the add when the source cannot dump, and the next add succeeds",
          "[add_node][structure_dump]") {
    Cluster c = Cluster::mesh(3, 4);
    c.structure_dump_setting = StructureDumpSetting::Source;
    c.nodes["n1"].dump_refusal = "could not access file \"$libdir/zodan\": No such file or directory";
    c.nodes["n1"].dump_refusal_state = "58P01";
    CHECK_THROWS_WITH(zodan::AddNode(c, Cluster::add_args("n1", "n4")).run(),
                      Catch::Contains("the structure of n1 could not be dumped on n1 (zodan.structure_dump = source): "
                                      "could not access file"));
    CHECK(std::count(c.programs.begin(), c.programs.end(), "pg_dump") == 0);
    CHECK(c.programs.empty());  // nothing restored on N

    c.structure_dump_setting = StructureDumpSetting::Auto;
    c.notices.clear();
    zodan::AddNode(c, Cluster::add_args("n1", "n4")).run();
    CHECK(noticed(c, "the earlier copy from n1 did not finish"));
    CHECK(noticed(c, "is dumped on this node"));
    CHECK(c.nodes["n4"].runs.back().state == "done");
    CHECK(c.nodes["n4"].data == c.nodes["n1"].data);
}

TEST_CASE("a lost session to the source is not a reason to dump on N", "[add_node][structure_dump]") {
    Cluster c = Cluster::mesh(3, 4);
    c.nodes["n1"].dump_refusal = "server closed the connection unexpectedly";
    c.nodes["n1"].dump_refusal_state = "";  // libpq's own: no SQLSTATE from the node
    CHECK_THROWS_WITH(zodan::AddNode(c, Cluster::add_args("n1", "n4")).run(),
                      Catch::Contains("server closed the connection unexpectedly"));
    CHECK(std::count(c.programs.begin(), c.programs.end(), "pg_dump") == 0);
}
