#include <set>

#include "core/physical/physical.hpp"
#include "core/physical/physical_sql.hpp"
#include "core/physical/window_sql.hpp"
#include "core/copy/cleanup.hpp"
#include "core/util.hpp"
#include "core/text/json.hpp"

namespace zodan::physical {

namespace {

// Enables what the fence(s) disabled and forgets them, in one transaction
// on `source`. Returns, per new node named, the subscriptions enabled.
std::map<std::string, std::vector<std::string>> lift(Connection &source, const Value &token) {
    source.exec(stmt::begin());
    QueryResult enabled;
    try {
        enabled = source.exec(stmt::enable_fenced(token));
        source.exec(stmt::forget_fence(token));
        source.exec(stmt::commit());
    } catch (...) {
        try {
            source.exec(stmt::rollback());
        } catch (...) {
        }
        throw;
    }
    std::map<std::string, std::vector<std::string>> out;
    for (size_t i = 0; i < enabled.size(); ++i) {
        std::vector<std::string> &subs = out[enabled.text(i, "new_node")];
        if (enabled.text(i, "enabled") == "true") subs.push_back(enabled.text(i, "sub_name"));
    }
    return out;
}

}  // namespace

namespace {

// Until no apply worker of S's database runs, or `wait_ms` passed; whether
// none runs. Inside the fence's transaction the activity is read afresh
// each time (a transaction keeps its first reading).
bool apply_workers_gone(Runtime &rt, Connection &s, int wait_ms) {
    const int64_t deadline = rt.now_ms() + wait_ms;
    for (int delay = 1;; delay = std::min(delay * 2, 50)) {
        s.exec(stmt::clear_stats_snapshot());
        if (s.exec(stmt::apply_workers_running()).text(0, "n") == "0") return true;
        if (rt.now_ms() >= deadline) return false;
        rt.sleep_ms(delay);
    }
}

}  // namespace

std::vector<std::string> put_fence(AddRun &run) {
    Runtime &rt = run.rt;
    PhysicalState &ps = state_of(run);
    Connection &s = run.source().db();
    std::vector<std::string> subs;
    if (rt.skip_fence()) {  // test builds only: regress/t/088's negative control
        rt.report(Level::Warning, "add_node: the fence is skipped (zodan.skip_fence, a test hook)");
        return subs;
    }
    // What the run made on the members, for whoever lifts a fence it left.
    JsonObject slots;
    if (run.record.prepared)
        for (const auto &[node, path] : run.record.prepared->paths) slots.add(node, path.slot);
    s.exec(stmt::begin());
    try {
        QueryResult disabled = s.exec(stmt::disable_inbound());
        for (size_t i = 0; i < disabled.size(); ++i) subs.push_back(disabled.text(i, "sub_name"));
        s.exec(stmt::record_fence(run.args.src_name, run.args.new_name, ps.token, subs, slots.str()));
        // Spock ends the workers at the commit with a SIGTERM, and a worker
        // ended inside a peer's transaction leaves its mark on it: the next
        // worker then discards that transaction (spock.exception_behaviour
        // transdiscard, the default), and S loses it. A worker whose
        // provider's connection ends clears the mark first. So the
        // walsenders serving S are ended on the peers, and the commit waits
        // until S's workers are gone; meanwhile this transaction holds
        // S's local_node lock, so that Spock's manager starts none again.
        std::vector<std::pair<Connection *, Query>> ends;
        for (size_t i = 0; i < disabled.size(); ++i)
            if (Member *o = run.member(disabled.text(i, "provider")))
                ends.emplace_back(o->conn.get(), stmt::end_walsender(disabled.text(i, "slot")));
        rt.exec_all(ends);
        if (!apply_workers_gone(rt, s, 5000))
            rt.report(Level::Warning,
                      "add_node: an apply worker of " + run.args.src_name +
                          " did not stop when its provider's connection ended; Spock stops it now",
                      "Should it be inside a transaction, Spock may discard that transaction on "
                      + run.args.src_name + " when the subscription is enabled again (see its spock.exception_log).");
        ps.fence_on = true;  // from here a failure lifts it (even when the commit's answer is lost)
        s.exec(stmt::commit());
    } catch (...) {
        send_on_the_way_out(rt, s, stmt::rollback());
        throw;
    }
    if (!apply_workers_gone(rt, s, rt.sync_timeout_ms()))
        throw UserError("the apply workers of \"" + run.args.src_name + "\" did not stop within " +
                            std::to_string(rt.sync_timeout_ms() / 1000) +
                            " s after their subscriptions were disabled",
                        "", "Check that node's log; the fence is lifted, and calling spock.add_node again starts over.");
    return subs;
}

void lift_fence(AddRun &run) {
    PhysicalState &ps = state_of(run);
    if (!ps.fence_on) return;
    lift(run.source().db(), ps.token);
    ps.fence_on = false;
}

void lift_dead_fences(Runtime &rt, const std::vector<Member *> &members, const std::string &who) {
    if (members.empty()) return;
    // Looked for where the first read of the node did not already.
    std::vector<Member *> unread;
    for (Member *m : members)
        if (!m->journal_here) unread.push_back(m);
    std::vector<QueryResult> read = rt.exec_all(same_query(unread, stmt::journal_here()));
    for (size_t i = 0, next = 0; i < members.size(); ++i) {
        const bool here =
            members[i]->journal_here ? *members[i]->journal_here : read.at(next++).text(0, "here") == "true";
        if (!here) continue;
        QueryResult fences = members[i]->db().exec(stmt::dead_fences());
        if (fences.empty()) continue;
        std::set<std::string> promoting;
        for (size_t f = 0; f < fences.size(); ++f)
            if (fences.text(f, "promoting") == "true") promoting.insert(fences.text(f, "new_node"));
        for (const auto &[new_node, subs] : lift(members[i]->db(), std::nullopt))
            rt.report(Level::Warning,
                      who + ": lifted the fence an unfinished physical add of node \"" + new_node + "\" left on node \"" +
                          members[i]->name + "\"",
                      (subs.empty() ? "It had disabled no subscription."
                                    : "Enabled again: " + join(subs) + ". They had applied nothing since the fence.") +
                          (promoting.count(new_node)
                               ? "\nThat run had promoted its standby " + new_node +
                                     ": the slots it made are kept. Call spock.add_node on " + new_node +
                                     " again to finish the add."
                               : ""));
        // The slots that run made for its node, unless it had its standby
        // promoted: a call on that node resumes the run with them
        // (window.hpp). Otherwise no run can use them any more.
        for (size_t f = 0; f < fences.size(); ++f) {
            if (fences.text(f, "promoting") == "true") continue;
            const JsonValue made = parse_json(fences.text(f, "slots", "{}"));
            for (const auto &[node, slot] : made.members())
                for (Member *m : members)
                    if (m->name == node && drop_slot_if_exists(rt, m->db(), slot.text()))
                        rt.report(Level::Notice, who + ": dropped the slot " + slot.text() + " that run made on node " +
                                                     node);
        }
    }
}

void abandon_before_promotion(AddRun &run) noexcept {
    if (!run.physical) return;
    PhysicalState &ps = *run.physical;
    if (ps.promote_requested) {
        // N is promoted, or about to be: its slots are the run's to resume
        // with, and the fence was lifted once N left recovery (window.hpp).
        run.rt.report(Level::Notice, "add_node: the physical add stopped after this standby's promotion was asked "
                                     "for; once it is promoted, call spock.add_node again to finish the add");
        return;
    }
    if (!ps.fence_on && !ps.source_slot_made && !ps.peer_slots_ours) return;  // refused: nothing made
    Runtime &rt = run.rt;
    auto quietly = [&](const std::string &what, const std::function<void()> &f) {
        try {
            f();
        } catch (const std::exception &e) {
            rt.report(Level::Warning, "add_node: could not " + what, e.what());
        }
    };
    if (ps.fence_on) {
        // The failure may have left S's session mid-statement.
        run.source().db().abandon();
        quietly("lift the fence on " + run.args.src_name + " (any later add_node or remove_node lifts it)",
                [&] { lift_fence(run); });
    }
    if (ps.source_slot_made && run.record.prepared)
        quietly("drop the slot it made on " + run.args.src_name, [&] {
            run.source().db().abandon();
            drop_slot_if_exists(rt, run.source().db(), run.path(run.args.src_name).slot);
        });
    if (ps.peer_slots_ours && run.record.prepared)
        for (Member *o : run.others())
            quietly("drop the slot it made on " + o->name, [&] {
                o->db().abandon();
                drop_slot_if_exists(rt, o->db(), run.path(o->name).slot);
            });
    rt.report(Level::Notice, "add_node: the physical add stopped before the promotion; this server is still a "
                             "standby of " + run.args.src_name + "; call spock.add_node again to start over");
}

}  // namespace zodan::physical
