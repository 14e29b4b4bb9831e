#include "core/waits/replication_waits.hpp"

#include <algorithm>

#include "core/statements/spock_sql.hpp"
#include "core/util.hpp"
#include "core/waits/waiter.hpp"

namespace zodan {

namespace {

constexpr int kDownGraceMs = 10000;  // a worker (re)starting may show 'down' briefly
// After the node's restart delay, the new worker's own start and connection.
constexpr int kRestartSlackMs = 5000;
// Down this long with its worker's process still running means Spock lost track of it.
constexpr int kLostWorkerAfterMs = 2000;
constexpr int kLostWorkerChecksMs = 1000;
constexpr int kLostWorkerEndings = 3;

// A subscription's state across the polls of one wait.
struct DownState {
    int64_t since = 0;
    int64_t last_check = 0;
    int endings = 0;
    int64_t restart_delay_ms = -1;  // the node's; read only once kDownGraceMs has passed
    int64_t grace_ms() const { return std::max<int64_t>(kDownGraceMs, restart_delay_ms + kRestartSlackMs); }
};

// Spock starts a failed apply worker again only after the node's restart
// delay (5 s unless the operator set it longer), and its manager may sleep
// that long before it notices a worker that simply exited: a node configured
// slower must not fail an add that Spock would heal. Every subscription just
// enabled shows 'down' until its worker attaches, so the delay is read only
// once a subscription has been down for longer than the default allowance.
int64_t restart_delay_ms(const Member &node) {
    return std::stoll(node.db().exec(sql::apply_restart_delay()).text(0, "ms", "0"));
}

// Spock keeps its workers in shared slots, and a manager exiting in another
// database can clear a slot an apply worker has just taken: that worker keeps
// applying, unlisted, sub_show_status says 'down', and every worker Spock
// starts in its place fails on the replication origin the lost one holds.
// Ending the lost worker (as a crash would) lets Spock's next start succeed.
void end_lost_worker(Runtime &rt_, const Member &node, const std::string &sub, DownState &down) {
    const int64_t now = rt_.now_ms();
    if (down.endings >= kLostWorkerEndings || now - down.since < kLostWorkerAfterMs ||
        now - down.last_check < kLostWorkerChecksMs)
        return;
    down.last_check = now;
    QueryResult ended = node.db().exec(sql::end_lost_apply_workers(sub));
    if (ended.size() == 0) return;
    std::vector<std::string> pids;
    for (size_t i = 0; i < ended.size(); ++i) pids.push_back(ended.text(i, "pid"));
    ++down.endings;
    down.since = now;  // Spock's restart of the worker gets a full grace period
    // Healed, and a race: the server's log, not the caller's output.
    rt_.report(Level::Log,
               "Spock lost track of the apply worker of subscription " + sub + " on node \"" + node.name +
                   "\"; ended it so that Spock starts it again",
               "process " + join(pids));
}

// Fails fast on a subscription that cannot deliver: disabled, or down for too long.
void require_healthy(Runtime &rt_, const Member &node, const std::string &sub, const std::string &status,
                     std::map<std::string, DownState> &down) {
    const std::string key = node.name + "/" + sub;
    if (status == "disabled")
        throw UserError("subscription " + sub + " on node \"" + node.name + "\" is disabled", "",
                        "Check the node's log for an apply error.");
    if (status != "down") {
        down.erase(key);
        return;
    }
    auto [it, fresh] = down.emplace(key, DownState{rt_.now_ms(), 0, 0});
    if (fresh) return;
    end_lost_worker(rt_, node, sub, it->second);
    const int64_t down_ms = rt_.now_ms() - it->second.since;
    if (down_ms <= kDownGraceMs) return;
    if (it->second.restart_delay_ms < 0) it->second.restart_delay_ms = restart_delay_ms(node);
    if (down_ms > it->second.grace_ms())
        throw UserError("subscription " + sub + " on node \"" + node.name + "\" is down",
                        "Down for " + std::to_string(down_ms / 1000) + " s, longer than the " +
                            std::to_string(it->second.grace_ms() / 1000) + " s allowed for Spock to start its worker again (" +
                            std::to_string(it->second.restart_delay_ms) + " ms restart delay on that node).",
                        "Check the node's log: its apply or copy worker stopped.");
}

}  // namespace

std::map<std::string, Lsn> sync_and_wait(Runtime &rt_, const std::vector<Member *> &origins, Member &target) {
    std::vector<QueryResult> events = rt_.exec_all(same_query(origins, sql::sync_event()));
    std::map<std::string, Lsn> lsns;
    for (size_t i = 0; i < origins.size(); ++i) lsns[origins[i]->name] = lsn_of(events[i].scalar());
    wait_applied(rt_, {&target}, lsns);
    return lsns;
}

void wait_applied(Runtime &rt_, const std::vector<Member *> &targets, const std::map<std::string, Lsn> &through) {
    if (through.empty() || targets.empty()) return;
    std::vector<std::string> origins, target_names;
    for (const auto &item : through) origins.push_back(item.first);
    for (const Member *t : targets) target_names.push_back(t->name);
    std::map<std::string, DownState> down;
    wait_until(rt_, join(target_names) + " to apply the changes of " + join(origins), [&] {
        // The status with the positions, in one round trip: across regions
        // each poll costs the link's delay.
        std::vector<QueryResult> read = rt_.exec_all(same_query(targets, sql::progress_and_status(origins)));
        bool all = true;
        for (size_t t = 0; t < targets.size(); ++t) {
            const QueryResult progress = sql::part_of(read[t], "progress", Stmt::AppliedThrough);
            std::map<std::string, Lsn> applied;
            for (size_t i = 0; i < progress.size(); ++i)
                if (progress.at(i, "lsn")) applied[progress.text(i, "origin")] = parse_lsn(progress.text(i, "lsn"));
            const bool behind = std::any_of(through.begin(), through.end(), [&](const auto &origin_lsn) {
                auto a = applied.find(origin_lsn.first);
                return a == applied.end() || a->second < origin_lsn.second;
            });
            if (!behind) continue;
            all = false;
            // A subscription that cannot deliver would make us wait for nothing.
            const QueryResult statuses = sql::part_of(read[t], "subscriptions", Stmt::SubscriptionStatus);
            for (size_t i = 0; i < statuses.size(); ++i)
                if (through.count(statuses.text(i, "provider_node")))
                    require_healthy(rt_, *targets[t], statuses.text(i, "subscription_name"), statuses.text(i, "status"),
                                    down);
        }
        return all;
    });
}

namespace {

// Polls `poll` on every node (its statuses as statuses_of gives them) until
// the subscriptions named (all when none) are replicating; returns the last reads.
std::vector<QueryResult> wait_replicating_by(Runtime &rt_, const std::vector<Member *> &nodes,
                                             const std::vector<std::string> &subscriptions, const Query &poll,
                                             const std::function<QueryResult(const QueryResult &)> &statuses_of,
                                             const std::function<void()> &on_poll) {
    std::vector<std::string> names;
    for (const Member *m : nodes) names.push_back(m->name);
    std::map<std::string, DownState> down;
    std::vector<QueryResult> read;
    wait_until(rt_, "the subscriptions on " + join(names) + " to replicate", [&] {
        if (on_poll) on_poll();
        read = rt_.exec_all(same_query(nodes, poll));
        std::vector<QueryResult> statuses;
        for (const QueryResult &r : read) statuses.push_back(statuses_of(r));
        bool all = true;
        for (size_t n = 0; n < nodes.size(); ++n)
            for (size_t i = 0; i < statuses[n].size(); ++i) {
                std::string sub = statuses[n].text(i, "subscription_name"), status = statuses[n].text(i, "status");
                if (!subscriptions.empty() &&
                    std::find(subscriptions.begin(), subscriptions.end(), sub) == subscriptions.end())
                    continue;
                if (status == "replicating") continue;
                all = false;
                require_healthy(rt_, *nodes[n], sub, status, down);
            }
        return all;
    });
    return read;
}

}  // namespace

void wait_replicating(Runtime &rt, const std::vector<Member *> &nodes, const std::vector<std::string> &subscriptions,
                      const std::function<void()> &on_poll) {
    wait_replicating_by(rt, nodes, subscriptions, sql::subscription_status(),
                        [](const QueryResult &r) { return r; }, on_poll);
}

std::vector<QueryResult> wait_mesh_replicating(Runtime &rt, const std::vector<Member *> &nodes) {
    return wait_replicating_by(
        rt, nodes, {}, sql::mesh_view(),
        [](const QueryResult &r) { return sql::part_of(r, "subscriptions", Stmt::SubscriptionStatus); }, {});
}

}  // namespace zodan
