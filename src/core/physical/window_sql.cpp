#include "core/physical/window_sql.hpp"

namespace zodan::physical::stmt {

Query amend_fence(const std::string &token, const std::string &json) {
    return {Stmt::PhysicalAmendFence, "physical: amend the fence's record",
            "UPDATE spock.zodan_steps s SET output = coalesce(s.output, '{}'::jsonb) OPERATOR(pg_catalog.||) $2::jsonb "
            "FROM spock.zodan_runs r WHERE r.run_id = s.run_id AND s.step_name = 'fence' "
            "AND r.operation = 'physical_fence' AND r.args_fingerprint = $1::text",
            {token, json}};
}

Query request_promotion() {
    return {Stmt::PhysicalRequestPromotion, "physical: ask for the promotion",
            "SELECT pg_catalog.pg_promote(false)::text AS requested", {}};
}

Query replay_end() {
    // pg_walfile_name() is refused during recovery: only read once promoted.
    // pg_read_file's (path, missing_ok) form is PostgreSQL 16's; the one with
    // an offset and a length (beyond the file's end: all of it) is 15's too.
    return {Stmt::PhysicalReplayEnd, "physical: read where the replay ended",
            "SELECT pg_catalog.pg_is_in_recovery()::text AS in_recovery, "
            "coalesce(pg_catalog.pg_last_wal_replay_lsn()::text, '') AS replayed, "
            "CASE WHEN pg_catalog.pg_is_in_recovery() THEN '' ELSE coalesce(pg_catalog.pg_read_file('pg_wal/' "
            "  OPERATOR(pg_catalog.||) pg_catalog.substr(pg_catalog.pg_walfile_name(pg_catalog.pg_current_wal_lsn()), 1, 8) "
            "  OPERATOR(pg_catalog.||) '.history', 0, 1048576, true), '') END AS history",
            {}};
}

Query replayed_fence(const std::string &src, const std::string &new_node) {
    return {Stmt::PhysicalReplayedFence, "physical: look for the fence this node replayed",
            "SELECT s.output::text AS fence FROM spock.zodan_runs r "
            "JOIN spock.zodan_steps s ON s.run_id = r.run_id AND s.step_name = 'fence' "
            "WHERE r.operation = 'physical_fence' AND r.src_node_name::text = $1::text "
            "AND r.new_node_name::text = $2::text AND s.output OPERATOR(pg_catalog.?) 'window' "
            "ORDER BY r.run_id DESC LIMIT 1",
            {src, new_node}};
}

Query enabled_inbound() {
    return {Stmt::PhysicalEnabledInbound, "physical: look for enabled subscriptions of the copied node",
            "SELECT count(*)::text AS n FROM spock.subscription "
            "WHERE sub_enabled AND sub_target = (SELECT node_id FROM spock.local_node)",
            {}};
}

Query dead_fences() {
    return {Stmt::PhysicalDeadFences, "physical: read the fences recorded",
            "SELECT r.new_node_name::text AS new_node, coalesce(s.output -> 'slots', '{}'::jsonb)::text AS slots, "
            "coalesce(s.output ->> 'promoting', 'false') AS promoting "
            "FROM spock.zodan_runs r LEFT JOIN spock.zodan_steps s ON s.run_id = r.run_id AND s.step_name = 'fence' "
            "WHERE r.operation = 'physical_fence' ORDER BY r.run_id",
            {}};
}

Query drop_other_runs(int64_t run_id) {
    // Cascades to spock.zodan_steps.
    return {Stmt::PhysicalDropOtherRuns, "physical: drop the source's journal",
            "DELETE FROM spock.zodan_runs WHERE run_id <> $1::bigint", {std::to_string(run_id)}};
}

}  // namespace zodan::physical::stmt
