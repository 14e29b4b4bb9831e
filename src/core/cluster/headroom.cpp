#include "core/cluster/headroom.hpp"

#include <algorithm>
#include <cstdio>

#include "core/statements/spock_sql.hpp"
#include "core/util.hpp"

namespace zodan {

namespace {

CheckResult pass(const std::string &name) { return {name, true, "", ""}; }

long long number(const QueryResult &r, const char *column) { return std::stoll(r.text(0, column, "0")); }


}  // namespace

JoinNeeds needs_of_existing_node(bool is_source, int streams) {
    const long long s = streams;
    return {1, is_source ? 2 : 1, 1, is_source ? s + 3 : 1, 1};
}

JoinNeeds needs_of_new_node(size_t existing, int streams) {
    const auto k = static_cast<long long>(existing);
    const long long s = streams;
    // One apply worker per existing node, and Spock's manager.
    return {k, k, k + 1, 2 + s + std::max(s, 2 * k), k + s};
}

static bool lists_library(const std::string &list, const std::string &library) {
    // A comma-separated GUC list; entries may be quoted or padded.
    size_t start = 0;
    while (start <= list.size()) {
        size_t end = list.find(',', start);
        if (end == std::string::npos) end = list.size();
        std::string item = list.substr(start, end - start);
        const std::string blanks = " \t\"";
        item.erase(0, item.find_first_not_of(blanks));
        item.erase(item.find_last_not_of(blanks) + 1);
        if (item == library || item == "$libdir/" + library) return true;
        start = end + 1;
    }
    return false;
}

std::string human_bytes(long long bytes) {
    const char *units[] = {"bytes", "kB", "MB", "GB", "TB"};
    double value = static_cast<double>(bytes);
    int unit = 0;
    while (value >= 1024 && unit < 4) {
        value /= 1024;
        ++unit;
    }
    char buf[32];
    if (unit == 0) std::snprintf(buf, sizeof buf, "%lld bytes", bytes);
    else std::snprintf(buf, sizeof buf, value < 10 ? "%.1f %s" : "%.0f %s", value, units[unit]);
    return buf;
}

std::vector<CheckResult> capacity_checks(const NodeCapacity &n, const JoinNeeds &needs) {
    std::vector<CheckResult> out;
    const std::string on = "node \"" + n.node + "\": ";
    auto setting = [&](const std::string &name, bool ok, const std::string &have, const std::string &want) {
        const std::string check = "setting " + name + " on " + n.node;
        if (ok) out.push_back(pass(check));
        else
            out.push_back({check, false, on + name + " is " + (have.empty() ? "empty" : "'" + have + "'") + ", Spock needs " + want,
                           "Set " + name + " in postgresql.conf on \"" + n.node + "\" and restart it."});
    };
    setting("wal_level", n.wal_level == "logical", n.wal_level, "'logical'");
    setting("track_commit_timestamp", n.track_commit_timestamp == "on", n.track_commit_timestamp, "'on'");
    setting("shared_preload_libraries", lists_library(n.shared_preload_libraries, "spock"), n.shared_preload_libraries,
            "'spock' in it");
    if (n.output_plugin_libraries && !lists_library(*n.output_plugin_libraries, "spock_output")) {
        // Every Spock slot the join creates (on this node or for it) fails
        // without it, after the join has begun to change the cluster.
        const std::string fixed = n.output_plugin_libraries->empty()
                                      ? std::string("spock_output")
                                      : *n.output_plugin_libraries + ", spock_output";
        out.push_back({"setting output_plugin_libraries on " + n.node, false,
                       on + "output_plugin_libraries is '" + *n.output_plugin_libraries +
                           "', it must list spock_output (every Spock replication slot uses that plugin)",
                       "On \"" + n.node + "\": ALTER SYSTEM SET output_plugin_libraries = '" + fixed +
                           "'; SELECT pg_reload_conf(); (a reload is enough); nothing has been changed yet."});
    }

    auto room = [&](const std::string &what, const std::string &setting_name, long long configured, long long used,
                    long long needed) {
        const std::string check = "free " + what + " on " + n.node;
        if (configured - used >= needed) {
            out.push_back(pass(check));
            return;
        }
        out.push_back({check, false,
                       on + setting_name + " = " + std::to_string(configured) + ", " + std::to_string(used) +
                           " in use, the join needs " + std::to_string(needed) + " more",
                       "Raise " + setting_name + " on \"" + n.node + "\" to at least " +
                           std::to_string(used + needed) + " (a restart is needed); nothing has been changed yet."});
    };
    room("replication slots", "max_replication_slots", n.max_slots, n.slots_used, needs.slots);
    room("replication origins", n.origins_setting, n.max_origins, n.origins_used, needs.origins);
    room("WAL senders", "max_wal_senders", n.max_senders, n.senders_used, needs.senders);
    room("worker processes", "max_worker_processes", n.max_workers, n.workers_used, needs.workers);
    room("connections", "max_connections", n.max_connections, n.connections_used, needs.connections);
    return out;
}

std::vector<CheckResult> check_headroom(Runtime &rt, ClusterView &view, long long *source_bytes) {
    std::vector<Member *> nodes = view.existing();
    if (view.has_new_node()) nodes.push_back(&view.new_node);
    return check_headroom(rt, view, rt.exec_all(same_query(nodes, sql::node_capacity())), source_bytes);
}

std::vector<CheckResult> check_headroom(Runtime &rt, ClusterView &view, const std::vector<QueryResult> &read,
                                        long long *source_bytes) {
    std::vector<Member *> nodes = view.existing();
    const size_t existing = nodes.size();
    if (view.has_new_node()) nodes.push_back(&view.new_node);
    std::vector<CheckResult> out;
    for (size_t i = 0; i < nodes.size(); ++i) {
        NodeCapacity c;
        c.node = nodes[i]->name;
        c.wal_level = read[i].text(0, "wal_level");
        c.track_commit_timestamp = read[i].text(0, "track_commit_timestamp");
        c.shared_preload_libraries = read[i].text(0, "shared_preload_libraries");
        c.output_plugin_libraries = read[i].at(0, "output_plugin_libraries");
        c.origins_setting = read[i].text(0, "origins_setting");
        c.max_origins = number(read[i], "max_origins");
        c.origins_used = number(read[i], "origins_used");
        c.max_slots = number(read[i], "max_slots");
        c.slots_used = number(read[i], "slots_used");
        c.max_senders = number(read[i], "max_senders");
        c.senders_used = number(read[i], "senders_used");
        c.max_workers = number(read[i], "max_workers");
        c.workers_used = number(read[i], "workers_used");
        c.max_connections = number(read[i], "max_connections");
        c.connections_used = number(read[i], "connections_used");
        c.database_bytes = number(read[i], "database_bytes");
        // The run's own spare sessions, opened ahead of the steps that take
        // them (the replication check's among them, open as this was read),
        // are part of what the join needs (below), not of what others use.
        c.senders_used = std::max(0LL, c.senders_used - view.spare.opened_ahead(c.node, SessionKind::Replication));
        c.connections_used = std::max(0LL, c.connections_used - view.spare.opened_ahead(c.node, SessionKind::Regular));
        const bool is_new = i == existing;
        JoinNeeds needs = is_new ? needs_of_new_node(existing, rt.copy_streams())
                                 : needs_of_existing_node(nodes[i] == &view.source, rt.copy_streams());
        // One line per node when all is well; each shortfall on its own.
        bool all_passed = true;
        for (CheckResult &r : capacity_checks(c, needs))
            if (!r.passed) {
                all_passed = false;
                out.push_back(std::move(r));
            }
        if (all_passed) out.push_back(pass("settings and headroom on " + c.node));
        if (nodes[i] == &view.source && source_bytes) *source_bytes = c.database_bytes;
    }
    return out;
}

}  // namespace zodan
