#include "core/journal.hpp"

namespace zodan {

void Journal::begin(Connection &new_node, const std::string &operation, const std::string &src_node,
                    const std::string &new_node_name, const std::string &masked_src_dsn,
                    const std::string &masked_new_dsn, const std::string &args_fingerprint) {
    QueryResult r = new_node.exec(
        {"record the run",
         "INSERT INTO spock.zodan_runs (operation, src_node_name, new_node_name, src_dsn, new_node_dsn, "
         "args_fingerprint, state) VALUES ($1, $2, $3, $4, $5, md5($6), 'running') RETURNING run_id::text",
         {operation, src_node, new_node_name, masked_src_dsn, masked_new_dsn, args_fingerprint}});
    run_id_ = std::stoll(*r.scalar());
    conn_ = &new_node;
}

void Journal::step_started(int step_no, const std::string &step_name) {
    if (!conn_) return;
    conn_->exec({"record a step start",
                 "INSERT INTO spock.zodan_steps (run_id, step_no, step_name, state, started_at) "
                 "VALUES ($1::bigint, $2::int, $3, 'running', clock_timestamp()) "
                 "ON CONFLICT (run_id, step_no) DO UPDATE SET state = 'running', started_at = clock_timestamp(), "
                 "finished_at = NULL, error = NULL",
                 {std::to_string(run_id_), std::to_string(step_no), step_name}});
}

void Journal::step_done(int step_no, const std::string &output_json) {
    if (!conn_) return;
    conn_->exec({"record a step end",
                 "UPDATE spock.zodan_steps SET state = 'done', finished_at = clock_timestamp(), output = $3::jsonb "
                 "WHERE run_id = $1::bigint AND step_no = $2::int",
                 {std::to_string(run_id_), std::to_string(step_no), output_json}});
}

void Journal::step_failed(int step_no, const std::string &error) {
    if (!conn_) return;
    conn_->exec({"record a step failure",
                 "UPDATE spock.zodan_steps SET state = 'failed', finished_at = clock_timestamp(), error = $3 "
                 "WHERE run_id = $1::bigint AND step_no = $2::int",
                 {std::to_string(run_id_), std::to_string(step_no), error}});
}

void Journal::finish(bool ok, const std::string &error) {
    if (!conn_) return;
    conn_->exec({"record the run end",
                 "UPDATE spock.zodan_runs SET state = $2, finished_at = clock_timestamp(), error = NULLIF($3, '') "
                 "WHERE run_id = $1::bigint",
                 {std::to_string(run_id_), ok ? "done" : "failed", error}});
}

}  // namespace zodan
