#include "core/copy/copy_point.hpp"

#include <algorithm>

#include "core/copy/cleanup.hpp"
#include "core/waits/slots.hpp"
#include "core/statements/spock_sql.hpp"
#include "core/util.hpp"
#include "core/waits/waiter.hpp"

namespace zodan {

namespace {


std::string moved(const std::map<std::string, Lsn> &before, const std::map<std::string, Lsn> &after) {
    std::vector<std::string> out;
    for (const auto &[node, lsn] : after) {
        auto b = before.find(node);
        if (b == before.end() || b->second != lsn)
            out.push_back(node + " " + (b == before.end() ? std::string("?") : format_lsn(b->second)) + " -> " +
                          format_lsn(lsn));
    }
    return join(out);
}

// S's apply workers, paused until this goes (or resume() is called).
class ApplyPause {
public:
    ApplyPause(Runtime &rt, Connection &source) : rt_(rt), source_(source) {
        const QueryResult paused = source_.exec(sql::pause_apply_workers());
        paused_ = true;
        // Spock's workers give up a pause after spock.pause_timeout.
        timeout_ms_ = std::max(2, std::stoi(paused.text(0, "seconds", "10"))) * 1000;
    }
    int timeout_ms() const { return timeout_ms_; }
    void resume() {
        if (!paused_) return;
        paused_ = false;
        source_.exec(sql::resume_apply_workers());
    }
    ~ApplyPause() {
        if (!paused_) return;
        // Should it not get through, Spock's workers resume by themselves
        // after spock.pause_timeout.
        send_on_the_way_out(rt_, source_, sql::resume_apply_workers());
    }

private:
    Runtime &rt_;
    Connection &source_;
    bool paused_ = false;
    int timeout_ms_ = 10000;
};

}  // namespace

std::map<std::string, Lsn> positions_on_source(ClusterView &view) {
    std::map<std::string, Lsn> out;
    const std::vector<std::string> others = view.other_names();
    if (others.empty()) return out;
    QueryResult r = view.source.db().exec(sql::applied_through(others));
    for (size_t i = 0; i < r.size(); ++i)
        if (r.at(i, "lsn")) out[r.text(i, "origin")] = parse_lsn(r.text(i, "lsn"));
    for (const std::string &o : others)
        if (!out.count(o))
            throw UserError("node \"" + view.source.name + "\" shows no applied position for node \"" + o + "\"",
                            "Its subscription from " + o + " has never applied anything.",
                            "Check that " + view.source.name + " subscribes to " + o + " and replicates.");
    return out;
}

CopyPoint take_copy_point(Runtime &rt, ClusterView &view, const std::string &slot) {
    Connection &s = view.source.db();
    const Waiter whole(rt);
    CopyPoint point;
    point.slot = slot;
    for (int attempt = 1;; ++attempt) {
        // Its last look is one round trip to S: the slot's answer and S's
        // sync events cross the same link, so a far source gets the time a
        // near one does plus two round trips; the pause lasts three more
        // (the positions before and after, the resume).
        const int link_ms = static_cast<int>(std::min<int64_t>(
            5000, wait_for_long_transactions(rt, {&view.source}, whole.deadline(),
                                             "the copy's replication slot cannot start before")));
        std::unique_ptr<Connection> holder = view.spare.take(rt, view.source, SessionKind::Replication);
        std::map<std::string, Lsn> before, after;
        int slot_budget_ms = 0;
        QueryResult created;
        bool timed_out = false;
        try {
            ApplyPause pause(rt, s);
            // The slot must be made well within spock.pause_timeout, or the
            // attempt is started again. Short, too: S applies nothing meanwhile.
            slot_budget_ms = std::max(
                1000 + 2 * link_ms, std::min(1500 + 2 * link_ms, pause.timeout_ms() - 2000 - 3 * link_ms));
            before = positions_on_source(view);
            holder->send(sql::create_slot_exporting_snapshot(slot));
            // The slot waits, among others, for S to flush the WAL it wrote
            // to start from; S's own session flushes it (a sync event)
            // rather than leaving it to the WAL writer's next round.
            Waiter attempt = whole.within(slot_budget_ms);
            attempt.pace(kFirstPollMs, 20, 20);
            while (!holder->finished() && !attempt.expired()) {
                s.exec(sql::sync_event());
                attempt.sleep();
            }
            try {
                created = holder->receive_before(attempt.deadline());
            } catch (const StatementTimedOut &) {
                timed_out = true;  // cancelled: PostgreSQL drops the half-made slot
            }
            if (!timed_out) after = positions_on_source(view);
            pause.resume();
        } catch (const RemoteError &e) {
            // An apply worker of S stayed inside one transaction longer than
            // spock.pause_timeout: nothing was made; again, once it is done.
            if (e.sqlstate() != "55P03") throw;
            rt.report(Level::Notice, "add_node: the apply workers of " + view.source.name +
                                         " did not pause in time; taking the copy point again",
                      e.server_message());
            if (whole.expired()) throw;
            continue;
        }
        if (!timed_out && after == before) {
            point.consistent_point = parse_lsn(created.text(0, "consistent_point"));
            point.snapshot = created.text(0, "snapshot_name");
            point.peer_positions = std::move(before);
            point.holder = std::move(holder);
            point.attempts = attempt;
            return point;
        }
        // Not a proven point: let the snapshot and the slot go, then again.
        holder.reset();
        if (!timed_out) drop_slot_if_exists(rt, s, slot);
        rt.report(Level::Notice,
                  "add_node: taking the copy point on " + view.source.name + " again (attempt " +
                      std::to_string(attempt + 1) + ")",
                  timed_out ? "the slot was not made within " + std::to_string(slot_budget_ms / 1000) +
                                  " s while the apply workers were paused"
                            : "positions moved while it was taken: " + moved(before, after));
        if (whole.expired())
            throw UserError(whole.timed_out() + " taking the copy point on node \"" + view.source.name + "\"",
                            "Nothing is left of the attempts on " + view.source.name + ".",
                            "Look for long transactions on " + view.source.name +
                                " and call spock.add_node again to resume.",
                            Cause::TimedOut);
    }
}

}  // namespace zodan
