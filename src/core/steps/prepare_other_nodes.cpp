// Step prepare_other_nodes: the source's subscription on N (disabled), the
// others' sent after it, and on every other node O a slot for sub_O_N, each made after a commit of
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
#include "core/waits/in_flight.hpp"

namespace zodan {

namespace {

// On each O a commit of its own before its slot starts: with Spock's
// commit clock every later commit of O's, every change that can reach N
// late among them, has a later timestamp (docs/protocol.md, "Late
// conflicts"). The commit is the statement that read O's sets and looked
// up its slot (sql::local_sets_and_slot), made only where the slot is
// still to be made; its timestamp is read, with a look for long
// transactions (the slots' first), in the next statement, and journaled
// before any slot is made. An earlier call's mark stays: it is older
// still. A slot made with no mark recorded (by an older version) leaves
// the start unknown: the window is then every row. Returns how long the
// look took, or -1 where it found a long transaction (the slots' own
// wait then says which).
int64_t mark_window_start(AddRun &run, const std::vector<Member *> &others, const std::vector<bool> &slots_found,
                          const std::vector<std::string> &xids) {
    std::vector<std::pair<Connection *, Query>> reads;
    for (size_t i = 0; i < others.size(); ++i) {
        PathIn &path = run.path(others[i]->name);
        if (path.window_from.empty() && slots_found[i]) path.window_from = "-infinity";
        reads.emplace_back(others[i]->conn.get(), sql::window_mark_time(path.window_from.empty() ? xids[i] : "", kOldTransactionMs));
    }
    const int64_t looked = run.rt.now_ms();
    std::vector<QueryResult> at = run.rt.exec_all(reads);
    int64_t took = run.rt.now_ms() - looked;
    for (size_t i = 0; i < others.size(); ++i) {
        PathIn &path = run.path(others[i]->name);
        if (path.window_from.empty()) path.window_from = at[i].text(0, "ts", "-infinity");
        if (at[i].text(0, "long", "0") != "0") took = -1;
    }
    run.journal.save(StepId::PrepareOtherNodes, run.record);
    return took;
}

// On every O a slot for sub_O_N, each after a commit of O's that dates
// the join window, then O's sync event applied on S; the run's members
// recorded. With `subscribe_source`, the source's subscription on N is
// made meanwhile: sent once the reads it needs are in, and waited for
// before any slot is made; else the source's path is recorded by then.
void prepare_paths_from_others(AddRun &run, bool subscribe_source) {
    std::vector<Member *> others = run.others();
    run.path(run.source().name);  // the run's paths recorded from here on
    PreparedPaths &prepared = *run.record.prepared;
    prepared.members = {run.source().name};
    for (const Member *o : others) prepared.members.push_back(o->name);
    if (others.empty()) {  // two nodes: nothing to hold back
        if (subscribe_source) subscribe_new_node(run, {&run.source()}, nullptr);
        return;
    }

    // On N, in one look: what sub_S_N needs and only the names of the
    // others' slots, by Spock's rule, for the slots below.
    std::vector<Member *> asked = others;
    if (subscribe_source) asked.insert(asked.begin(), &run.source());
    QueryResult named = subscriptions_on_new_node(run, asked);
    const size_t first = subscribe_source ? 1 : 0;
    for (size_t i = 0; i < others.size(); ++i) run.path(others[i]->name).slot = named.text(first + i, "slot");
    // Each O's sets, whether its slot exists and the window's mark where it
    // does not, in one statement on all at once, with S's sets.
    std::vector<std::pair<Connection *, Query>> lookups;
    for (Member *o : others) {
        const PathIn &path = run.path(o->name);
        lookups.emplace_back(o->conn.get(), sql::local_sets_and_slot(path.slot, path.window_from.empty()));
    }
    if (subscribe_source) lookups.emplace_back(run.source().conn.get(), sql::local_sets());
    std::vector<QueryResult> read = run.rt.exec_all(lookups);
    std::vector<bool> found;
    std::vector<std::string> xids;
    std::vector<std::vector<std::string>> others_sets;
    for (size_t i = 0; i < others.size(); ++i) {
        others_sets.push_back(parse_text_array(read[i].text(0, "sets", "{}")));
        run.path(others[i]->name).sets = join(others_sets.back());
        found.push_back(read[i].text(0, "slots") != "0");
        xids.push_back(read[i].text(0, "xid"));
    }
    // A slot on every O, created at once: from here on O keeps what N needs.
    // A slot this run already made (an earlier call stopped inside this
    // step) is kept: it started before everything the sync events below cover.
    const bool own_slots = run.started_earlier.count(StepId::PrepareOtherNodes) > 0;
    std::vector<SlotToMake> missing;
    for (size_t i = 0; i < others.size(); ++i) {
        const std::string &slot = run.path(others[i]->name).slot;
        if (!found[i]) {
            missing.push_back({others[i], slot, nullptr, true});
            continue;
        }
        if (!own_slots)
            throw UserError("replication slot \"" + slot + "\" already exists on node \"" + others[i]->name + "\"",
                            "It was probably left by an earlier, failed run.",
                            "Run spock.remove_node for \"" + run.args.new_name +
                                "\" to clean up what that run left, then call spock.add_node again.");
    }
    // sub_S_N on N's second session (Spock's sub_create connects to S
    // twice and to N once: many round trips) while the marks are read and
    // journaled on the O's and N's own session.
    InFlight subscribing(run.rt);
    if (subscribe_source)
        subscribe_new_node(run, {&run.source()}, {set_names_of(read.back())}, named, 0, &subscribing);
    const int64_t looked_ms = mark_window_start(run, others, found, xids);
    subscribing.collect();  // N knows S before any slot is made (prepare_other_nodes)
    // The others' at once on the session S's just left, in one statement:
    // Spock makes them one after another, each about as long as S's, so
    // they run while the slots below are made, the source syncs and the
    // copy runs, which collects them (copy_source). They write nothing on
    // their providers.
    if (subscribe_source)
        subscribe_new_node(run, others, others_sets, named, first, &run.start_others_subscribing());

    // Each slot with a sync event after its start in the same statement
    // (one made by an earlier call gets an event of its own), applied by
    // S: every O change from before the slot is now in S.
    std::vector<QueryResult> made = create_slots(run.rt, missing, {}, looked_ms);
    std::vector<Member *> without_event;
    std::map<std::string, Lsn> events;
    for (size_t i = 0; i < missing.size(); ++i) events[missing[i].node->name] = lsn_of(made[i].at(0, "sync_lsn"));
    for (Member *o : others)
        if (!events.count(o->name)) without_event.push_back(o);
    if (!without_event.empty()) {
        std::vector<QueryResult> more = run.rt.exec_all(same_query(without_event, sql::sync_event()));
        for (size_t i = 0; i < without_event.size(); ++i) events[without_event[i]->name] = lsn_of(more[i].scalar());
    }
    wait_applied(run.rt, {&run.source()}, events);
    run.source_applied_events = true;
    for (const auto &[name, lsn] : events) run.path(name).sync_lsn = lsn;
    for (Member *o : others) {
        const PathIn &path = run.path(o->name);
        run.detail(o->name + ": slot " + path.slot + " made for " + subscription_name(o->name, run.args.new_name),
                   "sync event at " + format_lsn(path.sync_lsn));
    }
}

}  // namespace

void prepare_other_nodes(AddRun &run, Figures &) {
    // The source's subscription on N before any slot is made on any node:
    // from then on N's catalog knows the source, and the source knows
    // every member, which is how a rollback from N finds every node holding
    // anything of this run without our keeping any DSN (the marks on the
    // O's made meanwhile are commits of nothing, nothing to undo). The
    // others' are sent as soon as S's is made and collected after the copy
    // (copy_source): Spock makes N's one at a time (each holds N's
    // local_node lock while it connects to its provider twice and to N
    // once), and nothing before the copy's end needs them. No existing node learns of N before the paths out of N are made
    // (create_reverse_subscriptions): until then another add or remove sees
    // the cluster as it was. Spock names each one's slot (after N's database).
    prepare_paths_from_others(run, true);  // S -> N starts at the copy point
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
    prepare_paths_from_others(run, false);
}

}  // namespace zodan
