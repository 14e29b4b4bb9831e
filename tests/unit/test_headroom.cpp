#include <catch2/catch.hpp>

#include "core/cluster/headroom.hpp"
#include "core/plan/add_node.hpp"
#include "fake_cluster.hpp"

using namespace zodan;

namespace {

NodeCapacity roomy(const std::string &name) {
    NodeCapacity c;
    c.node = name;
    c.wal_level = "logical";
    c.track_commit_timestamp = "on";
    c.shared_preload_libraries = "pg_stat_statements, \"spock\"";
    c.max_slots = 10, c.slots_used = 2;
    c.max_origins = 10, c.origins_used = 2;
    c.max_senders = 10, c.senders_used = 2;
    c.max_workers = 16, c.workers_used = 5;
    c.max_connections = 100, c.connections_used = 7;
    return c;
}

std::vector<std::string> failures(const std::vector<CheckResult> &results) {
    std::vector<std::string> out;
    for (const CheckResult &r : results)
        if (!r.passed) out.push_back(r.message);
    return out;
}

}  // namespace

TEST_CASE("headroom: a node with room passes every check", "[headroom]") {
    CHECK(failures(capacity_checks(roomy("n2"), needs_of_existing_node(false, 4))).empty());
    CHECK(failures(capacity_checks(roomy("n4"), needs_of_new_node(3, 4))).empty());
}

TEST_CASE("headroom: each shortfall names node, setting, configured, used and needed", "[headroom]") {
    NodeCapacity c = roomy("n2");
    c.max_slots = 2;  // both in use, the join needs one more
    auto f = failures(capacity_checks(c, needs_of_existing_node(false, 4)));
    REQUIRE(f.size() == 1);
    CHECK(f[0] == "node \"n2\": max_replication_slots = 2, 2 in use, the join needs 1 more");

    NodeCapacity n = roomy("n4");
    n.max_workers = 6;  // 5 in use; 3 apply workers and a sync worker needed
    n.max_senders = 3;  // 2 in use; 3 needed
    f = failures(capacity_checks(n, needs_of_new_node(3, 4)));
    REQUIRE(f.size() == 2);
    CHECK(f[0] == "node \"n4\": max_wal_senders = 3, 2 in use, the join needs 3 more");
    CHECK(f[1] == "node \"n4\": max_worker_processes = 6, 5 in use, the join needs 4 more");
}

TEST_CASE("headroom: Spock's settings", "[headroom]") {
    NodeCapacity c = roomy("n3");
    c.wal_level = "replica";
    c.track_commit_timestamp = "off";
    c.shared_preload_libraries = "spockish";
    auto f = failures(capacity_checks(c, needs_of_existing_node(true, 4)));
    REQUIRE(f.size() == 3);
    CHECK(f[0] == "node \"n3\": wal_level is 'replica', Spock needs 'logical'");
    CHECK(f[1] == "node \"n3\": track_commit_timestamp is 'off', Spock needs 'on'");
    CHECK(f[2] == "node \"n3\": shared_preload_libraries is 'spockish', Spock needs 'spock' in it");
}

TEST_CASE("headroom: a server that gates output plugins must list spock_output", "[headroom]") {
    NodeCapacity c = roomy("n2");
    c.output_plugin_libraries = "pgoutput, test_decoding";
    auto f = failures(capacity_checks(c, needs_of_existing_node(false, 4)));
    REQUIRE(f.size() == 1);
    CHECK(f[0] == "node \"n2\": output_plugin_libraries is 'pgoutput, test_decoding', it must list spock_output "
                  "(every Spock replication slot uses that plugin)");
    auto all = capacity_checks(c, needs_of_existing_node(false, 4));
    bool hint_names_fix = false;
    for (const CheckResult &r : all)
        if (!r.passed)
            hint_names_fix = r.hint.find("ALTER SYSTEM SET output_plugin_libraries = 'pgoutput, test_decoding, "
                                         "spock_output'") != std::string::npos;
    CHECK(hint_names_fix);

    c.output_plugin_libraries = "pgoutput, \"spock_output\"";
    CHECK(failures(capacity_checks(c, needs_of_existing_node(false, 4))).empty());
    c.output_plugin_libraries.reset();  // a server without the setting: nothing to check
    CHECK(failures(capacity_checks(c, needs_of_existing_node(false, 4))).empty());
}

TEST_CASE("headroom: replication origins, under the setting that bounds them", "[headroom]") {
    NodeCapacity n = roomy("n4");
    n.origins_setting = "max_active_replication_origins";
    n.max_origins = 10, n.origins_used = 9;
    auto f = failures(capacity_checks(n, needs_of_new_node(3, 4)));
    REQUIRE(f.size() == 1);
    CHECK(f[0] == "node \"n4\": max_active_replication_origins = 10, 9 in use, the join needs 7 more");  // 3 subscriptions, 4 copy streams
}

TEST_CASE("human_bytes", "[headroom]") {
    CHECK(human_bytes(12) == "12 bytes");
    CHECK(human_bytes(980 * 1024) == "980 kB");
    CHECK(human_bytes(412LL * 1024 * 1024) == "412 MB");
    CHECK(human_bytes(1288490189LL) == "1.2 GB");
}

// The add opens the sessions its later steps take before the checks
// (spare_sessions.hpp): they are part of what the join needs on a node, not
// room others already use, or a node with just the room the join needs
// would be refused.
TEST_CASE("headroom: the run's own spare sessions are not counted as in use", "[headroom]") {
    fake::Cluster c = fake::Cluster::mesh(3, 4);
    // Spock's own 2 senders, and the 2 the join needs on the source.
    c.nodes.at("n1").max_senders = 4;
    zodan::AddNode(c, fake::Cluster::add_args("n1", "n4")).run();
    CHECK(c.nodes.at("n4").subs.size() == 3);
    CHECK(c.nodes.at("n1").open_walsenders == 0);
}
