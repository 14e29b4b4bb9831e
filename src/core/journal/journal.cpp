#include "core/journal/journal.hpp"

#include "core/text/json.hpp"

namespace zodan {

namespace {

std::string id(int64_t v) { return std::to_string(v); }

// The calling session's identity as the node sees it; pid alone could be
// reused after a restart.
const char *kSessionOf =
    "(SELECT backend_start FROM pg_catalog.pg_stat_activity WHERE pid = $BACKEND::int)";

std::string with_backend(std::string sql, int param) {
    std::string token = "$BACKEND";
    for (size_t at; (at = sql.find(token)) != std::string::npos;) sql.replace(at, token.size(), "$" + std::to_string(param));
    return sql;
}

}  // namespace

std::optional<PriorRun> Journal::latest(Connection &node, const std::string &operation,
                                        const std::string &args_fingerprint) {
    // A node joined by hand or by another tool has no journal: no prior run.
    QueryResult journal =
        node.exec({Stmt::JournalExists, "look for the journal", "SELECT (to_regclass('spock.zodan_runs') IS NOT NULL)::text AS here", {}});
    if (journal.text(0, "here") != "true") return std::nullopt;
    QueryResult r = node.exec(
        {Stmt::JournalRead, "read the journal",
         "SELECT r.run_id::text AS run_id, r.state, r.src_node_name::text AS src_name, "
         "r.new_node_name::text AS new_name, "
         "(r.args_fingerprint = $2)::text AS same_args, coalesce(r.backend_pid, 0)::text AS pid, "
         // Alive: a session holds the join lock here (pg_locks shows it to
         // every role, unlike pg_stat_activity's details).
         "EXISTS (SELECT 1 FROM pg_catalog.pg_locks l WHERE l.locktype = 'advisory' AND l.granted "
         "        AND l.classid = pg_catalog.hashtext('zodan')::oid AND l.objid = 1 AND l.objsubid = 2 "
         "        AND l.pid <> pg_catalog.pg_backend_pid())::text AS alive, "
         "(SELECT pg_catalog.string_agg(step_name, ',') FROM spock.zodan_steps s WHERE s.run_id = r.run_id) AS started, "
         "(SELECT pg_catalog.string_agg(step_name, ',') FROM spock.zodan_steps s WHERE s.run_id = r.run_id "
         "   AND s.state = 'done') AS done "
         "FROM spock.zodan_runs r WHERE r.operation = $1 ORDER BY r.run_id DESC LIMIT 1",
         {operation, args_fingerprint}});
    if (r.empty()) return std::nullopt;
    PriorRun p;
    p.run_id = std::stoll(r.text(0, "run_id"));
    p.state = r.text(0, "state");
    p.src_name = r.text(0, "src_name");
    p.new_name = r.text(0, "new_name");
    p.same_arguments = r.text(0, "same_args") == "true";
    p.alive = r.text(0, "alive") == "true";
    p.backend_pid = std::stoi(r.text(0, "pid"));
    auto parse_set = [](const std::string &csv) {
        std::set<std::string> out;
        size_t start = 0;
        while (start < csv.size()) {
            size_t end = csv.find(',', start);
            if (end == std::string::npos) end = csv.size();
            out.insert(csv.substr(start, end - start));
            start = end + 1;
        }
        return out;
    };
    for (const std::string &name : parse_set(r.text(0, "started")))
        if (auto s = step_named(name)) p.started_steps.insert(*s);
    for (const std::string &name : parse_set(r.text(0, "done")))
        if (auto s = step_named(name)) p.done_steps.insert(*s);
    return p;
}

AddRecord Journal::read_record(Connection &node, int64_t run_id) {
    QueryResult r = node.exec({Stmt::JournalReadRecord, "read the run's record",
                               "SELECT step_name, output::text AS output FROM spock.zodan_steps "
                               "WHERE run_id = $1::bigint AND output IS NOT NULL ORDER BY step_no",
                               {id(run_id)}});
    AddRecord record;
    for (size_t i = 0; i < r.size(); ++i)
        if (auto step = step_named(r.text(i, "step_name")))
            record_codec::decode(*step, parse_json(r.text(i, "output")), record);
    return record;
}

void Journal::set_state(Connection &node, int64_t run_id, const std::string &state) {
    node.exec({Stmt::JournalRunState, "record the run state",
               "UPDATE spock.zodan_runs SET state = $2, finished_at = clock_timestamp() WHERE run_id = $1::bigint",
               {id(run_id), state}});
}

void Journal::begin(Connection &new_node, const std::string &operation, const std::string &src_node,
                    const std::string &new_node_name, const std::string &masked_src_dsn,
                    const std::string &masked_new_dsn, const std::string &args_fingerprint, int backend_pid) {
    QueryResult r = new_node.exec(
        {Stmt::JournalBegin, "record the run",
         with_backend("INSERT INTO spock.zodan_runs (operation, src_node_name, new_node_name, "
                      "src_dsn, new_node_dsn, args_fingerprint, state, backend_pid, backend_start) "
                      "VALUES ($1, $2, $3, $4, $5, $6, 'running', $7::int, " +
                          std::string(kSessionOf) + ") RETURNING run_id::text",
                      7),
         {operation, src_node, new_node_name, masked_src_dsn, masked_new_dsn, args_fingerprint,
          std::to_string(backend_pid)}});
    run_id_ = std::stoll(*r.scalar());
    conn_ = &new_node;
}

void Journal::resume(Connection &new_node, int64_t run_id, int backend_pid) {
    new_node.exec({Stmt::JournalTakeOver, "take over the run",
                   with_backend("UPDATE spock.zodan_runs SET state = 'running', finished_at = NULL, error = NULL, "
                                "backend_pid = $2::int, backend_start = " +
                                    std::string(kSessionOf) + " WHERE run_id = $1::bigint",
                                2),
                   {id(run_id), std::to_string(backend_pid)}});
    run_id_ = run_id;
    conn_ = &new_node;
}

void Journal::step_started(StepId step, int order) { step_started(step_name(step), order); }

void Journal::step_started(const std::string &name, int order) {
    if (!conn_) return;
    conn_->exec({Stmt::JournalStepStart, "record a step start",
                 "INSERT INTO spock.zodan_steps (run_id, step_no, step_name, state, started_at) "
                 "VALUES ($1::bigint, $2::int, $3, 'running', clock_timestamp()) "
                 "ON CONFLICT (run_id, step_name) DO UPDATE SET state = 'running', step_no = EXCLUDED.step_no, "
                 "started_at = clock_timestamp(), finished_at = NULL, error = NULL",
                 {id(run_id_), std::to_string(order), name}});
}

void Journal::step_done(StepId step, const AddRecord &record, const Figures &figures) {
    JsonObject output = figures;
    output.merge(record_codec::encode(step, record));
    step_done(step_name(step), output);
}

void Journal::step_done(const std::string &name, const Figures &output) {
    if (!conn_) return;
    conn_->exec({Stmt::JournalStepDone, "record a step end",
                 "UPDATE spock.zodan_steps SET state = 'done', finished_at = clock_timestamp(), "
                 "output = coalesce(output, '{}') || $3::jsonb "
                 "WHERE run_id = $1::bigint AND step_name = $2",
                 {id(run_id_), name, output.str()}});
}

void Journal::save(StepId step, const AddRecord &record) { step_note(step, record_codec::encode(step, record)); }

void Journal::step_note(StepId step, const Figures &figures) {
    if (!conn_ || figures.empty()) return;
    conn_->exec({Stmt::JournalStepNote, "record a step's progress",
                 "UPDATE spock.zodan_steps SET output = coalesce(output, '{}') || $3::jsonb "
                 "WHERE run_id = $1::bigint AND step_name = $2",
                 {id(run_id_), step_name(step), figures.str()}});
}

void Journal::step_failed(StepId step, const std::string &error) { step_failed(step_name(step), error); }

void Journal::step_failed(const std::string &name, const std::string &error) {
    if (!conn_) return;
    conn_->exec({Stmt::JournalStepFailed, "record a step failure",
                 "UPDATE spock.zodan_steps SET state = 'failed', finished_at = clock_timestamp(), error = $3 "
                 "WHERE run_id = $1::bigint AND step_name = $2",
                 {id(run_id_), name, error}});
}

void Journal::finish(bool ok, const std::string &error) {
    if (!conn_) return;
    conn_->exec({Stmt::JournalFinish, "record the run end",
                 "UPDATE spock.zodan_runs SET state = $2, finished_at = clock_timestamp(), error = NULLIF($3, '') "
                 "WHERE run_id = $1::bigint",
                 {id(run_id_), ok ? "done" : "failed", error}});
}

}  // namespace zodan
