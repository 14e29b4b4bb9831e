// Step copy_source: the product's own copy of the source into N, from a
// proven copy point (copy_point.hpp, copy_data.hpp), while the others'
// subscriptions on N are made (sent by prepare_other_nodes). It lasts as
// long as the copy, a long copy reports its progress, and a copy an earlier
// call left unfinished is discarded and made again.
#include "core/plan/add_run.hpp"
#include "core/copy/cleanup.hpp"
#include "core/copy/copy_data.hpp"
#include "core/copy/copy_point.hpp"
#include "core/copy/copy_progress.hpp"
#include "core/copy/structure_dump.hpp"
#include "core/statements/spock_sql.hpp"
#include "core/util.hpp"
#include "core/steps/paths_in.hpp"
#include "core/waits/wal_retention.hpp"

namespace zodan {

namespace {

// Every zodan.progress_interval, a NOTICE and a figure in the journal (the
// view spock.zodan_copy_progress); a copy shorter than that says nothing.
class CopyReports {
public:
    CopyReports(AddRun &run, int64_t started_ms) : run_(run), started_ms_(started_ms) {}

    void operator()(const CopySample &s) {
        const int interval = run_.rt.progress_interval_ms();
        if (interval <= 0) return;
        const bool complete = s.tables_done == s.tables_total;
        if (next_ms_ == 0) next_ms_ = started_ms_ + interval;
        const bool due = run_.rt.now_ms() >= next_ms_;
        const bool closing = complete && reported_ && !reported_complete_;  // the end of one that reported
        if (!(due || closing) || reported_complete_) return;
        next_ms_ = run_.rt.now_ms() + interval;
        reported_ = true;
        reported_complete_ = complete;
        run_.rt.report(Level::Notice, describe_copy(run_.args.src_name, s));
        const long long percent = static_cast<long long>(1000 * s.fraction) / 10;
        run_.journal.step_note(StepId::CopySource,
                               Figures().add_raw("progress", JsonObject()
                                                                 .add("source", run_.args.src_name)
                                                                 .add("tables_done", s.tables_done)
                                                                 .add("tables_total", s.tables_total)
                                                                 .add("bytes_done", s.bytes_done)
                                                                 .add("bytes_total", s.bytes_total)
                                                                 .add("percent", percent)
                                                                 .add("bytes_per_second",
                                                                      static_cast<long long>(s.bytes_per_second))
                                                                 .add("seconds_left", s.seconds_left)
                                                                 .str()));
    }

private:
    AddRun &run_;
    int64_t started_ms_;
    int64_t next_ms_ = 0;
    bool reported_ = false, reported_complete_ = false;
};

// What an unfinished copy left: its slot on S, its origins on N, and its
// objects on N (everything not there before it).
void discard_earlier_copy(AddRun &run) {
    run.rt.report(Level::Notice,
                  "the earlier copy from " + run.args.src_name + " did not finish: discarding it and copying again");
    Connection &n = run.new_node().db();
    drop_slot_if_exists(run.rt, run.source().db(), run.path(run.args.src_name).slot);
    QueryResult origins = n.exec(sql::copy_origins());
    for (size_t i = 0; i < origins.size(); ++i) n.exec(sql::drop_origin(origins.text(i, "roname")));
    if (run.record.copy && run.record.copy->objects)
        drop_copied_objects(run.rt, n, *run.record.copy->objects, false,
                            "Drop them (or move them out of what the copy made), then call spock.add_node again; "
                            "or roll the node back with spock.remove_node(..., force => true), which drops them too.");
}

// Spock's sub_create names only the DSN it could not reach: a provider
// that is down is named by a look at every other node over the run's own
// sessions (that look fails naming it); else the failure as it came.
template <typename Work>
void naming_the_unreachable(AddRun &run, Work &&work) {
    try {
        work();
    } catch (const RemoteError &) {
        run.rt.exec_all(same_query(run.others(), sql::local_node_name()));
        throw;
    }
}

void report_window(AddRun &run, const WindowOutcome &w, Figures &figures) {
    if (w.from.empty()) return;
    figures.add_raw("window", JsonObject()
                                  .add("from", w.from)
                                  .add("tables", static_cast<long long>(w.tables))
                                  .add("found", w.found)
                                  .add("rows", w.rows)
                                  .add("commits", w.commits)
                                  .add("scan_ms", w.scan_ms)
                                  .add("restamp_ms", w.restamp_ms)
                                  .str());
    run.detail("the rows " + run.args.src_name + " changed in the join window rewritten with their commit time and origin",
               "from " + w.from + ": " + std::to_string(w.found) + " row(s) found in " + std::to_string(w.tables) +
                   " table(s) (read in " + std::to_string(w.scan_ms) + " ms, beside the indexes), " +
                   std::to_string(w.rows) + " rewritten in " + std::to_string(w.commits) + " commit(s) in " +
                   std::to_string(w.restamp_ms) + " ms");
}

}  // namespace

void copy_source(AddRun &run, Figures &figures) {
    if (run.started_earlier.count(StepId::CopySource)) discard_earlier_copy(run);
    Connection &n = run.new_node().db();
    SourceCopy &copy = run.record.copy.emplace();
    QueryResult schemas = n.exec(sql::schemas_to_skip());
    for (size_t i = 0; i < schemas.size(); ++i) copy.skip_schema.push_back(schemas.text(i, "nspname"));
    // Recorded before anything is made: a rollback must know what was here.
    copy.objects = CopyRecord{user_objects_on(n), std::nullopt, sql::kObjectListing};
    run.journal.save(StepId::CopySource, run.record);
    // The others' subscriptions on N are made meanwhile, on N's second
    // session: sent by prepare_other_nodes, or here where an earlier call
    // did that step.
    InFlight *subscriptions = run.others_subscribing();
    if (!subscriptions) {
        subscriptions = &run.start_others_subscribing();
        subscribe_new_node(run, run.others(), subscriptions);
    }

    const std::string slot = run.path(run.args.src_name).slot;
    const int64_t started = run.rt.now_ms();
    DumpSession dump_session = prepare_dump_session(run.rt, run.view);  // made while the point is taken
    CopyPoint point = take_copy_point(run.rt, run.view, slot);
    JsonObject positions;
    for (const auto &[node, lsn] : point.peer_positions) positions.add(node, format_lsn(lsn));
    run.detail("copy point on " + run.args.src_name + ": slot " + slot + " taken (attempt " +
                   std::to_string(point.attempts) + ")",
               "starts at " + format_lsn(point.consistent_point) + "; positions " + positions.str());

    // With no other node, no change can reach N late.
    std::map<std::string, std::string> marks;
    for (const Member &o : run.view.others) {
        const std::string &from = run.path(o.name).window_from;
        marks[o.name] = from.empty() ? "-infinity" : from;
    }
    CopyReports reports(run, started);
    CopyOutcome copied = copy_at_point(run.rt, run.view, point, std::move(dump_session), copy.skip_schema,
                                       run.rt.copy_streams(),
                                       window_start(marks), [&](const CopySample &s) {
                                           reports(s);
                                           SlotWatch::look_if_due();
                                           // A long copy stops as soon as one of them failed.
                                           naming_the_unreachable(run, [&] { subscriptions->throw_if_failed(); });
                                       });
    naming_the_unreachable(run, [&] { subscriptions->collect(); });
    // What the copy made, so that a rollback drops that and nothing users made since.
    copy.objects->after = user_objects_on(n);
    copy.consistent_point = point.consistent_point;
    copy.positions = point.peer_positions;
    copy.complete = true;
    run.journal.save(StepId::CopySource, run.record);
    // sub_S_N streams from the copy point once it is enabled.
    n.exec(sql::advance_origin(slot, point.consistent_point));
    figures.add("slot", slot)
        .add("attempts", point.attempts)
        .add("tables", copied.tables)
        .add("jobs", copied.jobs)
        .add("binary_jobs", copied.binary_jobs)
        .add("streams", copied.streams)
        .add("sequences", copied.sequences)
        .add("bytes", copied.bytes)
        .add("structure_dump", copied.structure_dump)
        .add("structure_bytes", copied.structure_bytes)
        .add("structure_ms", copied.structure_ms)
        .add("data_ms", copied.data_ms)
        .add("indexes_ms", copied.indexes_ms);
    report_window(run, copied.window, figures);
    run.detail("copied " + std::to_string(copied.tables) + " tables from " + run.args.src_name + " over " +
                   std::to_string(copied.streams) + " stream(s)",
               std::to_string(copied.bytes) + " bytes streamed; " + std::to_string(run.rt.now_ms() - started) +
                   " ms in all: structure " + std::to_string(copied.structure_ms) + " ms, data " +
                   std::to_string(copied.data_ms) + " ms, indexes and constraints " +
                   std::to_string(copied.indexes_ms) + " ms");
}

}  // namespace zodan
