#include "core/waits/slots.hpp"

#include <algorithm>

#include "core/statements/spock_sql.hpp"
#include "core/util.hpp"
#include "core/waits/waiter.hpp"

namespace zodan {

namespace {

constexpr int kOldTransactionMs = 500;   // younger ones are ordinary traffic
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

void create_slots(Runtime &rt, const std::vector<SlotToMake> &slots, const Flusher &flush) {
    const Waiter whole(rt);
    std::vector<SlotToMake> pending = slots;
    while (!pending.empty()) {
        std::vector<Member *> nodes;
        for (const SlotToMake &s : pending)
            if (std::find(nodes.begin(), nodes.end(), s.node) == nodes.end()) nodes.push_back(s.node);
        const int64_t link_ms =
            wait_for_long_transactions(rt, nodes, whole.deadline(), "a replication slot there cannot start before");
        for (const SlotToMake &s : pending) (s.via ? *s.via : s.node->db()).send(sql::create_slot(s.slot));
        // An attempt that takes longer waits for something: cancelled, then
        // made again once the long transactions it waits for have ended. The
        // slot's answer and the flushes cross the link: a far node gets the
        // time a near one does, plus its round trips.
        Waiter attempt = whole.within(kSlotAttemptMs + static_cast<int>(2 * std::min<int64_t>(link_ms, kLongestLinkMs)));
        attempt.pace(kFirstPollMs, kLongestPollMs, kLongestPollMs);
        std::vector<SlotToMake> again;
        std::vector<bool> done(pending.size(), false);
        try {
            for (;;) {
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
                if (all || attempt.expired()) break;
                if (flush)
                    for (Member *m : waiting) flush(*m);
                attempt.sleep();
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
        if (!pending.empty() && whole.expired())
            throw UserError(whole.timed_out() + " creating replication slot " + pending.front().slot + " on node \"" +
                                pending.front().node->name + "\"",
                            "", "", Cause::TimedOut);
    }
}

}  // namespace zodan
