#include "core/plan/add_node.hpp"

#include <algorithm>
#include <optional>
#include <set>

#include "core/cluster/checks.hpp"
#include "core/cluster/join_lock.hpp"
#include "core/statements/spock_sql.hpp"
#include "core/util.hpp"
#include "core/physical/physical.hpp"
#include "core/physical/window.hpp"
#include "core/waits/wal_retention.hpp"

namespace zodan {

namespace {

// Fingerprint of the arguments that identify a run (a retry must repeat
// them). Masked: a retry is the same run whatever the passwords (they may
// have been rotated meanwhile), and the journal stores no secret.
std::string fingerprint_of(const ClusterView &view) {
    return view.source.name + "\n" + view.source.dsn.masked() + "\n" + view.new_node.name + "\n" +
           view.new_node.dsn.masked();
}

// A step's round trips as its figures keep them (docs/protocol.md, "Round
// trips"): {"sequential": n, "nodes": {node: n}, "connections": {node: n}}.
JsonObject round_trips_json(const RoundTripCount &c) {
    JsonObject nodes, connections;
    for (const auto &[node, n] : c.per_node) nodes.add(node, n);
    for (const auto &[node, n] : c.connections) connections.add(node, n);
    JsonObject out;
    out.add("sequential", c.sequential);
    out.add_raw("nodes", nodes.str());
    if (!connections.empty()) out.add_raw("connections", connections.str());
    return out;
}

// The same for the log: "5 sequential round trips (n1 3, n4 2); connections opened: n4 1".
std::string round_trips_line(const RoundTripCount &c) {
    std::string line = std::to_string(c.sequential) + " sequential round trip" + (c.sequential == 1 ? "" : "s");
    std::string per;
    for (const auto &[node, n] : c.per_node) per += (per.empty() ? "" : ", ") + node + " " + std::to_string(n);
    if (!per.empty()) line += " (" + per + ")";
    std::string opened;
    for (const auto &[node, n] : c.connections)
        opened += (opened.empty() ? "" : ", ") + node + " " + std::to_string(n);
    if (!opened.empty()) line += "; connections opened: " + opened;
    return line;
}

}  // namespace

void AddNode::run() {
    Runtime &rt = run_.rt;
    const AddNodeArgs &args = run_.args;
    run_.started_ms = rt.now_ms();
    const RoundTripCount at_start = RoundTrips::tally().count();
    if (args.src_name == args.new_name)
        throw UserError("src_node_name and new_node_name are both \"" + args.new_name + "\"", "",
                        "The source must be an existing member and the new node a different one.",
                        Cause::BadArgument);
    discover_and_lock();
    // A repeated add of a node that joined (a script run again): nothing to do.
    if (!rt.in_recovery() && why_not_complete_member(rt, run_.view).empty()) {
        record_already_member(fingerprint_of(run_.view));
        return;
    }
    // With the join lock on every member no other run is alive: a fence
    // one left is dead (docs/physical.md).
    physical::lift_dead_fences(rt, run_.view.existing(), "add_node");
    const std::string fingerprint = fingerprint_of(run_.view);
    run_.standby = rt.in_recovery();
    if (run_.standby)
        // A hot standby's journal is its primary's, read-only: a physical
        // run's own starts once N is promoted (copy_source), with the steps
        // done until then.
        run_.open_journal = [this, fingerprint] { begin_journal(fingerprint); };
    else if (!resume_earlier_run(fingerprint)) {
        // A physical run that died once this node was promoted and before
        // its journal began here: resumed from the fence the node replayed.
        const std::vector<Step> &plan = add_node_plan();
        for (StepId id : physical::resume_from_replayed_fence(run_)) {
            const auto at = std::find_if(plan.begin(), plan.end(), [id](const Step &s) { return s.id == id; });
            deferred_.push_back({id, static_cast<int>(at - plan.begin()), {}});
            done_earlier_.insert(id);
        }
        begin_journal(fingerprint);
    }
    rt.report(Level::Debug, "add_node before its steps: " +
                                round_trips_line(RoundTrips::tally().count().since(at_start)));
    try {
        const std::vector<Step> &plan = add_node_plan();
        // The join's slots on the existing nodes, watched against
        // max_slot_wal_keep_size by every wait from their making on: from
        // the first step past the checks and N's registration, none of
        // which makes a slot, with the limits the checks read.
        std::optional<SlotWatch> slot_watch;
        auto slots_made_later = [](StepId id) {
            return id == StepId::CheckVersions || id == StepId::CheckPreconditions || id == StepId::CreateNode;
        };
        for (size_t no = 0; no < plan.size(); ++no) {
            if (!slot_watch && !slots_made_later(plan[no].id))
                slot_watch.emplace(
                    rt, run_.view.existing(),
                    [this] {
                        std::map<std::string, std::string> slots;
                        if (run_.record.prepared)
                            for (const auto &[node, path] : run_.record.prepared->paths) slots[node] = path.slot;
                        return slots;
                    },
                    run_.view.wal_keep_bytes);
            run_step(static_cast<int>(no), plan[no]);
            // No later step takes a spare session: the nodes get theirs back.
            if (plan[no].id == StepId::CopySource) run_.view.spare.release();
        }
        rt.report(Level::Debug, "add_node in all: " + round_trips_line(RoundTrips::tally().count().since(at_start)));
        run_.journal.finish(true);
    } catch (const std::exception &e) {
        if (run_.standby) physical::abandon_before_promotion(run_);
        try {
            run_.journal.finish(false, e.what());
        } catch (...) {
            // The journal is best effort once the run has failed; the original error matters.
        }
        throw;
    }
}

void AddNode::record_already_member(const std::string &fingerprint) {
    // Journaled as a run of its own, done, that changed nothing: a script
    // reads it as the call's result (spock.zodan_last_result()).
    const AddNodeArgs &args = run_.args;
    Figures found;
    std::vector<std::string> members{run_.view.source.name};
    for (const std::string &o : run_.view.other_names()) members.push_back(o);
    std::sort(members.begin(), members.end());
    found.add("members", join(members, ","));
    found.add("nothing_to_do", "node " + args.new_name + " is already a member of the cluster");
    run_.journal.begin(run_.new_node().db(), "add_node", args.src_name, args.new_name, run_.view.source.dsn.masked(),
                       run_.view.new_node.dsn.masked(), fingerprint, run_.rt.backend_pid());
    run_.journal.step_started("already_member", 0);
    run_.journal.step_done("already_member", found);
    run_.journal.finish(true);
    run_.rt.report(Level::Notice, "add_node: node " + args.new_name + " is already a member of the cluster with this "
                                  "DSN, its subscriptions to and from every member enabled; nothing to do",
                   "run " + std::to_string(run_.journal.run_id()));
}

void AddNode::begin_journal(const std::string &fingerprint) {
    const AddNodeArgs &args = run_.args;
    run_.journal.begin(run_.new_node().db(), "add_node", args.src_name, args.new_name, run_.view.source.dsn.masked(),
                       run_.view.new_node.dsn.masked(), fingerprint, run_.rt.backend_pid());
    journal_open_ = true;
    for (const DeferredStep &d : deferred_) {
        run_.journal.step_started(d.id, d.order);
        run_.journal.step_done(d.id, run_.record, d.figures);
    }
    deferred_.clear();
    if (current_) run_.journal.step_started(current_->id, current_order_);
}

void AddNode::discover_and_lock() {
    // The lock is taken on the members found; a member that joined just
    // before would be missed, so once nothing can change any more, the
    // membership is read again, and found anew when it grew.
    Runtime &rt = run_.rt;
    const AddNodeArgs &args = run_.args;
    for (int attempt = 0; attempt < 3; ++attempt) {
        run_.view = discover_cluster(rt, args);
        ClusterView &view = run_.view;
        require_all({rt.in_recovery() ? physical::check_runs_on_standby(rt, view) : check_runs_on_new_node(rt, view)});
        // The source's list read once its lock is held: with the locks on
        // the rest where the source is the first locked.
        ReadOnceLocked relist{&view.source, sql::nodes_with_dsn()};
        take_join_lock(rt, view.existing(), "spock.add_node of \"" + args.new_name + "\"", &view.new_node, &relist);
        std::set<std::string> found{view.source.name};
        for (const Member &o : view.others) found.insert(o.name);
        const QueryResult now = relist.result ? *relist.result : view.source.db().exec(sql::nodes_with_dsn());
        std::set<std::string> listed;
        for (size_t i = 0; i < now.size(); ++i)
            if (now.text(i, "node_name") != args.new_name) listed.insert(now.text(i, "node_name"));
        if (listed == found) return;
    }
    throw UserError("the membership of the cluster kept changing while spock.add_node started", "",
                    "Let the other adds and removes finish, then call spock.add_node again.");
}

bool AddNode::resume_earlier_run(const std::string &fingerprint) {
    Runtime &rt = run_.rt;
    const AddNodeArgs &args = run_.args;
    Connection &n = run_.new_node().db();
    std::optional<PriorRun> prior = Journal::latest(n, "add_node", fingerprint);
    if (!prior) return false;
    if (prior->state == "running" && prior->alive)
        throw UserError("spock.add_node is already running on this node (process " +
                            std::to_string(prior->backend_pid) + ")",
                        "", "Wait for it to finish, or stop it with pg_cancel_backend(" +
                                std::to_string(prior->backend_pid) + ") and call spock.add_node again to resume it.",
                        Cause::LockHeld);
    if (!prior->unfinished()) return false;
    const std::string roll_back = "Roll it back with CALL spock.remove_node('" + prior->new_name +
                                  "', <its DSN>) on this node";
    if (!prior->same_arguments)
        throw UserError("an earlier spock.add_node of node \"" + prior->new_name + "\" through \"" + prior->src_name +
                            "\" did not finish",
                        "A new add cannot start before that one is resumed or rolled back.",
                        "Call spock.add_node again with the arguments of that run to resume it, or r" +
                            roll_back.substr(1) + ".");
    AddRecord record = Journal::read_record(n, prior->run_id);
    if (record.copy_method == CopyMethod::SpockSync)
        throw UserError("the unfinished spock.add_node of node \"" + prior->new_name +
                            "\" copied with Spock's own sync (zodan.copy_method = spock), which this version of "
                            "zodan no longer has",
                        "", roll_back + ", then add the node again.");
    run_.journal.resume(n, prior->run_id, rt.backend_pid());
    journal_open_ = true;
    done_earlier_ = prior->done_steps;
    run_.started_earlier = prior->started_steps;
    run_.record = std::move(record);
    // A run resumed into a cluster whose membership changed would leave a
    // path out: it made slots and subscriptions for the members it found.
    if (run_.record.prepared && !run_.record.prepared->members.empty()) {
        std::vector<std::string> now{run_.view.source.name};
        for (const Member &o : run_.view.others) now.push_back(o.name);
        std::vector<std::string> then = run_.record.prepared->members;
        std::sort(now.begin(), now.end());
        std::sort(then.begin(), then.end());
        if (now != then)
            throw UserError("the cluster changed since this run of spock.add_node began: its members were " +
                                join(then) + ", now they are " + join(now),
                            "The run prepared slots and subscriptions for the members it found.",
                            "Roll it back with CALL spock.remove_node('" + args.new_name +
                                "', <its DSN>) on this node, then add the node again.");
    }
    std::string first;
    for (const Step &s : add_node_plan())
        if (!done_earlier_.count(s.id)) {
            first = s.name;
            break;
        }
    rt.report(Level::Notice, "add_node: resuming the unfinished run at step " + first);
    return true;
}

void AddNode::run_step(int order, const Step &step) {
    Runtime &rt = run_.rt;
    const std::string line = "add_node step " + std::to_string(order) + "/" +
                             std::to_string(add_node_plan().size() - 1) + ": " + title_of(step, run_);
    if (done_earlier_.count(step.id)) {
        rt.report(Level::Notice, line + " (done before)");
        return;
    }
    for (StepId needed : step.needs)
        if (!done_earlier_.count(needed) || !run_.record.has(needed))
            throw std::logic_error(std::string("step ") + step.name + " needs what step " + step_name(needed) +
                                   " records, and the run holds none");
    const std::string idle = step.idle ? step.idle(run_) : "";
    rt.report(Level::Notice, line + (idle.empty() ? "" : " (nothing to do: " + idle + ")"));
    run_.journal.step_started(step.id, order);
    current_ = &step;
    current_order_ = order;
    const int64_t t0 = rt.now_ms();
    const RoundTripCount before = RoundTrips::tally().count();
    Figures figures;
    try {
        rt.maybe_fail_at(step.name);
        if (rt.pause_requested(step.name)) pause_here(step);
        SlotWatch::look_if_due();
        if (idle.empty()) body_of(step, run_)(run_, figures);
        rt.maybe_fail_at(std::string(step.name) + ":after");
    } catch (const std::exception &e) {
        try {
            run_.journal.step_failed(step.id, e.what());
        } catch (...) {
        }
        throw;
    }
    // Counted before the step's end is written, which is the journal's.
    const RoundTripCount made = RoundTrips::tally().count().since(before);
    figures.add_raw("round_trips", round_trips_json(made).str());
    rt.report(Level::Debug, "add_node step " + std::string(step.name) + ": " + round_trips_line(made));
    if (journal_open_)
        run_.journal.step_done(step.id, run_.record, figures);
    else
        deferred_.push_back({step.id, order, figures});
    current_ = nullptr;
    done_earlier_.insert(step.id);
    rt.between_steps();
    run_.detail(std::string(step.name) + " done", "took " + std::to_string(rt.now_ms() - t0) + " ms");
}

void AddNode::pause_here(const Step &step) {
    // A test holds this lock to keep the run waiting here, like a real wait.
    run_.rt.report(Level::Notice,
                   "pausing at step \"" + std::string(step.name) + "\" while the advisory lock zodan.pause is held");
    Connection &n = run_.new_node().db();
    n.exec({Stmt::PauseHere, "pause", "SELECT pg_catalog.pg_advisory_lock(pg_catalog.hashtext('zodan.pause'))", {}});
    n.exec({Stmt::PauseEnd, "end the pause", "SELECT pg_catalog.pg_advisory_unlock(pg_catalog.hashtext('zodan.pause'))", {}});
}

}  // namespace zodan
