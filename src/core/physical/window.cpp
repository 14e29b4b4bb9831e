#include "core/physical/window.hpp"

#include <algorithm>
#include <sstream>

#include "core/cluster/join_lock.hpp"
#include "core/physical/physical.hpp"
#include "core/physical/physical_sql.hpp"
#include "core/physical/window_sql.hpp"
#include "core/util.hpp"

namespace zodan::physical {

void test_point(AddRun &run, const std::string &point) {
    Runtime &rt = run.rt;
    rt.maybe_fail_at(point);
    if (!rt.pause_requested(point)) return;
    rt.report(Level::Notice, "pausing at step \"" + point + "\" while the advisory lock zodan.pause is held");
    Connection &n = run.new_node().db();
    n.exec({Stmt::PauseHere, "pause", "SELECT pg_catalog.pg_advisory_lock(pg_catalog.hashtext('zodan.pause'))", {}});
    n.exec({Stmt::PauseEnd, "end the pause", "SELECT pg_catalog.pg_advisory_unlock(pg_catalog.hashtext('zodan.pause'))", {}});
}

namespace {

// The steps a physical run has done once its fence is on: what a call on
// the promoted N takes as done (their record travels in the fence's).
const std::vector<StepId> kBeforeTheCopy = {StepId::CheckVersions, StepId::CheckPreconditions, StepId::CreateNode,
                                            StepId::PrepareOtherNodes, StepId::SyncSource};
const std::vector<StepId> kRecorded = {StepId::CheckVersions, StepId::PrepareOtherNodes};

}  // namespace

void record_window(AddRun &run, const std::map<std::string, Lsn> &positions, Lsn slot_start) {
    PhysicalState &ps = state_of(run);
    JsonObject record, at;
    for (StepId id : kRecorded) record.add_raw(step_name(id), record_codec::encode(id, run.record).str());
    for (const auto &[node, lsn] : positions) at.add(node, format_lsn(lsn));
    JsonObject window;
    window.add_raw("positions", at.str())
        .add("slot_start", format_lsn(slot_start))
        .add("standby_slot", ps.standby_slot)
        .add_raw("record", record.str());
    run.source().db().exec(stmt::amend_fence(ps.token, JsonObject().add_raw("window", window.str()).str()));
}

void promote(AddRun &run) {
    Runtime &rt = run.rt;
    PhysicalState &ps = state_of(run);
    Connection &n = run.new_node().db();
    // Before the request: whoever finds this fence dead keeps the slots
    // that N, promoted, resumes with.
    run.source().db().exec(stmt::amend_fence(ps.token, "{\"promoting\": true}"));
    ps.promote_requested = true;
    n.exec(stmt::request_promotion());
    test_point(run, "copy_source:promoting");
    const int64_t deadline = rt.now_ms() + rt.sync_timeout_ms();
    for (int delay = 1;; delay = std::min(delay * 2, 50)) {
        if (n.exec(stmt::replayed()).text(0, "in_recovery") == "false") break;
        if (rt.now_ms() >= deadline)
            throw UserError("this standby did not finish its promotion within zodan.sync_timeout", "",
                            "Once it has, call spock.add_node again on it to finish the add.");
        rt.sleep_ms(delay);
    }
    ps.promoted = true;
}

void lift_after_failure(AddRun &run) noexcept {
    if (!run.physical || !run.physical->fence_on) return;
    PhysicalState &ps = *run.physical;
    Runtime &rt = run.rt;
    try {
        if (ps.promote_requested && !ps.promoted) {
            // Lifted while N still replays, the lift would reach N's catalog
            // before its promotion: Spock there would start S's subscriptions.
            Connection &n = run.new_node().db();
            n.abandon();
            const int64_t deadline = rt.now_ms() + rt.sync_timeout_ms();
            for (int delay = 5;; delay = std::min(delay * 2, 100)) {
                if (n.exec(stmt::replayed()).text(0, "in_recovery") == "false") break;
                if (rt.now_ms() >= deadline) {
                    rt.report(Level::Warning,
                              "add_node: the fence on " + run.args.src_name +
                                  " stays on: this standby's promotion was asked for and has not ended",
                              "Once it has, any later spock.add_node, spock.remove_node or spock.health_check in "
                              "the cluster lifts it.");
                    return;
                }
                rt.sleep_ms(delay);
            }
            ps.promoted = true;
        }
        run.source().db().abandon();
        lift_fence(run);
    } catch (const std::exception &e) {
        rt.report(Level::Warning,
                  "add_node: could not lift the fence on " + run.args.src_name +
                      " (any later add_node, remove_node or health_check lifts it)",
                  e.what());
    }
}

Lsn switchpoint_of(const std::string &history) {
    // Lines "<parent timeline>\t<switchpoint>\t<reason>"; comments start with '#'.
    Lsn last = 0;
    std::istringstream lines(history);
    for (std::string line; std::getline(lines, line);) {
        std::istringstream fields(line);
        std::string tli, lsn;
        if (!(fields >> tli >> lsn) || tli[0] == '#' || !std::all_of(tli.begin(), tli.end(), ::isdigit)) continue;
        last = parse_lsn(lsn);
    }
    return last;
}

std::vector<StepId> resume_from_replayed_fence(AddRun &run) {
    Runtime &rt = run.rt;
    const std::string &S = run.args.src_name, &N = run.args.new_name;
    Connection &n = run.new_node().db();
    QueryResult fence = n.exec(stmt::replayed_fence(S, N));
    if (fence.empty()) return {};
    QueryResult local = n.exec(stmt::local_node());
    // Stripped already, the run's journal would have been there.
    if (local.empty() || local.text(0, "node_name") != S) return {};
    const std::string rebuild = "Rebuild this node as a standby of \"" + S + "\", then call spock.add_node again.";
    // S shares this copy's system identifier: the instance proves the call
    // runs on the copy itself.
    QueryResult me = rt.read_local(stmt::instance_identity()), there = n.exec(stmt::instance_identity());
    if (me.text(0, "started") != there.text(0, "started") || me.text(0, "db") != there.text(0, "db"))
        throw UserError("spock.add_node must be called on the new node \"" + N +
                            "\", but new_node_dsn reaches another server",
                        "", "Point new_node_dsn at this node's own port and database.", Cause::BadArgument);
    QueryResult end = n.exec(stmt::replay_end());
    if (end.text(0, "in_recovery") != "false") return {};
    // The fence's lift replayed before the promotion: Spock here has run
    // S's subscriptions, with S's slots on the peers.
    if (n.exec(stmt::enabled_inbound()).text(0, "n") != "0")
        throw UserError("this copy of \"" + S + "\" was promoted after the fence of an unfinished add was lifted",
                        "Its subscriptions of \"" + S + "\" are enabled: it cannot be told apart from \"" + S + "\".",
                        rebuild);
    const std::string replayed = end.text(0, "replayed");
    const Lsn x = !replayed.empty() ? parse_lsn(replayed) : switchpoint_of(end.text(0, "history"));
    if (!x)
        throw UserError("this node was promoted by an unfinished add, but where its replay ended cannot be read",
                        "No replay position and no timeline history file.", rebuild);
    const JsonValue all = parse_json(fence.text(0, "fence"));
    const JsonValue *window = all.get("window");
    const JsonValue *record = window ? window->get("record") : nullptr;
    if (!record) throw std::logic_error("a fence's window without the run's record");
    for (StepId id : kRecorded)
        if (const JsonValue *part = record->get(step_name(id))) record_codec::decode(id, *part, run.record);
    if (run.record.copy_method != CopyMethod::Physical || !run.record.prepared)
        throw std::logic_error("a fence whose record is not a physical run's");
    SourceCopy &copy = run.record.copy.emplace();
    copy.method = CopyMethod::Physical;
    copy.promoted_at = x;
    if (const JsonValue *at = window->get("positions"))
        for (const auto &[node, lsn] : at->members()) copy.positions[node] = parse_lsn(lsn.text());
    state_of(run).standby_slot = window->text_of("standby_slot");
    state_of(run).promoted = true;
    std::vector<std::string> positions;
    for (const auto &[node, lsn] : copy.positions) positions.push_back(node + " " + format_lsn(lsn));
    rt.report(Level::Notice,
              "add_node: resuming the physical add of " + N + " that stopped after promoting this node, from the "
              "fence on " + S + " it replayed",
              "replay ended at " + format_lsn(x) + "; positions " + join(positions));
    return kBeforeTheCopy;
}

void lift_dead_fences_if_idle(Runtime &rt, const std::vector<Member *> &members, const std::string &who) {
    if (members.empty()) return;
    std::vector<QueryResult> here = rt.exec_all(same_query(members, stmt::journal_here()));
    std::vector<Member *> fenced;
    for (size_t i = 0; i < members.size(); ++i)
        if (here[i].text(0, "here") == "true" && !members[i]->db().exec(stmt::dead_fences()).empty())
            fenced.push_back(members[i]);
    if (fenced.empty()) return;
    // With the join lock no run is alive: the fences are dead. The lock
    // goes with these sessions.
    try {
        take_join_lock(rt, members, "spock." + who);
    } catch (const UserError &e) {
        rt.report(Level::Notice, who + ": a fence is on node \"" + fenced.front()->name +
                                     "\", and a run holds the join lock: left to it", e.what());
        return;
    }
    lift_dead_fences(rt, members, who);
}

}  // namespace zodan::physical
