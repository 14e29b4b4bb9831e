// Step prepare_other_nodes: the source's subscription on N (disabled), and
// on every other node O a slot for sub_O_N, each made after a commit of
// O's that dates the join window (join_window.hpp), then a sync event of
// each O applied on S (e_O): every change of O's before its slot is in S.
#include "core/physical/physical.hpp"
#include "core/plan/add_run.hpp"
#include "core/cluster/names.hpp"
#include "core/waits/replication_waits.hpp"
#include "core/waits/slots.hpp"
#include "core/statements/spock_sql.hpp"
#include "core/text/text_array.hpp"
#include "core/util.hpp"
#include "core/steps/paths_in.hpp"

namespace zodan {

namespace {

// On each O, a commit of its own before its slot starts: with Spock's
// commit clock every later commit of O's, every change that can reach N
// late among them, has a later timestamp (docs/protocol.md, "Late
// conflicts"). An earlier call's mark stays: it is older still. A slot
// made with no mark recorded (by an older version) leaves the start
// unknown: the window is then every row.
void mark_window_start(AddRun &run, const std::vector<Member *> &others, const std::vector<bool> &slots_found) {
    std::vector<Member *> unmarked;
    for (size_t i = 0; i < others.size(); ++i) {
        PathIn &path = run.path(others[i]->name);
        if (!path.window_from.empty()) continue;
        if (slots_found[i])
            path.window_from = "-infinity";
        else
            unmarked.push_back(others[i]);
    }
    if (!unmarked.empty()) {
        std::vector<QueryResult> xids = run.rt.exec_all(same_query(unmarked, sql::window_mark()));
        std::vector<std::pair<Connection *, Query>> times;
        for (size_t i = 0; i < unmarked.size(); ++i)
            times.emplace_back(unmarked[i]->conn.get(), sql::window_mark_time(xids[i].text(0, "xid")));
        std::vector<QueryResult> at = run.rt.exec_all(times);
        for (size_t i = 0; i < unmarked.size(); ++i) run.path(unmarked[i]->name).window_from = at[i].text(0, "ts", "-infinity");
    }
    run.journal.save(StepId::PrepareOtherNodes, run.record);
}

// On every O a slot for sub_O_N, each after a commit of O's that dates
// the join window, then O's sync event applied on S; the run's members
// recorded. The source's path is recorded by then.
void prepare_paths_from_others(AddRun &run) {
    std::vector<Member *> others = run.others();
    PreparedPaths &prepared = *run.record.prepared;
    prepared.members = {run.source().name};
    for (const Member *o : others) prepared.members.push_back(o->name);
    if (others.empty()) return;  // two nodes: nothing to hold back

    // Only their slots' names, by Spock's rule, for the slots below.
    QueryResult named = subscriptions_on_new_node(run, others);
    for (size_t i = 0; i < others.size(); ++i) run.path(others[i]->name).slot = named.text(i, "slot");
    // Each O's sets, and whether its slot exists, in one read on all at once.
    std::vector<std::pair<Connection *, Query>> lookups;
    for (Member *o : others) lookups.emplace_back(o->conn.get(), sql::local_sets_and_slot(run.path(o->name).slot));
    std::vector<QueryResult> read = run.rt.exec_all(lookups);
    std::vector<bool> found;
    for (size_t i = 0; i < others.size(); ++i) {
        run.path(others[i]->name).sets = join(parse_text_array(read[i].text(0, "sets", "{}")));
        found.push_back(read[i].text(0, "slots") != "0");
    }
    // A slot on every O, created at once: from here on O keeps what N needs.
    // A slot this run already made (an earlier call stopped inside this
    // step) is kept: it started before everything the sync events below cover.
    const bool own_slots = run.started_earlier.count(StepId::PrepareOtherNodes) > 0;
    std::vector<SlotToMake> missing;
    for (size_t i = 0; i < others.size(); ++i) {
        const std::string &slot = run.path(others[i]->name).slot;
        if (!found[i]) {
            missing.push_back({others[i], slot});
            continue;
        }
        if (!own_slots)
            throw UserError("replication slot \"" + slot + "\" already exists on node \"" + others[i]->name + "\"",
                            "It was probably left by an earlier, failed run.",
                            "Run spock.remove_node for \"" + run.args.new_name +
                                "\" to clean up what that run left, then call spock.add_node again.");
    }
    mark_window_start(run, others, found);
    create_slots(run.rt, missing);

    // A commit after each slot's start, applied by S: every O change from
    // before the slot is now in S.
    for (const auto &[name, lsn] : sync_and_wait(run.rt, others, run.source())) run.path(name).sync_lsn = lsn;
    for (Member *o : others) {
        const PathIn &path = run.path(o->name);
        run.detail(o->name + ": slot " + path.slot + " made for " + subscription_name(o->name, run.args.new_name),
                   "sync event at " + format_lsn(path.sync_lsn));
    }
}

}  // namespace

void prepare_other_nodes(AddRun &run, Figures &) {
    // The source's subscription on N first, before anything is made on any
    // node: from then on N's catalog knows the source, and the source knows
    // every member, which is how a rollback from N finds every node holding
    // anything of this run without our keeping any DSN. The others' are made
    // while the copy runs (copy_source): Spock makes N's one at a time (each
    // holds N's local_node lock while it connects to its provider twice and
    // to N once), and nothing before the copy needs them. No existing node
    // learns of N before the paths out of N are made
    // (create_reverse_subscriptions): until then another add or remove sees
    // the cluster as it was. Spock names each one's slot (after N's database).
    subscribe_new_node(run, {&run.source()}, nullptr);  // S -> N starts at the copy point
    prepare_paths_from_others(run);
}

void prepare_other_nodes_physical(AddRun &run, Figures &) {
    // N is read-only until its promotion (copy_source), where all its
    // subscriptions are made; only the name its slot on S gets now. A slot
    // on an O left by another run is refused before anything is made, so
    // that a failure before the promotion drops only this call's slots.
    std::vector<Member *> existing = run.view.existing();  // S first
    QueryResult named = subscriptions_on_new_node(run, existing);
    run.path(run.args.src_name).slot = named.text(0, "slot");
    std::vector<std::pair<Connection *, Query>> lookups;
    for (size_t i = 0; i < existing.size(); ++i)
        lookups.emplace_back(existing[i]->conn.get(), sql::slot_exists(named.text(i, "slot")));
    std::vector<QueryResult> found = run.rt.exec_all(lookups);
    for (size_t i = 0; i < existing.size(); ++i)
        if (!found[i].empty())
            throw UserError("replication slot \"" + named.text(i, "slot") + "\" already exists on node \"" +
                                existing[i]->name + "\"",
                            "It was probably left by an earlier run that did not finish.",
                            "Drop it there (pg_drop_replication_slot) if no node named \"" + run.args.new_name +
                                "\" is in the cluster, then call spock.add_node again.");
    physical::state_of(run).peer_slots_ours = true;
    prepare_paths_from_others(run);
}

}  // namespace zodan
