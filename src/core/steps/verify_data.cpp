// Step verify_data: N equals S table by table (verify_data.hpp), before any
// other node starts taking N's changes.
#include "core/plan/add_run.hpp"
#include "core/compare/verify_data.hpp"

namespace zodan {

std::string verify_data_off(const AddRun &run) {
    switch (run.rt.verify_data()) {
    case VerifySetting::On:
        return "";
    case VerifySetting::Off:
        return "zodan.verify_data is off";
    case VerifySetting::Auto:
        break;
    }
    // N is S's WAL replayed, which PostgreSQL checks record by record; the
    // comparison would read the whole database on both nodes.
    if (run.record.copy && run.record.copy->method == CopyMethod::Physical)
        return "a physical copy is the source's WAL replayed; zodan.verify_data = on compares anyway";
    return "";
}

namespace {

std::string progress_json(const AddRun &run, const VerifySample &s) {
    return JsonObject()
        .add("source", run.args.src_name)
        .add("tables_done", s.tables_done)
        .add("tables_total", s.tables_total)
        .add("rows_done", s.rows_done)
        .add("rows_total", s.rows_total)
        .add("seconds_left", s.seconds_left)
        .str();
}

}  // namespace

void verify_data(AddRun &run, Figures &figures) {
    // Every zodan.progress_interval a NOTICE (verify_data.cpp) and a figure
    // in the journal, read by spock.zodan_verify_progress; the step's own
    // figures end it at what was compared, so a comparison shorter than
    // the interval (or its last part) shows done too.
    auto note = [&](const VerifySample &s) {
        run.journal.step_note(StepId::VerifyData, Figures().add_raw("progress", progress_json(run, s)));
    };
    VerifyOutcome v = verify_against_source(run.rt, run.source(), run.new_node(), run.view.existing(), note);
    VerifySample done;
    done.tables_done = done.tables_total = static_cast<int>(v.tables);
    done.rows_done = done.rows_total = v.rows;
    done.seconds_left = 0;
    figures.add_raw("progress", progress_json(run, done));
    figures.add("tables", v.tables)
        .add("ranges", v.ranges)
        .add("rows", v.rows)
        .add("rounds", v.rounds)
        .add("statements", v.statements);
    run.detail("the new node equals " + run.args.src_name + " table by table",
               std::to_string(v.tables) + " tables, " + std::to_string(v.rows) + " rows in " +
                   std::to_string(v.ranges) + " key ranges, " + std::to_string(v.statements) + " statement(s) per node, " +
                   std::to_string(v.rounds) + " round(s), " + std::to_string(v.took_ms) + " ms");
}

}  // namespace zodan
