#include "core/copy/cleanup.hpp"

#include <algorithm>

#include "core/statements/spock_sql.hpp"
#include "core/util.hpp"
#include "core/text/text_array.hpp"
#include "core/waits/waiter.hpp"

namespace zodan {

bool drop_slot_if_exists(Runtime &rt, Connection &node, const std::string &slot) {
    if (node.exec(sql::slots_named({slot})).empty()) return false;
    // The walsender lets go of the slot a moment after it is told to stop.
    wait_until(rt, "slot " + slot + " on node \"" + node.node() + "\" to be released", [&] {
        node.exec(sql::terminate_slot_user(slot));
        node.exec(sql::drop_slot(slot));
        return node.exec(sql::slots_named({slot})).empty();
    });
    return true;
}

void stop_subscriptions(Runtime &rt, const std::vector<SubscriptionOn> &subs) {
    if (subs.empty()) return;
    // One statement per connection at a time: rounds, each taking the next
    // subscription of every node.
    std::vector<SubscriptionOn> left = subs;
    while (!left.empty()) {
        std::vector<std::pair<Connection *, Query>> round;
        std::vector<SubscriptionOn> later;
        for (const SubscriptionOn &s : left) {
            const bool busy = std::any_of(round.begin(), round.end(), [&](const auto &w) { return w.first == s.node; });
            if (busy) later.push_back(s);
            else round.emplace_back(s.node, sql::sub_disable(s.sub));
        }
        rt.exec_all(round);
        left = std::move(later);
    }
    std::vector<std::string> names;
    for (const SubscriptionOn &s : subs) names.push_back(s.sub + " on node \"" + s.node->node() + "\"");
    const int64_t give_up = rt.now_ms() + 5000;
    std::vector<bool> stopped(subs.size(), false);
    wait_until(rt, "the workers of " + join(names) + " to stop", [&] {
        bool all = true;
        for (size_t i = 0; i < subs.size(); ++i) {
            if (stopped[i]) continue;
            Connection &node = *subs[i].node;
            if (node.exec(sql::subscription_workers(subs[i].sub)).text(0, "n") == "0") {
                stopped[i] = true;
                continue;
            }
            all = false;
            // A worker that does not notice the disable (stuck on a lock) is
            // ended: its subscription is going anyway.
            if (rt.now_ms() >= give_up) node.exec(sql::terminate_subscription_workers(subs[i].sub));
        }
        return all;
    });
}

void stop_and_drop_subscription(Runtime &rt, Connection &node, const std::string &sub) {
    stop_subscriptions(rt, {{&node, sub}});
    node.exec(sql::sub_drop(sub));
}

std::vector<std::string> user_objects_on(Connection &node) {
    QueryResult r = node.exec(sql::user_objects());
    std::vector<std::string> out;
    for (size_t i = 0; i < r.size(); ++i) out.push_back(r.text(i, "obj"));
    return out;
}

namespace {

Value after_value(const CopyRecord &record) {
    return record.after ? Value(text_array_literal(*record.after)) : Value();
}

struct PlannedDrop {
    std::string what, stmt, verb, target;
    int group = 0;
    bool copy = true;
};

struct FullPlan {
    CopyRollbackPlan plan;
    std::vector<PlannedDrop> drops;
};

FullPlan read_plan(Connection &node, const CopyRecord &record) {
    QueryResult r = node.exec(sql::copy_rollback_plan(record.before, after_value(record), record.listing));
    FullPlan out;
    for (size_t i = 0; i < r.size(); ++i) {
        const std::string role = r.text(i, "role");
        if (role == "other") {
            out.plan.others.push_back(r.text(i, "what"));
        } else if (role == "table") {
            out.plan.tables.push_back(r.text(i, "what"));
        } else if (role == "drop") {
            out.drops.push_back({r.text(i, "what"), r.text(i, "stmt"), r.text(i, "verb"), r.text(i, "target"),
                                 std::stoi(r.text(i, "grp", "0")), r.text(i, "copy") == "true"});
        }
    }
    return out;
}

// Rolls the transaction back unless it was committed, whatever ends it (a
// refusal, a failed statement, a cancel).
class RollbackTransaction {
public:
    RollbackTransaction(Runtime &rt, Connection &node) : rt_(rt), node_(node) { node_.exec(sql::begin_rollback()); }
    ~RollbackTransaction() {
        if (!open_) return;
        // Should it not get through, the session's end rolls it back.
        send_on_the_way_out(rt_, node_, sql::abandon_rollback());
    }
    RollbackTransaction(const RollbackTransaction &) = delete;
    RollbackTransaction &operator=(const RollbackTransaction &) = delete;
    void commit() {
        open_ = false;
        node_.exec(sql::commit_rollback());
    }

private:
    Runtime &rt_;
    Connection &node_;
    bool open_ = true;
};

// Runs `statement` in a savepoint: false when something not yet dropped
// still depends on what it drops (it is tried again later).
bool try_drop(Connection &node, const std::string &statement, std::string &why) {
    try {
        node.exec(sql::drop_in_savepoint(statement));
        return true;
    } catch (const RemoteError &e) {
        if (e.sqlstate() != "2BP01") throw;  // dependent_objects_still_exist
        why = e.server_message();
        node.exec(sql::undo_drop());
        return false;
    }
}

}  // namespace

CopyRollbackPlan plan_copy_rollback(Connection &node, const CopyRecord &record) {
    return read_plan(node, record).plan;
}

UserError copy_dependents_error(const std::string &node_name, const std::vector<std::string> &others,
                                const std::string &hint, const std::string &what_changed) {
    constexpr size_t kNamed = 20;
    std::vector<std::string> named(others.begin(), others.begin() + static_cast<long>(std::min(others.size(), kNamed)));
    std::string list = join(named);
    if (others.size() > kNamed) list += " and " + std::to_string(others.size() - kNamed) + " more";
    return UserError("node \"" + node_name + "\" holds objects not made by its copy that depend on what the copy made: " +
                         list,
                     "Rolling back the unfinished add would drop them with the copy's objects. " + what_changed,
                     hint);
}

CopyRollback drop_copied_objects(Runtime &rt, Connection &node, const CopyRecord &record, bool force,
                                 const std::string &hint) {
    RollbackTransaction tx(rt, node);
    node.exec(sql::ddl_replication_off());
    QueryResult lock = node.exec(sql::copied_tables_lock(record.before, after_value(record)));
    if (!lock.empty()) node.exec(sql::run_generated(Stmt::LockCopiedTables, "lock the copy's tables", lock.text(0, "stmt")));
    FullPlan plan = read_plan(node, record);
    // Whatever was cleaned before this (subscriptions, slots) stays cleaned;
    // the copy's objects stay until a call finds nothing in the way.
    const std::string kept = "None of the copy's objects was dropped.";
    if (!plan.plan.others.empty() && !force) throw copy_dependents_error(node.node(), plan.plan.others, hint, kept);
    for (const PlannedDrop &d : plan.drops)
        if (d.stmt.empty())
            throw UserError("node \"" + node.node() + "\": " + d.what + " cannot be dropped by itself",
                            "Rolling back the copy would need DROP ... CASCADE. " + kept,
                            "Drop it by hand, then call again.");
    // In passes, group by group in the plan's order: the DROPs of one kind
    // first as one statement (their dependencies on each other do not stop
    // it); when something not yet dropped still depends on one of them,
    // each alone, and what is still held waits for the next pass.
    CopyRollback done;
    std::vector<PlannedDrop> pending = plan.drops;
    std::string why;
    auto dropped = [&](const PlannedDrop &d) {
        if (d.copy) done.dropped.push_back(d.what);
    };
    while (!pending.empty()) {
        std::vector<PlannedDrop> held;
        for (size_t i = 0; i < pending.size();) {
            size_t end = i;
            while (end < pending.size() && pending[end].group == pending[i].group) ++end;
            std::vector<std::string> verbs;  // of this group, in order
            for (size_t k = i; k < end; ++k)
                if (std::find(verbs.begin(), verbs.end(), pending[k].verb) == verbs.end()) verbs.push_back(pending[k].verb);
            for (const std::string &verb : verbs) {
                std::vector<const PlannedDrop *> these;
                for (size_t k = i; k < end; ++k)
                    if (pending[k].verb == verb) these.push_back(&pending[k]);
                if (!verb.empty() && these.size() > 1) {
                    std::vector<std::string> targets;
                    for (const PlannedDrop *d : these) targets.push_back(d->target);
                    if (try_drop(node, verb + " " + join(targets), why)) {
                        for (const PlannedDrop *d : these) dropped(*d);
                        continue;
                    }
                }
                for (const PlannedDrop *d : these) {
                    if (try_drop(node, d->stmt, why))
                        dropped(*d);
                    else
                        held.push_back(*d);
                }
            }
            i = end;
        }
        if (held.size() == pending.size()) {
            std::vector<std::string> names;
            for (const PlannedDrop &d : held) names.push_back(d.what);
            throw UserError("node \"" + node.node() + "\": what the copy made cannot be dropped without CASCADE: " +
                                join(names),
                            why + ". " + kept, "Drop what depends on them by hand, then call again.");
        }
        pending = std::move(held);
    }
    tx.commit();
    // Named as the refusal would have named them: what went with another
    // object (a trigger or an index on a copied table) too.
    if (force) done.others = plan.plan.others;
    return done;
}

}  // namespace zodan
