#include "core/protocol/slots.hpp"

#include <algorithm>

#include "core/protocol/spock_sql.hpp"
#include "core/protocol/util.hpp"
#include "core/protocol/waiter.hpp"

namespace zodan {

namespace {

constexpr int kOldTransactionMs = 500;   // younger ones are ordinary traffic
constexpr int kSlotAttemptMs = 1500;  // then look again, and say, what it waits for

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

void create_slots(Runtime &rt, const std::vector<SlotToMake> &slots, const Flusher &flush) {
    const int64_t deadline = rt.now_ms() + rt.sync_timeout_ms();
    std::vector<SlotToMake> pending = slots;
    while (!pending.empty()) {
        std::vector<Member *> nodes;
        for (const SlotToMake &s : pending)
            if (std::find(nodes.begin(), nodes.end(), s.node) == nodes.end()) nodes.push_back(s.node);
        wait_for_long_transactions(rt, nodes, deadline, "a replication slot there cannot start before");
        for (const SlotToMake &s : pending) (s.via ? *s.via : s.node->db()).send(sql::create_slot(s.slot));
        const int64_t attempt_deadline = std::min(deadline, rt.now_ms() + kSlotAttemptMs);
        std::vector<SlotToMake> again;
        std::vector<bool> done(pending.size(), false);
        try {
            for (int delay = 2;; delay = std::min(delay * 2, kLongestPollMs)) {
                bool all = true;
                std::vector<Member *> waiting;
                for (size_t i = 0; i < pending.size(); ++i) {
                    Connection &c = pending[i].via ? *pending[i].via : pending[i].node->db();
                    if (!done[i] && c.finished()) done[i] = true;
                    if (!done[i]) {
                        all = false;
                        if (std::find(waiting.begin(), waiting.end(), pending[i].node) == waiting.end())
                            waiting.push_back(pending[i].node);
                    }
                }
                if (all || rt.now_ms() >= attempt_deadline) break;
                if (flush)
                    for (Member *m : waiting) flush(*m);
                rt.sleep_ms(delay);
            }
            for (size_t i = 0; i < pending.size(); ++i) {
                Connection &c = pending[i].via ? *pending[i].via : pending[i].node->db();
                if (done[i]) {
                    c.receive();
                } else {
                    c.abandon();  // cancelled; its half-made slot is gone
                    again.push_back(pending[i]);
                }
            }
        } catch (...) {
            for (size_t i = 0; i < pending.size(); ++i) (pending[i].via ? *pending[i].via : pending[i].node->db()).abandon();
            throw;
        }
        pending = std::move(again);
        if (!pending.empty() && rt.now_ms() >= deadline)
            throw UserError("timed out after " + std::to_string(rt.sync_timeout_ms() / 1000) +
                            " s creating replication slot " + pending.front().slot + " on node \"" +
                            pending.front().node->name + "\"");
    }
}

}  // namespace zodan
