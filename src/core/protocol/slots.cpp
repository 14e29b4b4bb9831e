#include "core/protocol/slots.hpp"

#include <algorithm>

#include "core/protocol/spock_sql.hpp"
#include "core/protocol/util.hpp"

namespace zodan {

namespace {

constexpr int kOldTransactionMs = 500;   // younger ones are ordinary traffic
constexpr int kSlotAttemptMs = 5000;       // then look again at what it waits for

std::string describe(const Member &node, const QueryResult &r, size_t i) {
    const std::string pid = r.text(i, "pid");
    return "for the " + (pid.empty() ? r.text(i, "what") : "transaction of process " + pid + " (" + r.text(i, "what") + ")") +
           " on node \"" + node.name + "\", open for " + r.text(i, "seconds") + " s, to end";
}

}  // namespace

void wait_for_long_transactions(Runtime &rt, const std::vector<Member *> &nodes, int64_t deadline_ms,
                                const std::string &why) {
    if (nodes.empty()) return;
    const int interval = rt.progress_interval_ms();
    int64_t next_report = rt.now_ms() + interval;
    for (int delay = 20;; delay = std::min(delay * 2, 250)) {
        std::vector<QueryResult> open = rt.exec_all(same_query(nodes, sql::transactions_holding_xids(kOldTransactionMs)));
        std::vector<std::string> waits;
        for (size_t n = 0; n < nodes.size(); ++n)
            for (size_t i = 0; i < open[n].size(); ++i) waits.push_back(describe(*nodes[n], open[n], i));
        if (waits.empty()) return;
        if (rt.now_ms() >= deadline_ms)
            throw UserError("timed out after " + std::to_string(rt.sync_timeout_ms() / 1000) + " s waiting " +
                                waits.front() + ": " + why,
                            waits.size() > 1 ? "Also: " + join(std::vector<std::string>(waits.begin() + 1, waits.end()), "; ") : "",
                            "End that transaction (COMMIT, ROLLBACK, or pg_terminate_backend on that node) or raise "
                            "zodan.sync_timeout, then call the procedure again: it resumes.");
        if (interval > 0 && rt.now_ms() >= next_report) {
            rt.report(Level::Notice, "waiting " + waits.front() + ": " + why,
                      waits.size() > 1 ? "also " + join(std::vector<std::string>(waits.begin() + 1, waits.end()), "; ") : "");
            next_report = rt.now_ms() + interval;
        }
        rt.sleep_ms(delay);
    }
}

void create_slots(Runtime &rt, const std::vector<std::pair<Member *, std::string>> &slots) {
    const int64_t deadline = rt.now_ms() + rt.sync_timeout_ms();
    std::vector<std::pair<Member *, std::string>> pending = slots;
    while (!pending.empty()) {
        std::vector<Member *> nodes;
        for (auto &[m, slot] : pending)
            if (std::find(nodes.begin(), nodes.end(), m) == nodes.end()) nodes.push_back(m);
        wait_for_long_transactions(rt, nodes, deadline, "a replication slot there cannot start before");
        std::vector<std::pair<Connection *, Query>> creates;
        for (auto &[m, slot] : pending) creates.emplace_back(m->conn.get(), sql::create_slot(slot));
        // An attempt that passes its deadline is cancelled, and PostgreSQL
        // drops the half-made slot.
        std::vector<std::optional<QueryResult>> made =
            rt.exec_all_until(creates, std::min(deadline, rt.now_ms() + kSlotAttemptMs));
        std::vector<std::pair<Member *, std::string>> again;
        for (size_t i = 0; i < pending.size(); ++i)
            if (!made[i]) again.push_back(pending[i]);
        pending = std::move(again);
        if (!pending.empty() && rt.now_ms() >= deadline)
            throw UserError("timed out after " + std::to_string(rt.sync_timeout_ms() / 1000) +
                            " s creating replication slot " + pending.front().second + " on node \"" +
                            pending.front().first->name + "\"");
    }
}

}  // namespace zodan
