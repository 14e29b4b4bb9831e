#include "core/protocol/add_node.hpp"

#include <algorithm>
#include <iterator>
#include <stdexcept>
#include <optional>
#include <set>

#include "core/protocol/checks.hpp"
#include "core/protocol/cleanup.hpp"
#include "core/text/sql_quote.hpp"
#include "core/protocol/copy_progress.hpp"
#include "core/text/dsn.hpp"
#include "core/protocol/headroom.hpp"
#include "core/protocol/names.hpp"
#include "core/protocol/spock_sql.hpp"
#include "core/protocol/util.hpp"
#include "core/protocol/replication_waits.hpp"
#include "core/protocol/waiter.hpp"

namespace zodan {

// The protocol of zodan-protocol.md, one row per step, in order; a step's
// journal number is its row.
struct AddNode::Step {
    const char *name;   // stable identifier (journal, zodan.fail_at_step)
    const char *title;  // what the operator reads
    void (AddNode::*run)(JsonObject &out);
    bool only_other_nodes;  // nothing to do in a two-node cluster
};

const AddNode::Step AddNode::kSteps[] = {
    {"check_versions", "check Spock versions", &AddNode::check_versions_step, false},
    {"check_preconditions", "check preconditions", &AddNode::check_preconditions_step, false},
    {"create_node", "register the new node", &AddNode::create_node, false},
    {"prepare_other_nodes", "create slots and disabled subscriptions for the other nodes", &AddNode::prepare_other_nodes,
     false},
    {"sync_source", "bring the source up to date", &AddNode::sync_source, true},
    {"copy_source", "copy the source to the new node", &AddNode::copy_source, false},
    {"catch_up", "let the new node catch up with the source", &AddNode::catch_up, false},
    {"advance_slots", "skip what the copy already holds", &AddNode::advance_slots, false},
    {"mirror_replication_sets", "mirror replication sets", &AddNode::mirror_replication_sets, false},
    {"enable_other_subscriptions", "open the paths from the other nodes", &AddNode::enable_other_subscriptions, true},
    {"create_reverse_subscriptions", "open the paths from the new node", &AddNode::create_reverse_subscriptions,
     false},
    {"confirm", "confirm the cluster", &AddNode::confirm, false},
};

int AddNode::step_no(const std::string &step_name) {
    for (size_t i = 0; i < std::size(kSteps); ++i)
        if (step_name == kSteps[i].name) return static_cast<int>(i);
    throw std::logic_error("no add_node step named \"" + step_name + "\"");
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

void AddNode::run() {
    started_ms_ = rt_.now_ms();
    if (args_.src_name == args_.new_name)
        throw UserError("src_node_name and new_node_name are both \"" + args_.new_name + "\"", "",
                        "The source must be an existing member and the new node a different one.");
    view_ = discover_cluster(rt_, args_);
    require_all({check_runs_on_new_node(rt_, view_)});
    // One add at a time on a node. The lock belongs to our own session on N
    // and goes with it, however this call ends.
    if (view_.new_node.db().exec(sql::try_add_node_lock()).text(0, "locked") != "true")
        throw UserError("spock.add_node is already running on this node", "",
                        "Wait for it to finish (spock.zodan_add_node_status shows its progress), or stop it with "
                        "pg_cancel_backend() and call spock.add_node again to resume it.");
    const std::string fingerprint = add_node_fingerprint(args_);
    if (!resume_earlier_run(fingerprint))
        journal_.begin(view_.new_node.db(), "add_node", args_.src_name, args_.new_name, mask_dsn(args_.src_dsn),
                       mask_dsn(args_.new_dsn), fingerprint, rt_.backend_pid());

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
    int first = 0;
    while (done_earlier_.count(first)) ++first;
    rt_.report(Level::Notice, "add_node: resuming the unfinished run at phase " + std::to_string(first));
    restore_outputs();
    return true;
}

void AddNode::restore_outputs() {
    const int prepare = step_no("prepare_other_nodes");
    if (!done_earlier_.count(prepare) && !started_earlier_.count(prepare)) return;
    for (const auto &[key, value] : Journal::step_output(view_.new_node.db(), journal_.run_id(), prepare)) {
        size_t dot = key.find('.');
        if (dot == std::string::npos) continue;
        std::string node = key.substr(0, dot), field = key.substr(dot + 1);
        if (field == "slot") state_.slot_of[node] = value;
        if (field == "sync_lsn") state_.slot_sync_lsn[node] = parse_lsn(value);
    }
}

void AddNode::run_step(int no, const Step &step) {
    const std::string phase = "add_node phase " + std::to_string(no) + "/" + std::to_string(std::size(kSteps) - 1) +
                              ": " + step.title;
    if (done_earlier_.count(no)) {
        rt_.report(Level::Notice, phase + " (done before)");
        return;
    }
    rt_.report(Level::Notice,
               phase + (step.only_other_nodes && view_.others.empty() ? " (nothing to do: no other nodes)" : ""));
    journal_.step_started(no, step.name);
    const int64_t t0 = rt_.now_ms();
    JsonObject out;
    try {
        rt_.maybe_fail_at(step.name);
        if (rt_.pause_requested(step.name)) pause_here(step.name);
        (this->*step.run)(out);
        rt_.maybe_fail_at(std::string(step.name) + ":after");
    } catch (const std::exception &e) {
        try {
            journal_.step_failed(no, e.what());
        } catch (...) {
        }
        throw;
    }
    journal_.step_done(no, out.str());
    rt_.between_steps();
    detail(std::string(step.name) + " done", "took " + std::to_string(rt_.now_ms() - t0) + " ms");
}

void AddNode::pause_here(const std::string &step) {
    // A test holds this lock to keep the run waiting here, like a real wait.
    rt_.report(Level::Notice, "pausing at step \"" + step + "\" while the advisory lock zodan.pause is held");
    view_.new_node.db().exec({"pause", "SELECT pg_catalog.pg_advisory_lock(hashtext('zodan.pause'))", {}});
    view_.new_node.db().exec({"end the pause", "SELECT pg_catalog.pg_advisory_unlock(hashtext('zodan.pause'))", {}});
}

void AddNode::check_versions_step(JsonObject &out) {
    std::vector<CheckResult> results = check_versions(rt_, view_);
    require_all(results);
    out.add("nodes", static_cast<long long>(results.size()));
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

void AddNode::prepare_other_nodes(JsonObject &out) {
    if (view_.others.empty()) {
        // Two nodes: nothing to hold back; a marker in S's stream records the start.
        out.add("source_sync_lsn", *view_.source.db().exec(sql::sync_event()).scalar());
        return;
    }
    std::vector<Member *> others;
    for (Member &o : view_.others) others.push_back(&o);

    // The disabled subscriptions on N come first, each asking O for O's own
    // sets. They change nothing on O and start nothing, and from now on N's
    // catalog knows every O: a rollback finds them there without our keeping
    // any DSN. Spock names each one's slot (after N's database).
    std::vector<QueryResult> sets = rt_.exec_all(same_query(others, sql::local_sets()));
    std::map<std::string, std::string> set_list;
    for (size_t i = 0; i < others.size(); ++i) {
        Member &o = *others[i];
        std::vector<std::string> set_names;
        for (size_t r = 0; r < sets[i].size(); ++r) set_names.push_back(sets[i].text(r, "set_name"));
        set_list[o.name] = join(set_names);
        const std::string sub = subscription_name(o.name, args_.new_name);
        QueryResult existing = view_.new_node.db().exec(sql::subscription_slot(sub));
        if (existing.empty()) {
            view_.new_node.db().exec(sql::drop_origin_if_exists(*view_.new_node.db().exec(
                sql::slot_name(view_.new_node.dbname, o.name, sub)).scalar()));
            view_.new_node.db().exec(sql::sub_create(sub, o.dsn, set_names, false, false, false, {}));
            existing = view_.new_node.db().exec(sql::subscription_slot(sub));
        }
        state_.slot_of[o.name] = existing.text(0, "slot");
    }

    // A slot on every O, created at once: from here on O keeps what N needs.
    std::vector<std::pair<Connection *, Query>> lookups, creates;
    for (Member *o : others) {
        lookups.emplace_back(o->conn.get(), sql::slot_exists(state_.slot_of[o->name]));
        creates.emplace_back(o->conn.get(), sql::create_slot(state_.slot_of[o->name]));
    }
    std::vector<QueryResult> found = rt_.exec_all(lookups);
    // A slot this run already made (an earlier call stopped inside step 3)
    // is kept: it started before everything the sync events below cover.
    const bool own_slots = started_earlier_.count(step_no("prepare_other_nodes")) > 0;
    std::vector<std::pair<Connection *, Query>> missing;
    for (size_t i = 0; i < others.size(); ++i) {
        if (found[i].empty()) {
            missing.push_back(creates[i]);
            continue;
        }
        if (!own_slots)
            throw UserError("replication slot \"" + state_.slot_of[others[i]->name] + "\" already exists on node \"" +
                                others[i]->name + "\"",
                            "It was probably left by an earlier, failed run.",
                            "Run spock.remove_node for \"" + args_.new_name +
                                "\" to clean up what that run left, then call spock.add_node again.");
    }
    rt_.exec_all(missing);

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

void AddNode::sync_source(JsonObject &out) {
    std::vector<Member *> others;
    for (Member &o : view_.others) others.push_back(&o);
    if (others.empty()) return;
    for (const auto &[name, lsn] : sync_and_wait(rt_, others, view_.source)) out.add(name, format_lsn(lsn));
}

void AddNode::copy_source(JsonObject &out) {
    const std::string sub = subscription_name(args_.src_name, args_.new_name);
    if (has_subscription(view_.new_node, sub)) {
        // An earlier call got this far. A copy still running or finished is
        // kept (step 6 waits for it); a failed one is discarded and redone.
        QueryResult st = view_.new_node.db().exec(sql::subscription_status());
        std::string status;
        for (size_t i = 0; i < st.size(); ++i)
            if (st.text(i, "subscription_name") == sub) status = st.text(i, "status");
        if (status != "down" && status != "disabled") {
            // What was here before that copy stays on record for a rollback.
            auto note = Journal::step_output(view_.new_node.db(), journal_.run_id(), step_no("copy_source"));
            out.add("subscription", sub).add("kept", status);
            if (note.count("before_copy")) out.add("before_copy", note["before_copy"]);
            wait_for_copy(sub);
            return;
        }
        discard_failed_copy(sub);
    }
    QueryResult schemas = view_.new_node.db().exec(sql::schemas_to_skip());
    for (size_t i = 0; i < schemas.size(); ++i) state_.skip_schema.push_back(schemas.text(i, "nspname"));
    // Recorded before the copy starts: a rollback must know what was here before.
    const std::string before_copy = text_array_literal(objects_before_copy(view_.new_node.db()));
    journal_.step_note(step_no("copy_source"), JsonObject()
                              .add("skip_schema", text_array_literal(state_.skip_schema))
                              .add("before_copy", before_copy)
                              .str());
    std::vector<std::string> sets = local_set_names(view_.source);
    copy_started_ms_ = rt_.now_ms();
    view_.new_node.db().exec(sql::sub_create(sub, args_.src_dsn, sets, true, true, true, state_.skip_schema));
    out.add("subscription", sub)
        .add("sets", join(sets))
        .add("skip_schema", text_array_literal(state_.skip_schema))
        .add("before_copy", before_copy);
    detail("subscription " + sub + " created; copying " + join(sets));
    wait_for_copy(sub);
}

void AddNode::wait_for_copy(const std::string &sub) {
    // The phase lasts as long as the copy does: its time is the copy's, and
    // a copy that fails (its worker down) fails this phase. A long copy
    // reports its progress every zodan.progress_interval, as a NOTICE and in
    // the journal (spock.zodan_copy_progress); a short one says nothing.
    const int interval = rt_.progress_interval_ms();
    if (copy_started_ms_ == 0) copy_started_ms_ = rt_.now_ms();  // a resumed call found the copy running
    std::optional<CopyProgress> progress;
    int64_t next_report = rt_.now_ms() + interval;
    bool reported_complete = false;
    auto report_progress = [&](bool last) {
        if (interval <= 0 || (!last && rt_.now_ms() < next_report) || (last && (!progress || reported_complete)))
            return;
        next_report = rt_.now_ms() + interval;
        if (!progress) {
            QueryResult sizes = view_.source.db().exec(sql::source_table_sizes());
            std::vector<TableSize> tables;
            for (size_t i = 0; i < sizes.size(); ++i)
                tables.push_back({sizes.text(i, "rel"), std::stoll(sizes.text(i, "bytes", "0"))});
            progress.emplace(std::move(tables), copy_started_ms_);
        }
        std::vector<std::string> names;
        for (const TableSize &t : progress->tables()) names.push_back(t.name);
        QueryResult state = view_.new_node.db().exec(sql::copy_state(names));
        std::map<std::string, CopiedTable> on_new;
        for (size_t i = 0; i < state.size(); ++i)
            on_new[state.text(i, "rel")] = {std::stoll(state.text(i, "bytes", "0")), state.text(i, "copying") == "true"};
        CopySample s = progress->sample(rt_.now_ms(), on_new);
        reported_complete = s.tables_done == s.tables_total;
        rt_.report(Level::Notice, describe_copy(args_.src_name, s));
        journal_.step_note(step_no("copy_source"), JsonObject()
                                  .add_raw("progress", JsonObject()
                                                           .add("source", args_.src_name)
                                                           .add("tables_done", s.tables_done)
                                                           .add("tables_total", s.tables_total)
                                                           .add("bytes_done", s.bytes_done)
                                                           .add("bytes_total", s.bytes_total)
                                                           .add("bytes_per_second", static_cast<long long>(s.bytes_per_second))
                                                           .add("seconds_left", s.seconds_left)
                                                           .str())
                                  .str());
    };
    wait_replicating(rt_, {&view_.new_node}, {sub}, [&] { report_progress(false); });
    wait_until(rt_, "the copy of " + sub + " to finish", [&] {
        QueryResult r = view_.new_node.db().exec(sql::sync_state(sub));
        return r.text(0, "total") != "0" && r.text(0, "pending") == "0";
    });
    report_progress(true);  // the end of a copy that reported on its way
}

void AddNode::discard_failed_copy(const std::string &sub) {
    rt_.report(Level::Notice, "the earlier copy from " + args_.src_name + " failed: discarding it and copying again");
    auto note = Journal::step_output(view_.new_node.db(), journal_.run_id(), step_no("copy_source"));
    view_.new_node.db().exec(sql::sub_drop(sub));
    if (note.count("before_copy")) drop_copied_objects(view_.new_node.db(), parse_text_array(note["before_copy"]));
}

void AddNode::catch_up(JsonObject &out) {
    state_.source_sync_lsn = lsn_of(view_.source.db().exec(sql::sync_event()).scalar());
    wait_applied(rt_, {&view_.new_node}, {{args_.src_name, state_.source_sync_lsn}});
    out.add("source_sync_lsn", format_lsn(state_.source_sync_lsn));
}

void AddNode::advance_slots(JsonObject &out) {
    // Phase 5 ended with the copy complete, so the positions are final.
    if (view_.others.empty()) return;

    QueryResult progress = view_.new_node.db().exec(sql::copy_positions(view_.other_names()));
    for (size_t i = 0; i < progress.size(); ++i)
        if (progress.at(i, "lsn")) state_.copy_position[progress.text(i, "origin")] = parse_lsn(progress.text(i, "lsn"));

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
    rt_.exec_all(advances);
    for (Member &o : view_.others) {
        Lsn p = state_.copy_position[o.name];
        view_.new_node.db().exec(sql::advance_origin(state_.slot_of[o.name], p));
        out.add(o.name, format_lsn(p));
        detail(o.name + ": slot and origin " + state_.slot_of[o.name] + " advanced", "to " + format_lsn(p));
    }
}

void AddNode::mirror_replication_sets(JsonObject &out) {
    Connection &s = view_.source.db();
    Connection &n = view_.new_node.db();
    QueryResult src_sets = s.exec(sql::local_sets()), src_tables = s.exec(sql::local_set_tables()),
                src_seqs = s.exec(sql::local_set_sequences());
    QueryResult new_sets = n.exec(sql::local_sets()), new_tables = n.exec(sql::local_set_tables()),
                new_seqs = n.exec(sql::local_set_sequences());

    auto flag = [](const QueryResult &r, size_t i, const char *c) { return r.text(i, c) == "true"; };
    std::map<std::string, size_t> existing;
    for (size_t i = 0; i < new_sets.size(); ++i) existing[new_sets.text(i, "set_name")] = i;
    int changes = 0;
    for (size_t i = 0; i < src_sets.size(); ++i) {
        const std::string set = src_sets.text(i, "set_name");
        bool ins = flag(src_sets, i, "ins"), upd = flag(src_sets, i, "upd"), del = flag(src_sets, i, "del"),
             trunc = flag(src_sets, i, "trunc");
        auto e = existing.find(set);
        if (e == existing.end()) {
            n.exec(sql::repset_create(set, ins, upd, del, trunc));
            ++changes;
        } else if (new_sets.rows()[e->second] != src_sets.rows()[i]) {
            n.exec(sql::repset_alter(set, ins, upd, del, trunc));
            ++changes;
        }
    }

    // Memberships keyed by (set, relation); the rest of the row must match too.
    auto rows_by_key = [](const QueryResult &r, const char *rel) {
        std::map<std::pair<std::string, std::string>, std::vector<Value>> m;
        for (size_t i = 0; i < r.size(); ++i) m[{r.text(i, "set_name"), r.text(i, rel)}] = r.rows()[i];
        return m;
    };
    auto want_tables = rows_by_key(src_tables, "rel"), have_tables = rows_by_key(new_tables, "rel");
    for (const auto &[key, row] : have_tables) {
        auto w = want_tables.find(key);
        if (w == want_tables.end() || w->second != row) {
            n.exec(sql::repset_remove_table(key.first, key.second));
            ++changes;
        }
    }
    for (size_t i = 0; i < src_tables.size(); ++i) {
        std::pair<std::string, std::string> key{src_tables.text(i, "set_name"), src_tables.text(i, "rel")};
        auto h = have_tables.find(key);
        if (h != have_tables.end() && h->second == src_tables.rows()[i]) continue;
        n.exec(sql::repset_add_table(key.first, key.second, src_tables.at(i, "att_list"), src_tables.at(i, "row_filter")));
        ++changes;
    }
    auto want_seqs = rows_by_key(src_seqs, "seq"), have_seqs = rows_by_key(new_seqs, "seq");
    for (const auto &[key, row] : have_seqs)
        if (!want_seqs.count(key)) {
            n.exec(sql::repset_remove_seq(key.first, key.second));
            ++changes;
        }
    for (const auto &[key, row] : want_seqs)
        if (!have_seqs.count(key)) {
            n.exec(sql::repset_add_seq(key.first, key.second));
            ++changes;
        }

    // Changes made on S while we copied are reported, not fatal: the
    // operator decides whether N should follow them.
    QueryResult again_sets = s.exec(sql::local_sets()), again_tables = s.exec(sql::local_set_tables());
    if (again_sets.rows() != src_sets.rows() || again_tables.rows() != src_tables.rows())
        rt_.report(Level::Warning,
                   "replication sets of \"" + args_.src_name + "\" changed while they were being mirrored",
                   "Compare spock.replication_set_table on \"" + args_.src_name + "\" and \"" + args_.new_name +
                       "\" and adjust the new node by hand.");
    out.add("sets", static_cast<long long>(src_sets.size()))
        .add("tables", static_cast<long long>(src_tables.size()))
        .add("sequences", static_cast<long long>(src_seqs.size()))
        .add("changes", changes);
    detail("replication sets mirrored from " + args_.src_name,
           std::to_string(src_sets.size()) + " sets, " + std::to_string(src_tables.size()) + " table memberships, " +
               std::to_string(changes) + " changes");
}

void AddNode::enable_other_subscriptions(JsonObject &out) {
    if (view_.others.empty()) return;
    std::vector<std::string> subs;
    for (Member &o : view_.others) subs.push_back(subscription_name(o.name, args_.new_name));
    // One statement for all: Spock's manager on N starts their apply workers
    // one after another, which takes a while per worker; the next phase runs
    // meanwhile, and phase 11 waits for them. Only disabled ones are enabled:
    // enabling an enabled subscription restarts its worker.
    QueryResult enabled = view_.new_node.db().exec(sql::enable_disabled(subs));
    for (size_t i = 0; i < enabled.size(); ++i) out.add(enabled.text(i, "sub_name"), "enabled");
}

void AddNode::create_reverse_subscriptions(JsonObject &out) {
    std::vector<std::string> sets = local_set_names(view_.new_node);
    std::vector<std::pair<Connection *, Query>> work;
    std::vector<Member *> existing = view_.existing();
    std::vector<std::pair<Connection *, Query>> lookups;
    for (Member *x : existing)
        lookups.emplace_back(x->conn.get(), sql::subscription_exists(subscription_name(args_.new_name, x->name)));
    std::vector<QueryResult> found = rt_.exec_all(lookups);
    for (size_t i = 0; i < existing.size(); ++i) {
        if (found[i].text(0, "n") != "0") continue;  // made by an earlier call of this run
        Member *x = existing[i];
        work.emplace_back(x->conn.get(), sql::sub_create(subscription_name(args_.new_name, x->name), args_.new_dsn,
                                                         sets, false, false, true, {}));
    }
    rt_.exec_all(work);
    out.add("sets", join(sets));
}

void AddNode::confirm(JsonObject &out) {
    std::vector<Member *> all = view_.existing();
    all.push_back(&view_.new_node);
    wait_replicating(rt_, all, {});

    // Every O -> N path delivers: the e_O of phase 3 first (the protocol's
    // own check), then a fresh event on each O. N's own changes reach every node.
    std::vector<Member *> others;
    for (Member &o : view_.others) others.push_back(&o);
    wait_applied(rt_, {&view_.new_node}, state_.slot_sync_lsn);
    for (const auto &[name, lsn] : sync_and_wait(rt_, others, view_.new_node)) out.add(name, format_lsn(lsn));
    Lsn n_event = lsn_of(view_.new_node.db().exec(sql::sync_event()).scalar());
    wait_applied(rt_, view_.existing(), {{args_.new_name, n_event}});

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

}  // namespace zodan
