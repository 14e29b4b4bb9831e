#include "core/waits/slots.hpp"

#include <algorithm>

#include "core/statements/spock_sql.hpp"
#include "core/util.hpp"
#include "core/waits/waiter.hpp"

namespace zodan {

namespace {

constexpr int kSlotAttemptMs = 1500;  // then look again, and say, what it waits for
constexpr int64_t kLongestLinkMs = 5000;  // a look that took longer waited for something else

std::string describe(const Member &node, const QueryResult &r, size_t i) {
    const std::string pid = r.text(i, "pid");
    return "for the " + (pid.empty() ? r.text(i, "what") : "transaction of process " + pid + " (" + r.text(i, "what") + ")") +
           " on node \"" + node.name + "\", open for " + r.text(i, "seconds") + " s, to end";
}

}  // namespace

int64_t wait_for_long_transactions(Runtime &rt, const std::vector<Member *> &nodes, int64_t deadline_ms,
                                   const std::string &why) {
    if (nodes.empty()) return 0;
    // Each look is a statement on every node, and what it waits for ends
    // when a client says so: a slower pace than the other waits.
    Waiter wait(rt, deadline_ms);
    wait.pace(20, 250, 250);
    for (;;) {
        const int64_t looked = rt.now_ms();
        std::vector<QueryResult> open = rt.exec_all(same_query(nodes, sql::transactions_holding_xids(kOldTransactionMs)));
        const int64_t took = rt.now_ms() - looked;
        std::vector<std::string> waits;
        for (size_t n = 0; n < nodes.size(); ++n)
            for (size_t i = 0; i < open[n].size(); ++i) waits.push_back(describe(*nodes[n], open[n], i));
        if (waits.empty()) return took;
        if (wait.expired())
            throw UserError(wait.timed_out() + " waiting " + waits.front() + ": " + why,
                            waits.size() > 1 ? "Also: " + join(std::vector<std::string>(waits.begin() + 1, waits.end()), "; ") : "",
                            "End that transaction (COMMIT, ROLLBACK, or pg_terminate_backend on that node) or raise "
                            "zodan.sync_timeout, then call the procedure again: it resumes.",
                            Cause::TimedOut);
        if (wait.report_due())
            rt.report(Level::Notice, "waiting " + waits.front() + ": " + why,
                      waits.size() > 1 ? "also " + join(std::vector<std::string>(waits.begin() + 1, waits.end()), "; ") : "");
        wait.sleep();
    }
}

std::vector<QueryResult> create_slots(Runtime &rt, const std::vector<SlotToMake> &slots, const Flusher &flush,
                                      int64_t looked_ms) {
    const Waiter whole(rt);
    std::vector<QueryResult> answers(slots.size());
    std::vector<size_t> pending(slots.size());  // indexes into `slots`
    for (size_t i = 0; i < slots.size(); ++i) pending[i] = i;
    while (!pending.empty()) {
        std::vector<Member *> nodes;
        for (size_t p : pending)
            if (std::find(nodes.begin(), nodes.end(), slots[p].node) == nodes.end()) nodes.push_back(slots[p].node);
        const int64_t link_ms =
            looked_ms >= 0 ? looked_ms
                           : wait_for_long_transactions(rt, nodes, whole.deadline(), "a replication slot there cannot start before");
        looked_ms = -1;  // a later attempt looks again
        for (size_t p : pending) {
            const SlotToMake &s = slots[p];
            (s.via ? *s.via : s.node->db())
                .send(s.sync_event_after ? sql::create_slot_then_sync_event(s.slot) : sql::create_slot(s.slot));
        }
        // An attempt that takes longer waits for something: cancelled, then
        // made again once the long transactions it waits for have ended. The
        // slot's answer and the flushes cross the link: a far node gets the
        // time a near one does, plus its round trips.
        Waiter attempt = whole.within(kSlotAttemptMs + static_cast<int>(2 * std::min<int64_t>(link_ms, kLongestLinkMs)));
        attempt.pace(kFirstPollMs, kLongestPollMs, kLongestPollMs);
        std::vector<size_t> again;
        std::vector<bool> done(pending.size(), false);
        auto via = [&](size_t i) -> Connection & {
            const SlotToMake &s = slots[pending[i]];
            return s.via ? *s.via : s.node->db();
        };
        try {
            for (;;) {
                bool all = true;
                std::vector<Member *> waiting;
                for (size_t i = 0; i < pending.size(); ++i) {
                    Connection &c = via(i);
                    if (!done[i] && c.finished()) done[i] = true;
                    if (!done[i]) {
                        all = false;
                        Member *node = slots[pending[i]].node;
                        if (std::find(waiting.begin(), waiting.end(), node) == waiting.end()) waiting.push_back(node);
                    }
                }
                if (all || attempt.expired()) break;
                if (flush)
                    for (Member *m : waiting) flush(*m);
                attempt.sleep();
            }
            for (size_t i = 0; i < pending.size(); ++i) {
                Connection &c = via(i);
                if (done[i]) {
                    answers[pending[i]] = c.receive();
                } else {
                    c.abandon();  // cancelled; its half-made slot is gone
                    again.push_back(pending[i]);
                }
            }
        } catch (...) {
            for (size_t i = 0; i < pending.size(); ++i) via(i).abandon();
            throw;
        }
        pending = std::move(again);
        if (!pending.empty() && whole.expired())
            throw UserError(whole.timed_out() + " creating replication slot " + slots[pending.front()].slot +
                                " on node \"" + slots[pending.front()].node->name + "\"",
                            "", "", Cause::TimedOut);
    }
    return answers;
}

}  // namespace zodan
