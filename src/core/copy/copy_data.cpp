#include "core/copy/copy_data.hpp"

#include <algorithm>

#include "core/statements/spock_sql.hpp"
#include "core/copy/copy_progress.hpp"
#include "core/copy/structure_dump.hpp"
#include "core/util.hpp"
#include "core/waits/in_flight.hpp"
#include "core/waits/wal_retention.hpp"

namespace zodan {


namespace {

// One stream: a source session in the snapshot, a new-node session that
// writes as the copy (its own origin, 'epoch', no triggers).
struct Stream {
    std::unique_ptr<Connection> from, to;
    std::string origin;
};

void open_source_side(Connection &from, const std::string &snapshot) { from.exec(sql::begin_in_snapshot(snapshot)); }

void open_target_side(Connection &to, const std::string &origin) {
    to.exec(sql::drop_origin_if_exists(origin));
    to.exec(sql::create_origin(origin));
    to.exec(sql::setup_origin_session(origin));
    to.exec(sql::mark_copied_rows());
    to.exec(sql::replica_role());
    to.exec(sql::begin_copy_target());
}

}  // namespace

std::string copy_origin_name(const std::string &database_oid, int stream) {
    return "zodan_copy_" + database_oid + "_" + std::to_string(stream);
}

CopyOutcome copy_at_point(Runtime &rt, ClusterView &view, CopyPoint &point, DumpSession first_session,
                          const std::vector<std::string> &skip_schema, int streams, const std::string &window_from,
                          const std::function<void(const CopySample &)> &on_progress) {
    CopyOutcome outcome;
    int64_t mark = rt.now_ms();
    auto lap = [&] {
        const int64_t now = rt.now_ms(), took = now - mark;
        mark = now;
        return took;
    };
    std::unique_ptr<ScratchDir> scratch = rt.scratch_dir();
    const int new_node_major = std::stoi(view.new_node.db().exec(sql::server_major()).text(0, "major"));
    // The structure, as the snapshot has it (structure_dump.hpp), over the
    // copy's first session to S.
    const std::string dump =
        dump_source_structure(rt, view, point, skip_schema, new_node_major, first_session, *scratch, outcome);
    std::vector<Stream> lanes(1);
    lanes[0].from = std::move(first_session.conn);
    // DDL replication off where Spock would otherwise queue the restore's DDL.
    const std::string options = view.new_node.db().exec(sql::restore_settings()).text(0, "options");
    std::vector<std::pair<std::string, std::string>> restore_env;
    if (!options.empty()) restore_env.emplace_back("PGOPTIONS", options);
    rt.run_program({"restore the structure on " + view.new_node.name, "pg_restore",
                    {"--section=pre-data", "--exit-on-error", "--single-transaction", dump}, view.new_node.dsn.text(),
                    restore_env});

    outcome.structure_ms = lap();

    // The data. The first stream's source session lists the jobs, inside
    // the snapshot, so the list is the snapshot's.
    open_source_side(*lanes[0].from, point.snapshot);
    QueryResult list = lanes[0].from->exec(sql::copy_job_list(skip_schema, streams, new_node_major));
    // Sizing the jobs locked every table (pg_relation_size): that
    // transaction ends when the lane takes the snapshot again (with the
    // other lanes, below, in the same statement), so it holds a table's
    // lock only from its own COPY on.
    std::vector<CopyJob> jobs;
    std::vector<StreamedJob> progress;
    for (size_t i = 0; i < list.size(); ++i) {
        const std::string label = list.text(i, "job"), table = list.text(i, "rel");
        jobs.push_back({table, label,
                        {Stmt::CopyOut, "copy " + label + " out", list.text(i, "out_sql"), {}, true},
                        {Stmt::CopyIn, "copy " + label + " in", list.text(i, "in_sql"), {}, true},
                        std::stoll(list.text(i, "bytes", "0"))});
        progress.push_back({table, jobs.back().estimated_bytes, 0, false});
        if (list.text(i, "binary", "false") == "true") ++outcome.binary_jobs;
    }
    const int lane_count = std::max(1, std::min(streams, static_cast<int>(jobs.size())));
    // The join window's rows are read in the snapshot too, after the data,
    // by a session of its own: the lanes end their source transactions as
    // they finish (copy_engine.cpp says why), and this one holds no lock
    // until it reads.
    std::unique_ptr<Connection> window_source;
    {
        // S's sessions were opened at the run's start (spare_sessions.hpp).
        std::vector<std::pair<const Member *, SessionKind>> wanted;
        wanted.emplace_back(&view.new_node, SessionKind::Regular);
        for (int k = 1; k < lane_count; ++k) {
            wanted.emplace_back(&view.source, SessionKind::Regular);
            wanted.emplace_back(&view.new_node, SessionKind::Regular);
        }
        if (!window_from.empty()) wanted.emplace_back(&view.source, SessionKind::Regular);
        std::vector<std::unique_ptr<Connection>> opened = view.spare.take_all(rt, wanted);
        lanes[0].to = std::move(opened[0]);
        for (int k = 1; k < lane_count; ++k) {
            Stream lane;
            lane.from = std::move(opened[2 * k - 1]);
            lane.to = std::move(opened[2 * k]);
            lanes.push_back(std::move(lane));
        }
        if (!window_from.empty()) window_source = std::move(opened.back());
    }
    // Every source session enters the snapshot at once: one round trip to
    // S, however many lanes (docs/protocol.md, "Round trips").
    std::vector<std::pair<Connection *, Query>> begins;
    for (int k = 0; k < lane_count; ++k)
        begins.emplace_back(lanes[k].from.get(),
                            k == 0 ? sql::begin_in_snapshot_again(point.snapshot) : sql::begin_in_snapshot(point.snapshot));
    if (window_source) begins.emplace_back(window_source.get(), sql::begin_in_snapshot(point.snapshot));
    rt.exec_all(begins);
    // The sequences, as the snapshot has them, are read while the data
    // streams, on the join window's session (idle until the data is in),
    // or else on the first lane before its data.
    QueryResult sequences;
    InFlight sequences_read(rt);
    if (window_source)
        sequences_read.send(*window_source, sql::sequence_values(skip_schema));
    else
        sequences = lanes[0].from->exec(sql::sequence_values(skip_schema));
    const std::string dboid = view.new_node.db().exec(sql::database_oid()).text(0, "oid");
    for (int k = 0; k < lane_count; ++k) {
        lanes[k].origin = copy_origin_name(dboid, k + 1);
        open_target_side(*lanes[k].to, lanes[k].origin);
    }
    // Every session that needs the snapshot has it now: its exporter may go.
    point.holder.reset();

    std::vector<CopyLane> copy_lanes;
    for (Stream &lane : lanes) copy_lanes.push_back({lane.from.get(), lane.to.get()});
    const int64_t started = rt.now_ms();
    rt.copy_jobs(copy_lanes, jobs, [&](const CopyState &state) {
        for (size_t j = 0; j < progress.size(); ++j) {
            progress[j].streamed_bytes = state.bytes[j];
            progress[j].done = state.done[j];
        }
        if (on_progress) on_progress(sample_streams(progress, started, rt.now_ms()));
    });
    if (window_source) sequences = sequences_read.collect().front();
    // N's side commits and S's side ends, all at once: one round trip.
    std::vector<std::pair<Connection *, Query>> ends;
    for (Stream &lane : lanes) ends.emplace_back(lane.to.get(), sql::commit());
    for (Stream &lane : lanes) ends.emplace_back(lane.from.get(), sql::rollback());
    rt.exec_all(ends);
    // The window's rows are read while N builds its indexes, and rewritten
    // once those exist.
    std::unique_ptr<WindowScan> window;
    if (window_source) window = std::make_unique<WindowScan>(rt, *window_source, skip_schema, window_from);
    for (Stream &lane : lanes) {
        lane.to->exec(sql::reset_origin_session());
        lane.to->exec(sql::drop_origin(lane.origin));
    }
    for (const StreamedJob &j : progress) outcome.bytes += j.streamed_bytes;
    outcome.jobs = static_cast<int>(jobs.size());
    outcome.tables = sample_streams(progress, started, rt.now_ms()).tables_total;
    outcome.streams = lane_count;

    // Sequences as the snapshot saw them (pg_dump --schema-only leaves them out).
    for (size_t i = 0; i < sequences.size(); ++i)
        view.new_node.db().exec(sql::run_generated(Stmt::SetSequence, "set a sequence", sequences.text(i, "stmt")));
    outcome.sequences = static_cast<int>(sequences.size());
    lanes.clear();
    outcome.data_ms = lap();

    // Indexes, constraints, triggers: after the data, several at once.
    // Reported every zodan.progress_interval, and the join's slots watched
    // meanwhile (wal_retention.hpp), while pg_restore builds them.
    IndexReports index_reports(rt, view.source.db(), view.new_node.db(), view.new_node.name);
    rt.run_program({"restore indexes and constraints on " + view.new_node.name, "pg_restore",
                    {"--section=post-data", "--exit-on-error", "--jobs=" + std::to_string(std::max(1, streams)), dump},
                    view.new_node.dsn.text(), restore_env, [&] {
                        index_reports();
                        SlotWatch::look_if_due();
                    }});
    outcome.indexes_ms = lap();

    if (window) {
        outcome.window = window->restamp(view.new_node, copy_origin_name(dboid, 0));
        window_source->exec(sql::rollback());
    }
    return outcome;
}

}  // namespace zodan
