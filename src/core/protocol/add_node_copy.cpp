// The copy step of spock.add_node, in its two ways: the product's own copy
// from a proven copy point (the default; copy_point.hpp, copy_data.hpp), or
// Spock's initial sync of sub_S_N (zodan.copy_method = spock). Either way
// the step lasts as long as the copy, a long copy reports its progress, and
// a copy that an earlier call left unfinished is discarded and made again.
#include "core/protocol/add_node.hpp"

#include "core/protocol/cleanup.hpp"
#include "core/protocol/copy_data.hpp"
#include "core/protocol/copy_point.hpp"
#include "core/protocol/copy_progress.hpp"
#include "core/protocol/names.hpp"
#include "core/protocol/replication_waits.hpp"
#include "core/protocol/spock_sql.hpp"
#include "core/protocol/util.hpp"
#include "core/protocol/waiter.hpp"
#include "core/text/text_array.hpp"

namespace zodan {

void AddNode::copy_source(JsonObject &out) {
    if (own_copy())
        copy_with_own_copy_point(out);
    else
        copy_with_spock_sync(out);
}

void AddNode::report_copy(const CopySample &s) {
    // Every zodan.progress_interval, as a NOTICE and in the journal (the
    // view spock.zodan_copy_progress); a copy shorter than that says nothing.
    const int interval = rt_.progress_interval_ms();
    if (interval <= 0) return;
    const bool complete = s.tables_done == s.tables_total;
    if (next_copy_report_ms_ == 0) next_copy_report_ms_ = copy_started_ms_ + interval;
    const bool due = rt_.now_ms() >= next_copy_report_ms_;
    const bool closing = complete && copy_reported_ && !copy_reported_complete_;  // the end of one that reported
    if (!(due || closing) || copy_reported_complete_) return;
    next_copy_report_ms_ = rt_.now_ms() + interval;
    copy_reported_ = true;
    copy_reported_complete_ = complete;
    rt_.report(Level::Notice, describe_copy(args_.src_name, s));
    const long long percent = s.fraction >= 0 ? static_cast<long long>(1000 * s.fraction) / 10
                              : s.bytes_total > 0 ? 100 * s.bytes_done / s.bytes_total
                                                  : 100;
    journal_.step_note("copy_source", JsonObject()
                                          .add_raw("progress", JsonObject()
                                                                   .add("source", args_.src_name)
                                                                   .add("tables_done", s.tables_done)
                                                                   .add("tables_total", s.tables_total)
                                                                   .add("bytes_done", s.bytes_done)
                                                                   .add("bytes_total", s.bytes_total)
                                                                   .add("percent", percent)
                                                                   .add("bytes_per_second",
                                                                        static_cast<long long>(s.bytes_per_second))
                                                                   .add("seconds_left", s.seconds_left)
                                                                   .str())
                                          .str());
}

void AddNode::discard_earlier_copy() {
    // What an unfinished copy left: its objects on N (everything not there
    // before it), its slot on S, its origins on N, and with Spock's sync the
    // subscription that ran it.
    rt_.report(Level::Notice, "the earlier copy from " + args_.src_name + " did not finish: discarding it and copying again");
    Connection &n = view_.new_node.db();
    auto note = Journal::step_output(n, journal_.run_id(), "copy_source");
    const std::string sub = subscription_name(args_.src_name, args_.new_name);
    if (!own_copy()) {
        if (has_subscription(view_.new_node, sub)) stop_and_drop_subscription(rt_, n, sub);
    } else {
        drop_slot_if_exists(rt_, view_.source.db(), state_.slot_of[args_.src_name]);
        QueryResult origins = n.exec(sql::copy_origins());
        for (size_t i = 0; i < origins.size(); ++i) n.exec(sql::drop_origin(origins.text(i, "roname")));
    }
    if (std::optional<CopyRecord> record = copy_record(note))
        drop_copied_objects(rt_, n, *record, false,
                            "Drop them (or move them out of what the copy made), then call spock.add_node again; "
                            "or roll the node back with spock.remove_node(..., force => true), which drops them too.");
}

void AddNode::copy_with_own_copy_point(JsonObject &out) {
    if (started_earlier_.count("copy_source")) discard_earlier_copy();
    Connection &n = view_.new_node.db();
    QueryResult schemas = n.exec(sql::schemas_to_skip());
    for (size_t i = 0; i < schemas.size(); ++i) state_.skip_schema.push_back(schemas.text(i, "nspname"));
    // Recorded before anything is made: a rollback must know what was here.
    const std::string before_copy = text_array_literal(user_objects_on(n));
    journal_.step_note("copy_source", JsonObject()
                                          .add("method", "zodan")
                                          .add("skip_schema", text_array_literal(state_.skip_schema))
                                          .add("before_copy", before_copy)
                                          .add(kObjectListingKey, sql::kObjectListing)
                                          // an earlier attempt's list is not this copy's
                                          .add_raw("after_copy", "null")
                                          .str());
    // The others' subscriptions on N (prepare_other_nodes) are made
    // meanwhile, on N's second session.
    InFlight subscriptions(rt_);
    std::vector<Member *> others;
    for (Member &o : view_.others) others.push_back(&o);
    subscribe_new_node(others, &subscriptions);

    const std::string &slot = state_.slot_of[args_.src_name];
    copy_started_ms_ = rt_.now_ms();
    CopyPoint point = take_copy_point(rt_, view_, slot);
    state_.copy_position = point.peer_positions;
    state_.copy_start = point.consistent_point;
    JsonObject positions;
    for (const auto &[node, lsn] : point.peer_positions) positions.add(node, format_lsn(lsn));
    detail("copy point on " + args_.src_name + ": slot " + slot + " taken (attempt " + std::to_string(point.attempts) + ")",
           "starts at " + format_lsn(point.consistent_point) + "; positions " + positions.str());

    // With no other node, no change can reach N late.
    std::map<std::string, std::string> marks;
    for (const Member &o : view_.others)
        marks[o.name] = state_.window_from.count(o.name) ? state_.window_from[o.name] : "-infinity";
    CopyOutcome copied = copy_at_point(rt_, view_, point, state_.skip_schema, rt_.copy_streams(), window_start(marks),
                                       [&](const CopySample &s) { report_copy(s); });
    subscriptions.collect();
    // What the copy made, so that a rollback drops that and nothing users made since.
    const std::string after_copy = text_array_literal(user_objects_on(n));
    journal_.step_note("copy_source", JsonObject().add("after_copy", after_copy).str());
    // sub_S_N streams from the copy point once it is enabled.
    n.exec(sql::advance_origin(slot, point.consistent_point));
    out.add("method", "zodan")
        .add("slot", slot)
        .add("consistent_point", format_lsn(point.consistent_point))
        .add_raw("positions", positions.str())
        .add("attempts", point.attempts)
        .add("tables", copied.tables)
        .add("jobs", copied.jobs)
        .add("binary_jobs", copied.binary_jobs)
        .add("streams", copied.streams)
        .add("sequences", copied.sequences)
        .add("bytes", copied.bytes)
        .add("structure_ms", copied.structure_ms)
        .add("data_ms", copied.data_ms)
        .add("indexes_ms", copied.indexes_ms)
        .add("skip_schema", text_array_literal(state_.skip_schema))
        .add("before_copy", before_copy)
        .add("after_copy", after_copy);
    const WindowOutcome &w = copied.window;
    if (!w.from.empty()) {
        out.add_raw("window", JsonObject()
                                  .add("from", w.from)
                                  .add("tables", static_cast<long long>(w.tables))
                                  .add("found", w.found)
                                  .add("rows", w.rows)
                                  .add("commits", w.commits)
                                  .add("scan_ms", w.scan_ms)
                                  .add("restamp_ms", w.restamp_ms)
                                  .str());
        detail("the rows " + args_.src_name + " changed in the join window rewritten with their commit time and origin",
               "from " + w.from + ": " + std::to_string(w.found) + " row(s) found in " + std::to_string(w.tables) +
                   " table(s) (read in " + std::to_string(w.scan_ms) + " ms, beside the indexes), " +
                   std::to_string(w.rows) + " rewritten in " + std::to_string(w.commits) + " commit(s) in " +
                   std::to_string(w.restamp_ms) + " ms");
    }
    detail("copied " + std::to_string(copied.tables) + " tables from " + args_.src_name + " over " +
               std::to_string(copied.streams) + " stream(s)",
           std::to_string(copied.bytes) + " bytes streamed; " + std::to_string(rt_.now_ms() - copy_started_ms_) +
               " ms in all: structure " + std::to_string(copied.structure_ms) + " ms, data " +
               std::to_string(copied.data_ms) + " ms, indexes and constraints " + std::to_string(copied.indexes_ms) +
               " ms");
}

void AddNode::copy_with_spock_sync(JsonObject &out) {
    const std::string sub = subscription_name(args_.src_name, args_.new_name);
    if (has_subscription(view_.new_node, sub)) {
        // An earlier call got this far. A copy still running or finished is
        // kept; a failed one is discarded and redone.
        QueryResult st = view_.new_node.db().exec(sql::subscription_status());
        std::string status;
        for (size_t i = 0; i < st.size(); ++i)
            if (st.text(i, "subscription_name") == sub) status = st.text(i, "status");
        if (status != "down" && status != "disabled") {
            auto note = Journal::step_output(view_.new_node.db(), journal_.run_id(), "copy_source");
            out.add("subscription", sub).add("kept", status);
            if (note.count("before_copy")) out.add("before_copy", note["before_copy"]);
            wait_for_spock_copy(sub);
            return;
        }
        discard_earlier_copy();
    }
    QueryResult schemas = view_.new_node.db().exec(sql::schemas_to_skip());
    for (size_t i = 0; i < schemas.size(); ++i) state_.skip_schema.push_back(schemas.text(i, "nspname"));
    const std::string before_copy = text_array_literal(user_objects_on(view_.new_node.db()));
    journal_.step_note("copy_source", JsonObject()
                                          .add("method", "spock")
                                          .add("skip_schema", text_array_literal(state_.skip_schema))
                                          .add("before_copy", before_copy)
                                          .add(kObjectListingKey, sql::kObjectListing)
                                          // an earlier attempt's list is not this copy's
                                          .add_raw("after_copy", "null")
                                          .str());
    std::vector<std::string> sets = local_set_names(view_.source);
    copy_started_ms_ = rt_.now_ms();
    view_.new_node.db().exec(sql::sub_create(sub, args_.src_dsn, sets, true, true, true, state_.skip_schema));
    out.add("method", "spock")
        .add("subscription", sub)
        .add("sets", join(sets))
        .add("skip_schema", text_array_literal(state_.skip_schema))
        .add("before_copy", before_copy);
    detail("subscription " + sub + " created; copying " + join(sets));
    wait_for_spock_copy(sub);
    const std::string after_copy = text_array_literal(user_objects_on(view_.new_node.db()));
    journal_.step_note("copy_source", JsonObject().add("after_copy", after_copy).str());
    out.add("after_copy", after_copy);
}

void AddNode::wait_for_spock_copy(const std::string &sub) {
    // Spock's sync worker copies; its progress is read off N (the size each
    // table has reached, and whether a COPY still fills it).
    if (copy_started_ms_ == 0) copy_started_ms_ = rt_.now_ms();  // a resumed call found the copy running
    std::optional<CopyProgress> progress;
    auto sample = [&] {
        if (rt_.progress_interval_ms() <= 0) return;
        if (!progress) {
            QueryResult sizes = view_.source.db().exec(sql::source_table_sizes());
            std::vector<TableSize> tables;
            for (size_t i = 0; i < sizes.size(); ++i)
                tables.push_back({sizes.text(i, "rel"), std::stoll(sizes.text(i, "bytes", "0"))});
            progress.emplace(std::move(tables), copy_started_ms_);
        }
        if (rt_.now_ms() < copy_started_ms_ + rt_.progress_interval_ms()) return;
        std::vector<std::string> names;
        for (const TableSize &t : progress->tables()) names.push_back(t.name);
        QueryResult state = view_.new_node.db().exec(sql::copy_state(names));
        std::map<std::string, CopiedTable> on_new;
        for (size_t i = 0; i < state.size(); ++i)
            on_new[state.text(i, "rel")] = {std::stoll(state.text(i, "bytes", "0")), state.text(i, "copying") == "true"};
        report_copy(progress->sample(rt_.now_ms(), on_new));
    };
    wait_replicating(rt_, {&view_.new_node}, {sub}, sample);
    wait_until(rt_, "the copy of " + sub + " to finish", [&] {
        QueryResult r = view_.new_node.db().exec(sql::sync_state(sub));
        return r.text(0, "total") != "0" && r.text(0, "pending") == "0";
    });
    if (progress) sample();
}

}  // namespace zodan
