// Step copy_source of a physical run (docs/physical.md; the argument is in
// docs/protocol.md, "The physical seed"). N is a hot standby of S and holds
// S's data already; what it needs is a cut that each change of S's and of
// every O's falls on one side of, exactly:
//  - the S -> N slot on S (its start C), before the fence, so that a long
//    transaction on S delays the add but never the peers' changes to S;
//  - the fence, on S in one transaction: every subscription into S
//    disabled, recorded; S's apply workers gone; then A (S's position of
//    every O) and F (a sync event of S's, after all of it);
//  - N replays past max(C, F): its catalog now holds S's subscriptions
//    disabled, so once promoted Spock starts none of them (they would use
//    S's slots on the peers); N is promoted; X = where its replay ended;
//  - S's positions again (B = A: nothing was applied meanwhile), and the
//    fence lifted;
//  - the run's journal starts on N; S's identity is stripped from N; N
//    becomes a Spock node with its subscriptions, disabled, sub_S_N's
//    origin at X (advance_slots puts each sub_O_N's at A_O).
#include <algorithm>

#include "core/physical/physical.hpp"
#include "core/physical/physical_sql.hpp"
#include "core/copy/copy_point.hpp"
#include "core/plan/add_run.hpp"
#include "core/waits/slots.hpp"
#include "core/statements/spock_sql.hpp"
#include "core/util.hpp"
#include "core/steps/paths_in.hpp"

namespace zodan {

void create_node(AddRun &, Figures &);

namespace {

namespace stmt = physical::stmt;

// Until N has replayed S's WAL up to `target`.
void wait_replayed(AddRun &run, Lsn target) {
    Runtime &rt = run.rt;
    const int64_t started = rt.now_ms(), deadline = started + rt.sync_timeout_ms();
    int64_t next_report = started + std::max(1000, rt.progress_interval_ms());
    for (int delay = 1;; delay = std::min(delay * 2, 20)) {
        QueryResult r = run.new_node().db().exec(stmt::replayed());
        const Lsn at = parse_lsn(r.text(0, "replayed", "0/0"));
        if (at >= target) return;
        if (rt.now_ms() >= deadline)
            throw UserError("this standby did not replay the source's WAL up to the fence within " +
                                std::to_string(rt.sync_timeout_ms() / 1000) + " s",
                            "Replayed up to " + format_lsn(at) + ", the fence is at " + format_lsn(target) + ".",
                            "Check its replication from \"" + run.args.src_name +
                                "\"; the fence is lifted, and calling spock.add_node again starts over.");
        if (rt.now_ms() >= next_report) {
            rt.report(Level::Notice, "add_node: waiting for this standby to replay the source's WAL up to the fence",
                      std::to_string(target - at) + " bytes to go");
            next_report = rt.now_ms() + std::max(1000, rt.progress_interval_ms());
        }
        rt.sleep_ms(delay);
    }
}

std::string describe(const std::map<std::string, Lsn> &positions) {
    std::vector<std::string> out;
    for (const auto &[node, lsn] : positions) out.push_back(node + " " + format_lsn(lsn));
    return join(out);
}

// From the slot to the fence lifted: N promoted at X, its positions of the
// O's recorded, the journal started.
void promote_at_fence(AddRun &run, Figures &figures) {
    Runtime &rt = run.rt;
    physical::PhysicalState &ps = physical::state_of(run);
    Member &s = run.source();
    Connection &n = run.new_node().db();
    const std::string slot = run.path(run.args.src_name).slot;
    SourceCopy &copy = *run.record.copy;

    {
        // Made on a session of its own while S's flushes its WAL.
        std::unique_ptr<Connection> making = rt.connect(s.name, s.dsn.text());
        create_slots(rt, {{&s, slot, making.get()}}, [](Member &m) { m.db().exec(sql::sync_event()); });
    }
    ps.source_slot_made = true;
    const Lsn c = lsn_of(s.db().exec(sql::slot_exists(slot)).at(0, "lsn"));

    const int64_t fence_started = rt.now_ms();
    std::vector<std::string> fenced = physical::put_fence(run);
    std::map<std::string, Lsn> a = positions_on_source(run.view);
    // After every commit S's workers made: N replays past it.
    const Lsn f = lsn_of(s.db().exec(sql::sync_event()).scalar());
    const Lsn target = std::max(c, f);
    // Test only: a failure, or a pause (to kill the call), with the fence on.
    rt.maybe_fail_at("copy_source:fence");
    if (rt.pause_requested("copy_source:fence")) {
        rt.report(Level::Notice,
                  "pausing at step \"copy_source:fence\" while the advisory lock zodan.pause is held");
        n.exec({Stmt::PauseHere, "pause", "SELECT pg_catalog.pg_advisory_lock(pg_catalog.hashtext('zodan.pause'))", {}});
        n.exec({Stmt::PauseEnd, "end the pause", "SELECT pg_catalog.pg_advisory_unlock(pg_catalog.hashtext('zodan.pause'))", {}});
    }
    wait_replayed(run, target);

    Lsn x = 0;
    std::map<std::string, Lsn> b;
    try {
        QueryResult promoted = n.exec(stmt::promote(std::max(1, rt.sync_timeout_ms() / 1000)));
        if (promoted.text(0, "promoted") != "true")
            throw UserError("this standby did not finish its promotion within zodan.sync_timeout", "",
                            "It may still finish it; then rebuild it as a standby of \"" + run.args.src_name +
                                "\" and call spock.add_node again.");
        ps.promoted = true;
        rt.maybe_fail_at("copy_source:promoted");  // test only: a run that dies before the strip
        QueryResult at = n.exec(stmt::replayed());
        x = parse_lsn(at.text(0, "replayed", "0/0"));
        if (at.text(0, "in_recovery") != "false" || x < target)
            throw std::logic_error("the promoted standby replayed up to " + format_lsn(x) + ", before the fence at " +
                                   format_lsn(target));
        b = positions_on_source(run.view);
    } catch (...) {
        // Safe at any point: N has replayed the fence.
        try {
            physical::lift_fence(run);
        } catch (...) {
        }
        throw;
    }
    physical::lift_fence(run);
    const int64_t fence_ms = rt.now_ms() - fence_started;

    // N is writable: the run's own journal starts, in place of S's.
    physical::drop_copied_journal(run);
    copy.promoted_at = x;
    copy.positions = a;
    if (run.open_journal) run.open_journal();
    run.journal.save(StepId::CopySource, run.record);
    if (b != a)
        throw UserError("the positions of \"" + run.args.src_name + "\" moved while the fence was on",
                        "At the fence " + describe(a) + "; after the promotion " + describe(b) +
                            ". Another session enabled a subscription into it meanwhile?",
                        "Roll the run back with spock.remove_node('" + run.args.new_name +
                            "', ...) and rebuild this node as a standby of \"" + run.args.src_name + "\".");
    figures.add("slot", slot)
        .add("fence_ms", static_cast<long long>(fence_ms))
        .add("fenced", join(fenced))
        .add("slot_start", format_lsn(c))
        .add("fence_lsn", format_lsn(f))
        .add("promoted_at", format_lsn(x));
    rt.report(Level::Notice,
              "add_node: this standby of " + run.args.src_name + " is promoted; the fence on " + run.args.src_name +
                  " is lifted",
              "the fence held " + std::to_string(fence_ms) + " ms (" + std::to_string(fenced.size()) +
                  " subscription(s)); replay ended at " + format_lsn(x) + "; positions " + describe(a));
}

}  // namespace

void seed_from_standby(AddRun &run, Figures &figures) {
    if (!run.record.copy) run.record.copy.emplace().method = CopyMethod::Physical;
    SourceCopy &copy = *run.record.copy;
    if (!copy.promoted_at) {
        if (!run.standby)
            throw UserError("this node is no longer a standby, and the physical add recorded no promotion", "",
                            "Roll the run back with spock.remove_node and rebuild this node as a standby of \"" +
                                run.args.src_name + "\".");
        promote_at_fence(run, figures);
    }
    physical::strip_source_identity(run, figures);
    create_node(run, figures);
    subscribe_new_node(run, run.view.existing(), nullptr);
    const std::string slot = run.path(run.args.src_name).slot;
    // sub_S_N streams what N's replay did not reach.
    run.new_node().db().exec(sql::advance_origin(slot, copy.promoted_at));
    copy.consistent_point = copy.promoted_at;
    copy.complete = true;
    run.detail("sub_" + run.args.src_name + "_" + run.args.new_name + " starts where the replay ended",
               format_lsn(copy.promoted_at));
}

}  // namespace zodan
