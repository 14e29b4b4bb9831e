#include "core/protocol/add_node.hpp"

#include <algorithm>
#include <iterator>
#include <optional>
#include <set>
#include <stdexcept>

#include "core/protocol/checks.hpp"
#include "core/protocol/headroom.hpp"
#include "core/protocol/in_flight.hpp"
#include "core/protocol/join_lock.hpp"
#include "core/protocol/mirror_sets.hpp"
#include "core/protocol/names.hpp"
#include "core/protocol/replication_waits.hpp"
#include "core/protocol/slots.hpp"
#include "core/protocol/spock_sql.hpp"
#include "core/protocol/util.hpp"
#include "core/protocol/verify_data.hpp"
#include "core/protocol/waiter.hpp"
#include "core/text/conninfo.hpp"
#include "core/text/secrets.hpp"
#include "core/text/text_array.hpp"

namespace zodan {

// The steps of docs/protocol.md, in order. A step is known by its name (the
// journal's key, zodan.fail_at_step); its place here is only its number in
// the NOTICEs.
struct AddNode::Step {
    const char *name;
    const char *title;  // what the operator reads
    void (AddNode::*run)(JsonObject &out);
};

const AddNode::Step AddNode::kSteps[] = {
    {"check_versions", "check Spock versions", &AddNode::check_versions_step},
    {"check_preconditions", "check preconditions", &AddNode::check_preconditions_step},
    {"create_node", "register the new node", &AddNode::create_node},
    {"prepare_other_nodes", "create slots and disabled subscriptions for the other nodes", &AddNode::prepare_other_nodes},
    {"sync_source", "bring the source up to date", &AddNode::sync_source},
    {"copy_source", "copy the source to the new node", &AddNode::copy_source},
    {"catch_up", "let the new node catch up with the source", &AddNode::catch_up},
    {"advance_slots", "skip what the copy already holds", &AddNode::advance_slots},
    {"mirror_replication_sets", "mirror replication sets", &AddNode::mirror_sets},
    {"enable_other_subscriptions", "open the paths to the new node", &AddNode::enable_other_subscriptions},
    {"confirm_inbound", "confirm the paths to the new node", &AddNode::confirm_inbound},
    {"verify_data", "compare the new node with the source", &AddNode::verify_data_step},
    {"create_reverse_subscriptions", "open the paths from the new node", &AddNode::create_reverse_subscriptions},
    {"confirm", "confirm the cluster", &AddNode::confirm},
};

std::vector<std::string> AddNode::step_names() {
    std::vector<std::string> names;
    for (const Step &s : kSteps) names.emplace_back(s.name);
    return names;
}

AddNode::AddNode(Runtime &rt, AddNodeArgs args) : rt_(rt), args_(std::move(args)) {}

void AddNode::detail(const std::string &message, const std::string &detail_text) {
    if (args_.verbose) rt_.report(Level::Notice, "  " + message, detail_text);
}

std::string add_node_fingerprint(const AddNodeArgs &args) {
    // Masked: a retry is the same run whatever the passwords (they may have
    // been rotated meanwhile), and the journal stores no secret.
    return args.src_name + "\n" + mask_dsn(args.src_dsn) + "\n" + args.new_name + "\n" + mask_dsn(args.new_dsn);
}

Member *AddNode::member(const std::string &name) {
    if (name == view_.source.name) return &view_.source;
    for (Member &o : view_.others)
        if (o.name == name) return &o;
    return nullptr;
}

void AddNode::run() {
    started_ms_ = rt_.now_ms();
    if (args_.src_name == args_.new_name)
        throw UserError("src_node_name and new_node_name are both \"" + args_.new_name + "\"", "",
                        "The source must be an existing member and the new node a different one.");
    discover_and_lock();
    const std::string fingerprint = add_node_fingerprint(args_);
    if (!resume_earlier_run(fingerprint)) {
        journal_.begin(view_.new_node.db(), "add_node", args_.src_name, args_.new_name, mask_dsn(args_.src_dsn),
                       mask_dsn(args_.new_dsn), fingerprint, rt_.backend_pid());
        state_.copy_method = rt_.copy_method();
    }

    try {
        for (size_t no = 0; no < std::size(kSteps); ++no) run_step(static_cast<int>(no), kSteps[no]);
        journal_.finish(true);
    } catch (const std::exception &e) {
        try {
            journal_.finish(false, e.what());
        } catch (...) {
            // The journal is best effort once the run has failed; the original error matters.
        }
        throw;
    }
}

void AddNode::discover_and_lock() {
    // The lock is taken on the members found; a member that joined just
    // before would be missed, so once nothing can change any more, the
    // membership is read again, and found anew when it grew.
    for (int attempt = 0; attempt < 3; ++attempt) {
        view_ = discover_cluster(rt_, args_);
        require_all({check_runs_on_new_node(rt_, view_)});
        take_join_lock(rt_, view_.existing(), "spock.add_node of \"" + args_.new_name + "\"", &view_.new_node);
        std::set<std::string> found{view_.source.name};
        for (const Member &o : view_.others) found.insert(o.name);
        QueryResult now = view_.source.db().exec(sql::nodes_with_dsn());
        std::set<std::string> listed;
        for (size_t i = 0; i < now.size(); ++i)
            if (now.text(i, "node_name") != args_.new_name) listed.insert(now.text(i, "node_name"));
        if (listed == found) return;
    }
    throw UserError("the membership of the cluster kept changing while spock.add_node started", "",
                    "Let the other adds and removes finish, then call spock.add_node again.");
}

bool AddNode::resume_earlier_run(const std::string &fingerprint) {
    std::optional<PriorRun> prior = Journal::latest(view_.new_node.db(), "add_node", fingerprint);
    if (!prior) return false;
    if (prior->state == "running" && prior->alive)
        throw UserError("spock.add_node is already running on this node (process " +
                            std::to_string(prior->backend_pid) + ")",
                        "", "Wait for it to finish, or stop it with pg_cancel_backend(" +
                                std::to_string(prior->backend_pid) + ") and call spock.add_node again to resume it.");
    if (!prior->unfinished()) return false;
    if (!prior->same_arguments)
        throw UserError("an earlier spock.add_node of node \"" + prior->new_name + "\" through \"" + prior->src_name +
                            "\" did not finish",
                        "A new add cannot start before that one is resumed or rolled back.",
                        "Call spock.add_node again with the arguments of that run to resume it, or roll it back "
                        "with CALL spock.remove_node('" + prior->new_name + "', <its DSN>) on this node.");
    journal_.resume(view_.new_node.db(), prior->run_id, rt_.backend_pid());
    done_earlier_ = prior->done_steps;
    started_earlier_ = prior->started_steps;
    restore_outputs();
    // A run resumed into a cluster whose membership changed would leave a
    // path out: it made slots and subscriptions for the members it found.
    if (!state_.members.empty()) {
        std::vector<std::string> now{view_.source.name};
        for (const Member &o : view_.others) now.push_back(o.name);
        std::vector<std::string> then = state_.members;
        std::sort(now.begin(), now.end());
        std::sort(then.begin(), then.end());
        if (now != then)
            throw UserError("the cluster changed since this run of spock.add_node began: its members were " +
                                join(then) + ", now they are " + join(now),
                            "The run prepared slots and subscriptions for the members it found.",
                            "Roll it back with CALL spock.remove_node('" + args_.new_name +
                                "', <its DSN>) on this node, then add the node again.");
    }
    std::string first;
    for (const Step &s : kSteps)
        if (!done_earlier_.count(s.name)) {
            first = s.name;
            break;
        }
    rt_.report(Level::Notice, "add_node: resuming the unfinished run at step " + first);
    return true;
}

void AddNode::restore_outputs() {
    // A run begun before the copy method was recorded used Spock's sync.
    auto versions = Journal::step_output(view_.new_node.db(), journal_.run_id(), "check_versions");
    state_.copy_method = versions.count("copy_method") ? versions["copy_method"] : "spock";
    for (const auto &[key, value] :
         Journal::step_output(view_.new_node.db(), journal_.run_id(), "prepare_other_nodes")) {
        if (key == "members") state_.members = split(value, ",");
        size_t dot = key.find('.');
        if (dot == std::string::npos) continue;
        std::string node = key.substr(0, dot), field = key.substr(dot + 1);
        if (field == "slot") state_.slot_of[node] = value;
        if (field == "sync_lsn") state_.slot_sync_lsn[node] = parse_lsn(value);
        if (node == "window_from") state_.window_from[field] = value;
    }
    const auto mirrored = Journal::step_output(view_.new_node.db(), journal_.run_id(), "mirror_replication_sets");
    if (mirrored.count("deferred")) state_.sets_deferred = parse_text_array(mirrored.at("deferred"));
    if (!done_earlier_.count("copy_source")) return;
    for (const auto &[key, value] : Journal::step_output(view_.new_node.db(), journal_.run_id(), "copy_source")) {
        if (key.rfind("positions.", 0) == 0) state_.copy_position[key.substr(10)] = parse_lsn(value);
        if (key == "consistent_point") state_.copy_start = parse_lsn(value);
    }
}

std::string AddNode::nothing_to_do(const Step &step) const {
    const std::string name = step.name;
    const bool alone = view_.others.empty();
    if (alone && (name == "sync_source" || name == "advance_slots")) return "no other nodes";
    if (name == "catch_up" && state_.copy_method == "zodan") return "the copy starts at the copy point itself";
    if (name == "verify_data" && !rt_.verify_data()) return "zodan.verify_data is off";
    return "";
}

void AddNode::run_step(int order, const Step &step) {
    const std::string phase = "add_node phase " + std::to_string(order) + "/" + std::to_string(std::size(kSteps) - 1) +
                              ": " + step.title;
    if (done_earlier_.count(step.name)) {
        rt_.report(Level::Notice, phase + " (done before)");
        return;
    }
    const std::string idle = nothing_to_do(step);
    rt_.report(Level::Notice, phase + (idle.empty() ? "" : " (nothing to do: " + idle + ")"));
    journal_.step_started(step.name, order);
    const int64_t t0 = rt_.now_ms();
    JsonObject out;
    try {
        rt_.maybe_fail_at(step.name);
        if (rt_.pause_requested(step.name)) pause_here(step.name);
        if (idle.empty()) (this->*step.run)(out);
        rt_.maybe_fail_at(std::string(step.name) + ":after");
    } catch (const std::exception &e) {
        try {
            journal_.step_failed(step.name, e.what());
        } catch (...) {
        }
        throw;
    }
    journal_.step_done(step.name, out.str());
    rt_.between_steps();
    detail(std::string(step.name) + " done", "took " + std::to_string(rt_.now_ms() - t0) + " ms");
}

void AddNode::pause_here(const std::string &step) {
    // A test holds this lock to keep the run waiting here, like a real wait.
    rt_.report(Level::Notice, "pausing at step \"" + step + "\" while the advisory lock zodan.pause is held");
    view_.new_node.db().exec({"pause", "SELECT pg_catalog.pg_advisory_lock(pg_catalog.hashtext('zodan.pause'))", {}});
    view_.new_node.db().exec(
        {"end the pause", "SELECT pg_catalog.pg_advisory_unlock(pg_catalog.hashtext('zodan.pause'))", {}});
}

void AddNode::check_versions_step(JsonObject &out) {
    std::vector<CheckResult> results = check_versions(rt_, view_);
    require_all(results);
    out.add("nodes", static_cast<long long>(results.size())).add("copy_method", state_.copy_method);
}

void AddNode::check_preconditions_step(JsonObject &out) {
    require_all(check_preconditions(rt_, view_));
    detail("the database of " + args_.src_name + " is " + human_bytes(view_.source_database_bytes));
    out.add("others", join(view_.other_names())).add("source_bytes", view_.source_database_bytes);
}

void AddNode::create_node(JsonObject &out) {
    QueryResult local = view_.new_node.db().exec(sql::local_node_name());
    if (!local.empty()) {
        // Only a resumed run gets here with the node present (step 1 refuses otherwise).
        if (local.text(0, "node_name") != args_.new_name)
            throw UserError("this database is already Spock node \"" + local.text(0, "node_name") + "\"");
        out.add("node", args_.new_name);
        return;
    }
    QueryResult r = view_.new_node.db().exec(
        sql::node_create(args_.new_name, args_.new_dsn, args_.location, args_.country, args_.info_json));
    out.add("node_id", r.text(0, "node_id"));
}

bool AddNode::has_subscription(Member &node, const std::string &name) {
    return node.db().exec(sql::subscription_exists(name)).text(0, "n") != "0";
}

std::vector<std::string> AddNode::local_set_names(Member &node) {
    QueryResult sets = node.db().exec(sql::local_sets());
    std::vector<std::string> names;
    for (size_t i = 0; i < sets.size(); ++i) names.push_back(sets.text(i, "set_name"));
    return names;
}

QueryResult AddNode::subscriptions_on_new_node(const std::vector<Member *> &providers) {
    // One look on N for all of them: which an earlier call of this run
    // made, the slot each has or will get by Spock's rule, and origins of
    // those names an earlier run left (sub_create would trip over them).
    std::vector<std::string> dbs, names, subs;
    for (Member *p : providers) {
        dbs.push_back(view_.new_node.dbname);
        names.push_back(p->name);
        subs.push_back(subscription_name(p->name, args_.new_name));
    }
    return view_.new_node.db().exec(sql::subscription_slots(dbs, names, subs));
}

void AddNode::subscribe_new_node(const std::vector<Member *> &providers, InFlight *in_flight) {
    if (providers.empty()) return;
    Connection &n = view_.new_node.db();
    std::vector<QueryResult> sets = rt_.exec_all(same_query(providers, sql::local_sets()));
    QueryResult on_n = subscriptions_on_new_node(providers);
    std::vector<std::string> names, dsns;
    std::vector<std::vector<std::string>> set_lists;
    Connection *via = &n;
    for (size_t i = 0; i < providers.size(); ++i) {
        Member &p = *providers[i];
        const std::string slot = on_n.text(i, "slot");
        state_.slot_of[p.name] = slot;
        if (on_n.text(i, "present") == "true") continue;  // made by an earlier call of this run
        if (in_flight && names.empty()) via = &second_new_node_session();
        if (on_n.text(i, "origin_left") == "true") via->exec(sql::drop_origin_if_exists(slot));
        names.push_back(on_n.text(i, "sub"));
        dsns.push_back(p.dsn);
        std::vector<std::string> set_names;
        for (size_t r = 0; r < sets[i].size(); ++r) set_names.push_back(sets[i].text(r, "set_name"));
        set_lists.push_back(std::move(set_names));
    }
    if (names.empty()) return;
    // Spock makes them one at a time anyway (each sub_create holds N's
    // local_node lock while it connects to its provider twice and to N
    // once), so one statement on one session costs no time, only fewer
    // connections.
    const Query create = sql::sub_create_disabled(names, dsns, set_lists);
    if (in_flight)
        in_flight->send(*via, create);
    else
        via->exec(create);
}

Connection &AddNode::second_new_node_session() {
    if (!second_session_) second_session_ = std::move(rt_.connect_all({{args_.new_name, args_.new_dsn}}).front());
    return *second_session_;
}

void AddNode::prepare_other_nodes(JsonObject &out) {
    // The disabled subscriptions on N, each asking its provider for the
    // provider's own sets. They change nothing on the provider and start
    // nothing. The source's comes first, before anything is made on any
    // node: from then on N's catalog knows the source, and the source knows
    // every member, which is how a rollback from N finds every node holding
    // anything of this run without our keeping any DSN. With the product's
    // copy, the others' are made while the copy runs (copy_source): Spock
    // makes N's one at a time (each holds N's local_node lock while it
    // connects to its provider twice and to N once), and nothing before
    // the copy needs them. With Spock's sync, the source's subscription is
    // the sync's, and the others' come here. No existing node learns of N
    // before the paths out of N are made (create_reverse_subscriptions):
    // until then another add or remove sees the cluster as it was. Spock
    // names each one's slot (after N's database).
    std::vector<Member *> providers;
    if (own_copy())
        providers.push_back(&view_.source);  // S -> N starts at the copy point
    else
        for (Member &o : view_.others) providers.push_back(&o);
    subscribe_new_node(providers, nullptr);
    std::vector<Member *> others;
    for (Member &o : view_.others) others.push_back(&o);
    if (own_copy() && !others.empty()) {
        // Only their slots' names, by Spock's rule, for the slots below.
        QueryResult named = subscriptions_on_new_node(others);
        for (size_t i = 0; i < others.size(); ++i) state_.slot_of[others[i]->name] = named.text(i, "slot");
    }
    std::map<std::string, std::string> set_list;
    std::vector<QueryResult> sets = rt_.exec_all(same_query(others, sql::local_sets()));
    for (size_t i = 0; i < others.size(); ++i) {
        std::vector<std::string> set_names;
        for (size_t r = 0; r < sets[i].size(); ++r) set_names.push_back(sets[i].text(r, "set_name"));
        set_list[others[i]->name] = join(set_names);
    }
    std::vector<std::string> members{view_.source.name};
    for (const Member &o : view_.others) members.push_back(o.name);
    state_.members = members;
    out.add("members", join(members, ","));
    if (own_copy()) out.add_raw(view_.source.name, JsonObject().add("slot", state_.slot_of[view_.source.name]).str());

    if (view_.others.empty()) {
        // Two nodes: nothing to hold back. With Spock's copy, a marker in
        // S's stream records the start.
        if (!own_copy()) out.add("source_sync_lsn", *view_.source.db().exec(sql::sync_event()).scalar());
        return;
    }
    // A slot on every O, created at once: from here on O keeps what N needs.
    std::vector<std::pair<Connection *, Query>> lookups;
    for (Member *o : others) lookups.emplace_back(o->conn.get(), sql::slot_exists(state_.slot_of[o->name]));
    std::vector<QueryResult> found = rt_.exec_all(lookups);
    // A slot this run already made (an earlier call stopped inside this
    // step) is kept: it started before everything the sync events below cover.
    const bool own_slots = started_earlier_.count("prepare_other_nodes") > 0;
    std::vector<SlotToMake> missing;
    for (size_t i = 0; i < others.size(); ++i) {
        if (found[i].empty()) {
            missing.push_back({others[i], state_.slot_of[others[i]->name]});
            continue;
        }
        if (!own_slots)
            throw UserError("replication slot \"" + state_.slot_of[others[i]->name] + "\" already exists on node \"" +
                                others[i]->name + "\"",
                            "It was probably left by an earlier, failed run.",
                            "Run spock.remove_node for \"" + args_.new_name +
                                "\" to clean up what that run left, then call spock.add_node again.");
    }
    if (own_copy()) mark_window_start(others, found);
    create_slots(rt_, missing);

    // A commit after each slot's start, applied by S: every O change from
    // before the slot is now in S.
    state_.slot_sync_lsn = sync_and_wait(rt_, others, view_.source);

    for (Member *o : others) {
        const std::string &slot = state_.slot_of[o->name];
        out.add_raw(o->name, JsonObject()
                                 .add("slot", slot)
                                 .add("sync_lsn", format_lsn(state_.slot_sync_lsn[o->name]))
                                 .add("sets", set_list[o->name])
                                 .str());
        detail(o->name + ": subscription " + subscription_name(o->name, args_.new_name) + " created disabled, slot " +
                   slot + " created",
               "sync event at " + format_lsn(state_.slot_sync_lsn[o->name]));
    }
}

void AddNode::mark_window_start(const std::vector<Member *> &others, const std::vector<QueryResult> &slots_found) {
    // On each O, a commit of its own before its slot starts: with Spock's
    // commit clock every later commit of O's, every change that can reach N
    // late among them, has a later timestamp (docs/protocol.md, "Late
    // conflicts"). An earlier call's mark stays: it is older still. A slot
    // made with no mark recorded (by an older version) leaves the start
    // unknown: the window is then every row.
    std::vector<Member *> unmarked;
    for (size_t i = 0; i < others.size(); ++i) {
        if (state_.window_from.count(others[i]->name)) continue;
        if (!slots_found[i].empty())
            state_.window_from[others[i]->name] = "-infinity";
        else
            unmarked.push_back(others[i]);
    }
    if (!unmarked.empty()) {
        std::vector<QueryResult> xids = rt_.exec_all(same_query(unmarked, sql::window_mark()));
        std::vector<std::pair<Connection *, Query>> times;
        for (size_t i = 0; i < unmarked.size(); ++i)
            times.emplace_back(unmarked[i]->conn.get(), sql::window_mark_time(xids[i].text(0, "xid")));
        std::vector<QueryResult> at = rt_.exec_all(times);
        for (size_t i = 0; i < unmarked.size(); ++i)
            state_.window_from[unmarked[i]->name] = at[i].text(0, "ts", "-infinity");
    }
    JsonObject marks;
    for (Member *o : others) marks.add(o->name, state_.window_from[o->name]);
    journal_.step_note("prepare_other_nodes", JsonObject().add_raw("window_from", marks.str()).str());
}

void AddNode::sync_source(JsonObject &out) {
    std::vector<Member *> others;
    for (Member &o : view_.others) others.push_back(&o);
    for (const auto &[name, lsn] : sync_and_wait(rt_, others, view_.source)) out.add(name, format_lsn(lsn));
}

void AddNode::catch_up(JsonObject &out) {
    state_.source_sync_lsn = lsn_of(view_.source.db().exec(sql::sync_event()).scalar());
    wait_applied(rt_, {&view_.new_node}, {{args_.src_name, state_.source_sync_lsn}});
    out.add("source_sync_lsn", format_lsn(state_.source_sync_lsn));
}

void AddNode::advance_slots(JsonObject &out) {
    // With the product's own copy, P_O is what the copy point proved; with
    // Spock's sync, what Spock recorded on N (its copy is complete by now).
    if (!own_copy()) {
        QueryResult progress = view_.new_node.db().exec(sql::copy_positions(view_.other_names()));
        for (size_t i = 0; i < progress.size(); ++i)
            if (progress.at(i, "lsn"))
                state_.copy_position[progress.text(i, "origin")] = parse_lsn(progress.text(i, "lsn"));
    }
    std::vector<std::pair<Connection *, Query>> advances;
    for (Member &o : view_.others) {
        auto p = state_.copy_position.find(o.name);
        if (p == state_.copy_position.end())
            throw UserError("the copy recorded no position for origin \"" + o.name + "\" on node \"" + args_.new_name +
                                "\"",
                            "Without it the slot for " + subscription_name(o.name, args_.new_name) +
                                " cannot be advanced exactly; guessing would lose or repeat changes.",
                            "Check that the source's Spock records per-origin progress, then run spock.remove_node "
                            "for the new node and try again.");
        advances.emplace_back(o.conn.get(), sql::advance_slot(state_.slot_of[o.name], p->second));
    }
    // N's origins meanwhile, in one statement.
    std::vector<std::string> origins;
    std::vector<Lsn> positions;
    for (Member &o : view_.others) {
        origins.push_back(state_.slot_of[o.name]);
        positions.push_back(state_.copy_position[o.name]);
    }
    advances.emplace_back(view_.new_node.conn.get(), sql::advance_origins(origins, positions));
    rt_.exec_all(advances);
    for (Member &o : view_.others) {
        Lsn p = state_.copy_position[o.name];
        out.add(o.name, format_lsn(p));
        detail(o.name + ": slot and origin " + state_.slot_of[o.name] + " advanced", "to " + format_lsn(p));
    }
}

void AddNode::mirror_sets(JsonObject &out) {
    MirrorOutcome m = mirror_replication_sets(rt_, view_.source, view_.new_node);
    state_.sets_deferred = m.deferred;
    out.add("sets", static_cast<long long>(m.sets))
        .add("tables", static_cast<long long>(m.tables))
        .add("sequences", static_cast<long long>(m.sequences))
        .add("changes", m.changes)
        .add("deferred", text_array_literal(m.deferred));
    detail("replication sets mirrored from " + args_.src_name,
           std::to_string(m.sets) + " sets, " + std::to_string(m.tables) + " table memberships, " +
               std::to_string(m.changes) + " changes" +
               (m.deferred.empty() ? "" : "; created after the copy point, mirrored once they arrive: " + join(m.deferred)));
}

void AddNode::mirror_deferred_sets(JsonObject &out) {
    // Relations made after the copy point (Spock's DDL replication) have
    // arrived by now: every path into N delivered a sync event written after
    // mirror_replication_sets read the source's sets.
    if (state_.sets_deferred.empty()) return;
    MirrorOutcome m = mirror_replication_sets(rt_, view_.source, view_.new_node);
    if (!m.deferred.empty())
        throw UserError("relations in the replication sets of \"" + args_.src_name + "\" have not reached node \"" +
                            args_.new_name + "\": " + join(m.deferred),
                        "They were created after the copy point; their DDL should have arrived through the new "
                        "node's subscriptions, which have delivered everything written before this step.",
                        "Check that DDL replication (spock.enable_ddl_replication) is on for every node, or create "
                        "them on \"" + args_.new_name + "\" by hand, then call spock.add_node again to resume.");
    out.add("sets_mirrored_late", text_array_literal(state_.sets_deferred));
    detail("replication sets mirrored for what arrived after the copy point", join(state_.sets_deferred));
    state_.sets_deferred.clear();
}

void AddNode::enable_other_subscriptions(JsonObject &out) {
    std::vector<std::string> subs;
    for (Member &o : view_.others) subs.push_back(subscription_name(o.name, args_.new_name));
    if (own_copy()) subs.push_back(subscription_name(args_.src_name, args_.new_name));
    // One statement for all; only disabled ones are enabled (enabling an
    // enabled subscription restarts its worker).
    QueryResult enabled = view_.new_node.db().exec(sql::enable_disabled(subs));
    for (size_t i = 0; i < enabled.size(); ++i) out.add(enabled.text(i, "sub_name"), "enabled");
    help_workers_start();
}

void AddNode::help_workers_start() {
    // Spock's manager on N starts one apply worker at a time and, after
    // each, sleeps on its latch for up to a second (or, when our enabling
    // commit woke it mid-wait, for spock.restart_delay_default) although the
    // worker attached long before; nothing else sets its latch. Its latch is
    // set as soon as a worker it started has attached, and while an enabled
    // subscription still has none.
    Connection &n = view_.new_node.db();
    std::string last_workers;
    Waiter wait(rt_);
    wait.pace(kFirstPollMs, 20, 20);
    for (;;) {
        QueryResult w = n.exec(sql::apply_workers());
        // Done once every worker runs and the manager has left its round
        // (it holds a lock the next steps' sync events need).
        if (w.text(0, "missing", "0") == "0" && w.text(0, "manager_busy", "false") != "true") return;
        const std::string manager = w.text(0, "manager");
        if (!manager.empty()) {
            const std::string workers = w.text(0, "workers");
            if (workers != last_workers || wait.slowest()) rt_.wake_local_process(std::stoi(manager));
            // A worker just attached: the next one is tens of ms away.
            if (workers != last_workers) wait.hurry();
            last_workers = workers;
        }
        if (wait.expired())
            throw UserError(wait.timed_out() + " waiting for Spock's apply workers on node \"" + args_.new_name +
                                "\" to start",
                            "Subscriptions without a worker: " + w.text(0, "without", "?"),
                            "Check that node's log; calling spock.add_node again resumes the run.");
        wait.sleep();
    }
}

void AddNode::create_reverse_subscriptions(JsonObject &out) {
    // As for the paths into N: each X gets sub_N_X disabled, its slot is made
    // on N by us, then it is enabled. (Created enabled, Spock's worker on X
    // would pause N's apply workers and make the slot itself, waiting each
    // time for the WAL writer of a node that commits nothing.)
    std::vector<std::string> sets = local_set_names(view_.new_node);
    Connection &n = view_.new_node.db();
    std::vector<Member *> existing = view_.existing();
    std::vector<std::string> subs, slots, dbs, providers;
    for (Member *x : existing) {
        subs.push_back(subscription_name(args_.new_name, x->name));
        dbs.push_back(x->dbname);
        providers.push_back(args_.new_name);
    }
    // Only the names (Spock's rule, for each X's database): these
    // subscriptions live on the X's, not here.
    QueryResult named = n.exec(sql::subscription_slots(dbs, providers, subs));
    for (size_t i = 0; i < existing.size(); ++i) slots.push_back(named.text(i, "slot"));
    std::vector<std::pair<Connection *, Query>> lookups;
    for (size_t i = 0; i < existing.size(); ++i)
        lookups.emplace_back(existing[i]->conn.get(), sql::subscription_exists(subs[i]));
    std::vector<QueryResult> found = rt_.exec_all(lookups);
    // The existing nodes make theirs (each sub_create there connects to N
    // twice) while N makes the slots.
    InFlight creating(rt_);
    for (size_t i = 0; i < existing.size(); ++i)
        if (found[i].text(0, "n") == "0")  // else made by an earlier call of this run
            creating.send(*existing[i]->conn, sql::sub_create(subs[i], args_.new_dsn, sets, false, false, false, {}));

    QueryResult have = n.exec(sql::slots_named(slots));
    std::set<std::string> present;
    for (size_t i = 0; i < have.size(); ++i) present.insert(have.text(i, "slot_name"));
    // One after another on one session: on N, which commits nothing of its
    // own, each takes a few milliseconds, less than a connection of its own
    // would cost. N's own session flushes N's WAL meanwhile when needed.
    for (const std::string &slot : slots)
        if (!present.count(slot))
            create_slots(rt_, {{&view_.new_node, slot, &second_new_node_session()}},
                         [](Member &m) { m.db().exec(sql::sync_event()); });
    creating.collect();
    std::vector<std::pair<Connection *, Query>> enables;
    for (size_t i = 0; i < existing.size(); ++i) enables.emplace_back(existing[i]->conn.get(), sql::enable_disabled({subs[i]}));
    rt_.exec_all(enables);
    out.add("sets", join(sets)).add("slots", join(slots));
}

void AddNode::confirm_inbound(JsonObject &out) {
    // Every path into N delivers: the e_O of prepare_other_nodes first (the
    // protocol's own check), then a fresh event on S and each O. (Sync
    // events are written before the paths out of N open: each existing
    // node's manager then holds Spock's local_node lock for a second while
    // it starts sub_N_X's worker, and a sync event waits for that lock.)
    std::vector<Member *> existing = view_.existing();
    wait_replicating(rt_, {&view_.new_node}, {});
    wait_applied(rt_, {&view_.new_node}, state_.slot_sync_lsn);
    for (const auto &[name, lsn] : sync_and_wait(rt_, existing, view_.new_node)) out.add(name, format_lsn(lsn));
    mirror_deferred_sets(out);
}

void AddNode::confirm(JsonObject &out) {
    std::vector<Member *> all = view_.existing();
    all.push_back(&view_.new_node);
    std::vector<Member *> existing = view_.existing();
    wait_replicating(rt_, all, {});
    // N's own changes reach every node.
    Lsn n_event = lsn_of(view_.new_node.db().exec(sql::sync_event()).scalar());
    wait_applied(rt_, existing, {{args_.new_name, n_event}});
    out.add(args_.new_name, format_lsn(n_event));

    // The membership as every member sees it now: a full mesh, and no
    // member this run did not take part with.
    require_all(check_full_mesh(rt_, all));

    std::vector<QueryResult> statuses = rt_.exec_all(same_query(all, sql::subscription_status()));
    size_t total = 0;
    for (size_t i = 0; i < all.size(); ++i) {
        std::vector<std::string> items;
        for (size_t r = 0; r < statuses[i].size(); ++r)
            items.push_back(statuses[i].text(r, "subscription_name") + " " + statuses[i].text(r, "status"));
        total += statuses[i].size();
        rt_.report(Level::Notice, "node " + all[i]->name + ": " + (items.empty() ? "no subscriptions" : join(items)));
    }
    QueryResult lag = view_.new_node.db().exec(sql::lag_from(args_.src_name));
    std::string lag_text =
        lag.empty() ? "unknown" : lag.text(0, "bytes", "?") + " bytes (" + lag.text(0, "lag", "?") + ")";
    rt_.report(Level::Notice,
               "add_node: node " + args_.new_name + " joined through " + args_.src_name + ": " +
                   std::to_string(all.size()) + " nodes, " + std::to_string(total) + " subscriptions replicating",
               "lag " + args_.src_name + " -> " + args_.new_name + ": " + lag_text + "; took " +
                   std::to_string(rt_.now_ms() - started_ms_) + " ms");
    out.add("nodes", static_cast<long long>(all.size())).add("subscriptions", static_cast<long long>(total));
}

void AddNode::verify_data_step(JsonObject &out) {
    std::vector<Member *> existing = view_.existing();
    VerifyOutcome v = verify_against_source(rt_, view_.source, view_.new_node, existing);
    out.add("tables", v.tables).add("ranges", v.ranges).add("rows", v.rows).add("rounds", v.rounds);
    detail("the new node equals " + args_.src_name + " table by table",
           std::to_string(v.tables) + " tables, " + std::to_string(v.rows) + " rows in " + std::to_string(v.ranges) +
               " key ranges, " + std::to_string(v.rounds) + " round(s), " + std::to_string(v.took_ms) + " ms");
}

}  // namespace zodan
