#include "core/remove/remove_node.hpp"

#include <algorithm>
#include <optional>
#include <set>

#include "core/physical/physical.hpp"
#include "core/plan/add_node.hpp"
#include "core/copy/cleanup.hpp"
#include "core/text/conninfo.hpp"
#include "core/text/secrets.hpp"
#include "core/cluster/join_lock.hpp"
#include "core/journal/journal.hpp"
#include "core/cluster/names.hpp"
#include "core/waits/replication_waits.hpp"
#include "core/statements/spock_sql.hpp"
#include "core/util.hpp"
#include "core/text/text_array.hpp"

namespace zodan {

RemoveNode::RemoveNode(Runtime &rt, RemoveNodeArgs args) : rt_(rt), args_(std::move(args)) {}

void RemoveNode::run() {
    target_dsn_ = Dsn::parse(args_.target_name, args_.target_dsn, "target_node_dsn");
    try {
        target_ = connect_member(rt_, args_.target_name, target_dsn_);
    } catch (const RemoteError &e) {
        target_unreachable_ = e.server_message();
    }
    // Nothing changes anywhere before the DSN is shown to reach the node named.
    identify_target();
    // A run of add_node still in progress must not have the ground pulled away.
    std::optional<PriorRun> prior;
    // What the unfinished add made that a rollback undoes (its record).
    std::optional<CopyRecord> copied;
    AddRecord record;
    if (target_) {
        prior = Journal::latest(target_->db(), "add_node", "");
        if (prior && prior->state == "running" && prior->alive)
            throw UserError("spock.add_node of node \"" + prior->new_name + "\" is still running there (process " +
                                std::to_string(prior->backend_pid) + ")",
                            "", "Stop it with pg_cancel_backend(" + std::to_string(prior->backend_pid) +
                                    ") on that node, then call spock.remove_node again.",
                            Cause::LockHeld);
        if (prior && prior->unfinished()) {
            record = Journal::read_record(target_->db(), prior->run_id);
            if (prior->started_steps.count(StepId::CopySource) && record.copy) copied = record.copy->objects;
        }
        // What the rollback would drop must be the copy's alone: a node
        // written to since (it may have taken writes once its paths opened),
        // or holding objects that depend on what the copy made, is not
        // rolled back without force.
        refuse_if_written_to(copied);
    }
    const bool unfinished_add = prior && prior->unfinished();
    find_members();
    // No reachable member lists the target, and what the DSN reaches is no
    // Spock node (nor an unfinished add's): a remove that already happened,
    // called again. Nothing of it is left to prove ours; the steps below
    // find nothing (or finish what an earlier call left).
    not_member_ = target_listed_dsn_.empty() && (!target_ || target_node_id_.empty()) && !unfinished_add;
    // ... and, run elsewhere than on the target, the node of that name in
    // this cluster (another cluster's node may bear it).
    if (target_ && !caller_is_target_ && !not_member_) prove_target_is_ours();
    // A member the unfinished add took part with that no node reached lists
    // (its source was down, say) may hold its slot: named, not forgotten.
    if (unfinished_add && target_) {
        if (record.prepared)
            for (const std::string &m : record.prepared->members)
                if (m != args_.target_name && !dsn_of_.count(m) &&
                    std::find(unreachable_.begin(), unreachable_.end(), m) == unreachable_.end())
                    unreachable_.push_back(m);
    }
    // One change of membership at a time: the members it cleans and the
    // node itself are locked like an add locks them.
    std::vector<Member *> locked;
    for (Member &x : survivors_) locked.push_back(&x);
    if (target_) locked.push_back(&*target_);
    take_join_lock(rt_, locked, "spock.remove_node of \"" + args_.target_name + "\"");
    // No other run is alive now: a fence one left is dead (docs/physical.md).
    physical::lift_dead_fences(rt_, locked, "remove_node");
    if (dsn_of_.empty() && !target_)
        throw UserError("node \"" + args_.target_name + "\" could not be reached and no other member is known here",
                        "connecting to it failed: " + target_unreachable_,
                        "Run spock.remove_node on a surviving member of the cluster.", Cause::Unreachable);

    // From here on the remove changes the cluster: its steps are journaled
    // on the node the call runs on (docs/remove_node.md, "The journal").
    open_journal();
    try {
        if (survivors_.empty() && unreachable_.empty() && !not_member_)
            rt_.report(Level::Notice,
                       "remove_node: no other member of the cluster is known here or on node " + args_.target_name +
                           "; to clean the others, run it on one of them");
        run_step("drain_target", [&](Figures &) { drain_target(unfinished_add); });
        run_step("clean_members", [&](Figures &f) {
            for (Member &x : survivors_) clean_survivor(x);
            std::vector<std::string> nodes;
            for (const Member &x : survivors_) nodes.push_back(x.name);
            f.add_raw("removed", removed_json(nodes));
        });
        if (target_) {
            run_step("clean_target", [&](Figures &f) {
                clean_target();
                f.add_raw("removed", removed_json({args_.target_name}));
            });
            if (unfinished_add)
                run_step("roll_back_add", [&](Figures &f) {
                    const size_t before = removed_[args_.target_name].size();
                    roll_back_add(*prior, copied);
                    f.add("add_run_id", static_cast<long long>(prior->run_id));
                    f.add("dropped", static_cast<long long>(removed_[args_.target_name].size() - before));
                });
        }
        journal_.finish(true);
    } catch (const std::exception &e) {
        try {
            journal_.finish(false, e.what());
        } catch (...) {
            // The journal is best effort once the run has failed; the original error matters.
        }
        throw;
    }
    report_outcome();
}

void RemoveNode::open_journal() {
    // The caller's own database: the target when it runs there, else the
    // member it is (reached through the DSN its cluster lists for it).
    Connection *here = nullptr;
    if (caller_is_target_ && target_) here = &target_->db();
    for (Member &x : survivors_)
        if (!here && x.name == caller_name_) here = &x.db();
    if (!here) {
        rt_.report(Level::Log, "remove_node: this node could not be reached through a DSN its cluster lists; the "
                               "remove is not journaled");
        return;
    }
    const std::string fingerprint = args_.target_name + "\n" + target_dsn_.masked();
    std::optional<PriorRun> earlier = Journal::latest(*here, "remove_node", fingerprint);
    journal_.begin(*here, "remove_node", caller_name_, args_.target_name, "", target_dsn_.masked(), fingerprint,
                   rt_.backend_pid());
    // The checks above changed nothing; their findings are the run's first step.
    Figures found;
    std::vector<std::string> members;
    for (const Member &x : survivors_) members.push_back(x.name);
    found.add("members", join(members, ","));
    if (!unreachable_.empty()) found.add("unreachable", join(unreachable_, ","));
    found.add("target_reached", target_ ? "true" : "false");
    if (not_member_) found.add("nothing_to_do", "node " + args_.target_name + " is not a member of this cluster");
    // A failed remove is not resumed: every step below looks at what is
    // there and removes what is left, so a new call starts over.
    if (earlier && (earlier->state == "failed" || earlier->state == "running")) {
        found.add("earlier_run_id", static_cast<long long>(earlier->run_id));
        rt_.report(Level::Notice, "remove_node: the earlier remove of node " + args_.target_name + " (run " +
                                      std::to_string(earlier->run_id) + ") did not finish; starting over");
    }
    journal_.step_started("check_target", 0);
    journal_.step_done("check_target", found);
    step_order_ = 1;
}

void RemoveNode::run_step(const std::string &name, const std::function<void(Figures &)> &body) {
    const int order = step_order_++;
    journal_.step_started(name, order);
    Figures figures;
    try {
        rt_.maybe_fail_at(name);
        body(figures);
        rt_.maybe_fail_at(name + ":after");
    } catch (const std::exception &e) {
        try {
            journal_.step_failed(name, e.what());
        } catch (...) {
        }
        throw;
    }
    journal_.step_done(name, figures);
}

std::string RemoveNode::removed_json(const std::vector<std::string> &nodes) {
    JsonObject out;
    for (const std::string &node : nodes) {
        auto what = removed_.find(node);
        if (what == removed_.end() || what->second.empty()) continue;
        std::string list;
        for (const std::string &w : what->second) list += (list.empty() ? "" : ",") + json_quote(w);
        out.add_raw(node, "[" + list + "]");
    }
    return out.str();
}

void RemoveNode::roll_back_add(const PriorRun &prior, const std::optional<CopyRecord> &copied) {
    if (copied) {
        // Checked again, in the transaction that drops: something may have
        // come to depend on the copy's objects since.
        CopyRollback done = drop_copied_objects(rt_, target_->db(), *copied, args_.force, force_hint());
        for (const std::string &what : done.dropped) note(args_.target_name, "dropped " + what);
        for (const std::string &what : done.others)
            note(args_.target_name, "dropped " + what + " (not made by the copy; force)");
        if (!done.others.empty())
            rt_.report(Level::Warning, "force: node " + args_.target_name +
                                           " lost objects not made by its copy, which depended on what it made: " +
                                           join(done.others));
    }
    Journal::set_state(target_->db(), prior.run_id, "rolled_back");
    note(args_.target_name, "rolled back the unfinished add_node run " + std::to_string(prior.run_id));
}

void RemoveNode::report_outcome() {
    std::vector<std::string> order;
    for (const Member &x : survivors_) order.push_back(x.name);
    if (target_) order.push_back(args_.target_name);
    if (args_.verbose)
        for (const std::string &node : order) {
            const auto &what = removed_[node];
            rt_.report(Level::Notice, "node " + node + ": " + (what.empty() ? "nothing to remove" : join(what, "; ")));
        }
    for (const std::string &node : unreachable_)
        rt_.report(Level::Warning, "node " + node + " could not be reached; it may still hold subscriptions or slots "
                                                    "for node " + args_.target_name);
    if (!target_)
        rt_.report(Level::Warning,
                   "node " + args_.target_name + " itself could not be reached: its own subscriptions, slots and "
                                                 "node record remain there",
                   "connecting to it failed: " + target_unreachable_ +
                       "\nRun spock.remove_node on it when it is back, or discard its data directory.");
    size_t changed = 0;
    for (const std::string &node : order) changed += removed_[node].empty() ? 0 : 1;
    const std::string reached = std::to_string(order.size()) + " node(s)" +
                                (target_ ? "" : "; node " + args_.target_name + " itself was not reached");
    // The run's id in DETAIL: a count, not stable in compared output.
    const std::string run = journal_.open() ? "run " + std::to_string(journal_.run_id()) : "";
    if (changed)
        rt_.report(Level::Notice, "remove_node: node " + args_.target_name + " removed; changes on " +
                                      std::to_string(changed) + " of " + reached, run);
    else if (not_member_)
        // Idempotent: the remove a script repeats succeeds, saying so.
        rt_.report(Level::Notice,
                   "remove_node: node " + args_.target_name + " is not a member of this cluster; nothing to do", run);
    else
        rt_.report(Level::Notice, "remove_node: nothing of node " + args_.target_name + " was left on " + reached, run);
}

void RemoveNode::refuse_if_written_to(const std::optional<CopyRecord> &record) {
    if (!record || args_.force) return;
    Connection &db = target_->db();
    CopyRollbackPlan plan = plan_copy_rollback(db, *record);
    if (!plan.others.empty())
        throw copy_dependents_error(args_.target_name, plan.others, force_hint(), "Nothing was changed.");
    // Rows are looked for once the copy completed: before, its own rows
    // may carry no origin.
    if (!record->after) return;
    QueryResult stmt = db.exec(sql::tables_written_locally(text_array_literal(plan.tables)));
    QueryResult written = db.exec(sql::run_generated(Stmt::LocalWrites, "look for rows written on the node", stmt.text(0, "stmt")));
    if (written.empty()) return;
    std::vector<std::string> tables;
    for (size_t i = 0; i < written.size(); ++i) tables.push_back(written.text(i, "rel"));
    throw UserError("node \"" + args_.target_name + "\" has been written to since its copy: " + join(tables) +
                        " hold(s) rows written on it, not by the copy",
                    "Rolling back the unfinished add would drop them with the tables the copy made. Nothing was "
                    "changed.",
                    "Keep what is there, or call spock.remove_node('" + args_.target_name +
                        "', <its DSN>, force => true) to drop it anyway.");
}

std::string RemoveNode::force_hint() const {
    return "Keep them (move them out of what the copy made, or drop them yourself), or call spock.remove_node('" +
           args_.target_name + "', <its DSN>, force => true) to drop them with the copy.";
}

void RemoveNode::identify_target() {
    QueryResult me = rt_.read_local(sql::node_identity());
    caller_name_ = me.text(0, "node_name");
    caller_identity_ = me.text(0, "identity");
    if (!target_) return;
    QueryResult who = target_->db().exec(sql::node_identity());
    const std::string &t = args_.target_name;
    if (!who.text(0, "node_name").empty() && who.text(0, "node_name") != t)
        throw UserError("target_node_dsn reaches node \"" + who.text(0, "node_name") + "\", not \"" + t + "\"",
                        "DSN: " + target_dsn_.masked(),
                        "Nothing was changed. Pass the DSN of node \"" + t + "\".", Cause::BadArgument);
    target_identity_ = who.text(0, "identity");
    target_node_id_ = who.text(0, "node_id");
    caller_is_target_ = target_identity_ == caller_identity_;
    if (caller_is_target_) return;
    if (caller_name_ == t)
        throw UserError("target_node_dsn reaches another database than this one, node \"" + t + "\"",
                        "DSN: " + target_dsn_.masked(),
                        "Nothing was changed. To remove this node, pass its own DSN; to remove the node that DSN "
                        "reaches, run spock.remove_node on a member of that node's cluster.",
                        Cause::BadArgument);
    if (caller_name_.empty())
        throw UserError("spock.remove_node runs on a member of the cluster or on the node it removes",
                        "This database is no Spock node, and target_node_dsn reaches another database.",
                        "Nothing was changed. Call it on a member of node \"" + t + "\"'s cluster, or on node \"" +
                            t + "\" itself.");
}

void RemoveNode::add_members(const QueryResult &nodes) {
    for (size_t i = 0; i < nodes.size(); ++i) {
        const std::string name = nodes.text(i, "node_name");
        if (name == args_.target_name) {
            if (target_listed_dsn_.empty()) target_listed_dsn_ = nodes.text(i, "dsn");
        } else if (!dsn_of_.count(name)) {
            dsn_of_[name] = nodes.text(i, "dsn");
        }
    }
}

void RemoveNode::find_members() {
    // Who is in the cluster: the members this node lists, and those every
    // member so found lists, until no new one turns up. The target's own
    // list counts only when the call runs on the target itself: a node of
    // another cluster that bears the target's name must not bring its
    // members in. An unfinished add made the new node know its source
    // before it changed anything anywhere, and the source knows every
    // member, so run on the new node this finds them all.
    if (!caller_name_.empty() && caller_name_ != args_.target_name) {
        QueryResult mine = rt_.read_local(sql::cluster_nodes());
        for (size_t i = 0; i < mine.size(); ++i) caller_ids_[mine.text(i, "node_name")] = mine.text(i, "node_id");
        add_members(mine);
    }
    if (caller_is_target_) add_members(target_->db().exec(sql::cluster_nodes()));
    std::set<std::string> asked;
    for (;;) {
        reach_listed_members();
        const size_t known = dsn_of_.size();
        for (Member &m : survivors_)
            if (asked.insert(m.name).second) add_members(m.db().exec(sql::cluster_nodes()));
        if (dsn_of_.size() == known) return;
    }
}

void RemoveNode::refuse_stored_dsns(const std::vector<std::string> &nodes) {
    // The DSNs in spock.node_interface carry the credentials the cluster
    // was set up with: a caller who is not a superuser must not make the
    // server use them on its behalf (docs/security.md).
    if (nodes.empty() || rt_.caller_is_superuser()) return;
    throw PermissionDenied("spock.remove_node would reach node(s) " + join(nodes) +
                        " with the DSNs stored in spock.node_interface, which only a superuser may have the server use",
                    "Those DSNs carry the credentials the cluster was set up with, not the caller's. Nothing was "
                    "changed.",
                    "Call spock.remove_node as a superuser.");
}

Member RemoveNode::connect_stored(const std::string &name, const std::string &dsn, const std::string &role) {
    refuse_stored_dsns({name});
    return connect_member(rt_, name, Dsn::parse(name, dsn, role));
}

void RemoveNode::prove_target_is_ours() {
    const std::string &t = args_.target_name;
    const std::string hint = "Nothing was changed. Pass the DSN of this cluster's node \"" + t +
                             "\", or run spock.remove_node on that node itself.";
    auto refuse = [&](const std::string &why) {
        throw UserError("target_node_dsn reaches a node \"" + t + "\" that is not this cluster's",
                        why + "\nDSN: " + target_dsn_.masked(), hint);
    };
    auto identity_via = [&](const std::string &name, const std::string &dsn,
                            const std::string &role) -> std::optional<std::string> {
        try {
            Member m = connect_stored(name, dsn, role);
            return m.db().exec(sql::node_identity()).text(0, "identity");
        } catch (const RemoteError &) {
            return std::nullopt;  // another way may still show it
        }
    };
    // Node ids are derived from names, so this catches a stale record more
    // than another cluster; the DSNs below tell clusters apart.
    auto id = caller_ids_.find(t);
    if (id != caller_ids_.end() && !target_node_id_.empty() && id->second != target_node_id_)
        refuse("Its node id is " + target_node_id_ + "; this node knows node \"" + t + "\" as " + id->second + ".");
    // The DSN this cluster lists for the target reaches the same database.
    if (!target_listed_dsn_.empty()) {
        auto there = identity_via(t, target_listed_dsn_, "the DSN this cluster lists for node \"" + t + "\"");
        if (there && *there == target_identity_) return;
        if (there)
            refuse("The DSN this cluster lists for node \"" + t + "\" (spock.node_interface) reaches another "
                   "database.");
    }
    // Else (not listed here: an unfinished add's node; or its listed DSN
    // unreachable from here) the target must list a member of this cluster
    // under a DSN that reaches that very member.
    QueryResult theirs = target_->db().exec(sql::cluster_nodes());
    for (size_t i = 0; i < theirs.size(); ++i) {
        const std::string name = theirs.text(i, "node_name");
        auto member = std::find_if(survivors_.begin(), survivors_.end(), [&](const Member &m) { return m.name == name; });
        if (name == t || member == survivors_.end()) continue;
        auto via_target = identity_via(name, theirs.text(i, "dsn"),
                                       "the DSN node \"" + t + "\" lists for node \"" + name + "\"");
        if (!via_target) continue;
        if (*via_target == member->db().exec(sql::node_identity()).text(0, "identity")) return;
        refuse("It lists node \"" + name + "\" with a DSN that reaches another database than this cluster's node \"" +
               name + "\".");
    }
    throw UserError("could not show that target_node_dsn reaches node \"" + t + "\" of this cluster",
                    std::string(target_listed_dsn_.empty() ? "No member of this cluster lists a node \"" + t + "\""
                                                           : "The DSN this cluster lists for node \"" + t +
                                                                 "\" could not be reached") +
                        ", and the node reached lists no member of this cluster under a DSN that reaches it.\nDSN: " +
                        target_dsn_.masked(),
                    hint, target_listed_dsn_.empty() ? Cause::UndefinedNode : Cause::Precondition);
}

void RemoveNode::drain_target(bool unfinished_add) {
    // An unfinished add's node took no writes of its own that the rollback
    // keeps (refuse_if_written_to): nothing to wait for.
    if (survivors_.empty() || unfinished_add) return;
    const std::string &t = args_.target_name;
    std::vector<Member *> all;
    for (Member &x : survivors_) all.push_back(&x);
    // Who receives the target's changes, and who was cut off from them before.
    std::vector<QueryResult> statuses = rt_.exec_all(same_query(all, sql::subscription_status()));
    std::vector<Member *> receiving, cut_off, had;
    for (size_t i = 0; i < all.size(); ++i) {
        bool from_target = false, enabled = false;
        for (size_t r = 0; r < statuses[i].size(); ++r)
            if (statuses[i].text(r, "provider_node") == t) {
                from_target = true;
                enabled = enabled || statuses[i].text(r, "status") != "disabled";
            }
        if (enabled) receiving.push_back(all[i]);
        else if (from_target) cut_off.push_back(all[i]);
        if (from_target) had.push_back(all[i]);
    }
    if (had.empty()) return;
    auto names = [](const std::vector<Member *> &ms) {
        std::vector<std::string> out;
        for (const Member *m : ms) out.push_back(m->name);
        return out;
    };

    // Everything the target committed before now, applied on every member
    // that receives it, before any of them stops receiving.
    Lsn event = 0;  // the sync event waited for; 0 when none was
    std::string not_waited;
    if (target_ && !receiving.empty()) {
        try {
            event = lsn_of(target_->db().exec(sql::sync_event()).scalar());
            wait_applied(rt_, receiving, {{t, event}});
        } catch (const UserError &e) {
            if (!args_.force)
                throw UserError(std::string(e.what()) + " (before node \"" + t +
                                    "\" is removed, every member applies what it committed)",
                                e.detail(),
                                "Nothing was changed. Let that member catch up (its log says why it does not), or "
                                "pass force => true to remove node \"" + t +
                                    "\" without waiting: what it committed and a member had not applied is then "
                                    "missing there.",
                                e.cause());
            not_waited = e.what();
            event = 0;
        }
    }

    // Every subscription from the target stops, on all members together,
    // before any is compared or dropped.
    std::vector<QueryResult> subs = rt_.exec_all(same_query(had, sql::subscriptions_involving(t)));
    std::vector<SubscriptionOn> to_stop;
    for (size_t i = 0; i < had.size(); ++i)
        for (size_t r = 0; r < subs[i].size(); ++r) to_stop.push_back({&had[i]->db(), subs[i].text(r, "sub_name")});
    stop_subscriptions(rt_, to_stop);

    // What each then had applied of the target's changes.
    std::vector<QueryResult> applied = rt_.exec_all(same_query(had, sql::applied_through({t})));
    std::map<std::string, Lsn> through;
    std::vector<std::string> positions;
    for (size_t i = 0; i < had.size(); ++i) {
        const bool known = !applied[i].empty() && applied[i].at(0, "lsn").has_value();
        through[had[i]->name] = known ? parse_lsn(applied[i].text(0, "lsn")) : 0;
        positions.push_back(had[i]->name + " " + (known ? applied[i].text(0, "lsn") : std::string("nothing")));
    }
    const std::string detail = "Applied of node " + t + "'s changes: " + join(positions) +
                               (event ? "; the sync event was at " + format_lsn(event) : "") + ".";
    // Those of `among` that applied less than the most any of them did, and the others.
    auto split_behind = [&](const std::vector<Member *> &among) {
        Lsn most = 0;
        for (const Member *m : among) most = std::max(most, through[m->name]);
        std::pair<std::vector<std::string>, std::vector<std::string>> out;
        for (const Member *m : among) (through[m->name] < most ? out.first : out.second).push_back(m->name);
        return out;
    };

    if (event) {
        auto [behind, ahead] = split_behind(receiving);
        rt_.report(Level::Notice,
                   "remove_node: waited until " + join(names(receiving)) + " had applied everything node " + t +
                       " committed before the remove (a sync event from " + t + ")" +
                       (behind.empty() ? "; when their subscriptions from " + t +
                                             " stopped, each had applied as much of it as the others"
                                       : ""),
                   detail);
        if (!behind.empty())
            rt_.report(Level::Warning,
                       "node " + t + " committed changes during the remove that reached only some members: " +
                           join(behind) + " applied less of them than " + join(ahead),
                       detail + "\nNode " + t + " keeps those changes (removing a node keeps its data): compare the "
                                "tables it writes to on " + join(behind) + " with its own, and write there what is "
                                "missing.");
    } else if (!target_ || !not_waited.empty()) {
        auto [behind, ahead] = split_behind(had);
        rt_.report(Level::Warning,
                   "node " + t +
                       (target_ ? " was not waited for (force: " + not_waited + ")" : " could not be reached") +
                       ": a change it committed that a member had not applied is missing on that member" +
                       (behind.empty() ? "; " + join(names(had)) + " had applied the same of its changes"
                                       : "; " + join(behind) + " applied less of its changes than " + join(ahead)),
                   detail + "\nIf node " + t + "'s server can be started, its data holds every change it "
                            "committed: compare the tables it writes to with each member's before its data "
                            "directory is discarded.");
    }
    if (target_ && not_waited.empty())
        for (const Member *m : cut_off)
            rt_.report(Level::Warning,
                       "the subscription from node " + t + " on " + m->name + " was disabled: what " + t +
                           " committed since is missing there",
                       detail + "\nCompare the tables node " + t + " writes to on " + m->name +
                           " with its own, and write there what is missing.");
}

void RemoveNode::reach_listed_members() {
    // All at once; only when one of them cannot be reached, one by one, so
    // that the others are still cleaned.
    std::vector<MemberToReach> wanted;
    for (const auto &[name, dsn] : dsn_of_) {
        const bool reached_before = std::any_of(survivors_.begin(), survivors_.end(),
                                                [&](const Member &m) { return m.name == name; });
        if (!reached_before && std::find(unreachable_.begin(), unreachable_.end(), name) == unreachable_.end())
            try {
                wanted.push_back({name, Dsn::parse(name, dsn, "the DSN listed in spock.node_interface")});
            } catch (const UserError &) {
                unreachable_.push_back(name);  // named as unreachable, like a node that refuses the connection
            }
    }
    if (wanted.empty()) return;
    std::vector<std::string> wanted_names;
    for (const MemberToReach &w : wanted) wanted_names.push_back(w.name);
    refuse_stored_dsns(wanted_names);
    std::vector<Member> reached;
    try {
        reached = connect_members(rt_, wanted);
    } catch (const std::exception &) {
        for (const MemberToReach &w : wanted) {
            try {
                reached.push_back(connect_member(rt_, w.name, w.dsn));
            } catch (const std::exception &) {
                unreachable_.push_back(w.name);
            }
        }
    }
    std::vector<Member *> all;
    for (Member &m : reached) all.push_back(&m);
    std::vector<QueryResult> who = rt_.exec_all(same_query(all, sql::local_node_name()));
    for (size_t i = 0; i < reached.size(); ++i) {
        // Only the node it was listed as is cleaned through that DSN.
        const std::string &name = reached[i].name;
        if (who[i].empty() || who[i].text(0, "node_name") != name) {
            rt_.report(Level::Warning, "the DSN listed for node " + name + " reaches " +
                                           (who[i].empty() ? std::string("no Spock node") : "node " + who[i].text(0, "node_name")) +
                                           "; nothing was changed there");
            unreachable_.push_back(name);
            continue;
        }
        survivors_.push_back(std::move(reached[i]));
    }
}

void RemoveNode::clean_survivor(Member &x) {
    Connection &db = x.db();
    // Spock's sub_drop also removes a provider node no subscription refers
    // to any more, so whether x knew the target is asked first.
    const bool knew_target = db.exec(sql::node_exists(args_.target_name)).text(0, "n") != "0";
    QueryResult subs = db.exec(sql::subscriptions_involving(args_.target_name));
    for (size_t i = 0; i < subs.size(); ++i) {
        stop_and_drop_subscription(rt_, db, subs.text(i, "sub_name"));
        note(x.name, "dropped subscription " + subs.text(i, "sub_name"));
    }
    // The slot serving the target's subscription from x (also made by step 3
    // of an add that never got to create that subscription).
    std::string slot = *db.exec(sql::slot_name(target_dsn_.dbname(), x.name, subscription_name(x.name, args_.target_name))).scalar();
    if (drop_slot_if_exists(rt_, db, slot)) note(x.name, "dropped slot " + slot);
    if (db.exec(sql::node_exists(args_.target_name)).text(0, "n") != "0") db.exec(sql::node_drop(args_.target_name));
    if (knew_target) note(x.name, "dropped node " + args_.target_name);
}

void RemoveNode::clean_target() {
    Connection &db = target_->db();
    QueryResult known_nodes = db.exec(sql::nodes_with_dsn());  // before sub_drop removes some of them
    QueryResult subs = db.exec(sql::subscriptions_involving(args_.target_name));
    for (size_t i = 0; i < subs.size(); ++i) {
        stop_and_drop_subscription(rt_, db, subs.text(i, "sub_name"));
        note(args_.target_name, "dropped subscription " + subs.text(i, "sub_name"));
    }
    // Replication origins belong to the instance, shared by its databases:
    // only those this database's subscriptions from the known nodes would
    // have (an add that stopped may leave them), and the copy's, go.
    std::vector<std::string> candidates;
    for (size_t i = 0; i < known_nodes.size(); ++i) {
        const std::string provider = known_nodes.text(i, "node_name");
        if (provider == args_.target_name) continue;
        candidates.push_back(*db.exec(sql::slot_name(target_dsn_.dbname(), provider,
                                                     subscription_name(provider, args_.target_name))).scalar());
    }
    QueryResult origins = db.exec(sql::unused_origins_among(candidates));
    QueryResult copy_origins = db.exec(sql::copy_origins());
    for (const QueryResult *r : {&origins, &copy_origins})
        for (size_t i = 0; i < r->size(); ++i) {
            db.exec(sql::drop_origin(r->text(i, "roname")));
            note(args_.target_name, "dropped origin " + r->text(i, "roname"));
        }
    // Every Spock slot here served a subscriber of the leaving node.
    QueryResult slots = db.exec(sql::spock_slots());
    for (size_t i = 0; i < slots.size(); ++i)
        if (drop_slot_if_exists(rt_, db, slots.text(i, "slot_name")))
            note(args_.target_name, "dropped slot " + slots.text(i, "slot_name"));
    QueryResult local = db.exec(sql::local_node_name());
    if (!local.empty()) {
        QueryResult sets = db.exec(sql::local_sets());
        for (size_t i = 0; i < sets.size(); ++i) db.exec(sql::repset_drop(sets.text(i, "set_name")));
        if (!sets.empty()) note(args_.target_name, "dropped " + std::to_string(sets.size()) + " replication set(s)");
        db.exec(sql::node_drop(local.text(0, "node_name")));
        note(args_.target_name, "dropped local node " + local.text(0, "node_name"));
    }
    // Records of other nodes that only the target's subscriptions needed.
    QueryResult others = db.exec(sql::nodes_with_dsn());
    for (size_t i = 0; i < others.size(); ++i) db.exec(sql::node_drop(others.text(i, "node_name")));
    const std::string own = local.empty() ? "" : local.text(0, "node_name");
    for (size_t i = 0; i < known_nodes.size(); ++i)
        if (known_nodes.text(i, "node_name") != own)
            note(args_.target_name, "dropped node record " + known_nodes.text(i, "node_name"));
}

}  // namespace zodan
