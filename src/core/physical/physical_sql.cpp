#include "core/physical/physical_sql.hpp"

#include "core/statements/spock_sql.hpp"
#include "core/text/text_array.hpp"

namespace zodan::physical::stmt {

namespace {

// The fences recorded here (all of them when $1 is NULL) and the
// subscriptions each disabled.
const char *kFences =
    "SELECT r.new_node_name::text AS new_node, x.sub_name "
    "FROM spock.zodan_runs r "
    "LEFT JOIN spock.zodan_steps s ON s.run_id = r.run_id AND s.step_name = 'fence' "
    "LEFT JOIN LATERAL pg_catalog.jsonb_array_elements_text(coalesce(s.output -> 'subscriptions', '[]'::jsonb)) "
    "  AS x(sub_name) ON true "
    "WHERE r.operation = 'physical_fence' AND ($1::text IS NULL OR r.args_fingerprint = $1::text)";

}  // namespace

Query instance_identity() {
    return {Stmt::PhysicalInstanceIdentity, "physical: read the instance's identity",
            "SELECT c.system_identifier::text AS sysid, "
            "pg_catalog.to_char(pg_catalog.timezone('UTC', pg_catalog.pg_postmaster_start_time()), "
            "'YYYYMMDDHH24MISSUS') AS started, d.oid::text AS db, pg_catalog.pg_is_in_recovery()::text AS in_recovery, "
            "(CASE WHEN pg_catalog.pg_is_in_recovery() THEN pg_catalog.pg_last_wal_replay_lsn() "
            "ELSE pg_catalog.pg_current_wal_lsn() END)::text AS wal "
            "FROM pg_catalog.pg_control_system() c, pg_catalog.pg_database d "
            "WHERE d.datname OPERATOR(pg_catalog.=) pg_catalog.current_database()",
            {}};
}

Query zodan_version() {
    return {Stmt::PhysicalZodanVersion, "physical: look for zodan",
            "SELECT extversion::text AS version FROM pg_catalog.pg_extension WHERE extname = 'zodan'", {}};
}

Query wal_receiver() {
    // The application name S knows the standby by: primary_conninfo's, else
    // the one the WAL receiver falls back on (cluster_name or walreceiver).
    return {Stmt::PhysicalWalReceiver, "physical: read the WAL receiver",
            "SELECT coalesce(w.status, 'none') AS status, coalesce(w.slot_name, '') AS slot, "
            "coalesce(pg_catalog.substring(w.conninfo, '(?:^| )application_name=([^ ]+)'), "
            "  pg_catalog.substring(w.conninfo, 'fallback_application_name=([^ ]+)'), "
            "  nullif(pg_catalog.current_setting('cluster_name'), ''), 'walreceiver') AS app, "
            "pg_catalog.pg_last_wal_replay_lsn()::text AS replayed, "
            "coalesce(w.sender_host || ':' || w.sender_port, '') AS sender "
            "FROM (SELECT 1) one LEFT JOIN pg_catalog.pg_stat_wal_receiver w ON true",
            {}};
}

Query synchronous_standby(const std::string &application_name) {
    return {Stmt::PhysicalSynchronousStandby, "physical: look for a synchronous standby",
            "SELECT application_name::text AS app, sync_state::text AS sync_state FROM pg_catalog.pg_stat_replication "
            "WHERE application_name = $1 AND sync_state <> 'async'",
            {application_name}};
}

Query direct_standby(const std::string &slot, const std::string &application_name) {
    // A standby streams from S when one of S's walsenders serves it: by
    // its slot when it uses one (a slot name is S's own), else by the
    // application name it streams under.
    return {Stmt::PhysicalDirectStandby, "physical: look for the standby's walsender",
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_stat_replication r "
            "LEFT JOIN pg_catalog.pg_replication_slots s ON s.active_pid = r.pid "
            "WHERE CASE WHEN $1 <> '' THEN s.slot_name = $1 AND s.slot_type = 'physical' "
            "ELSE r.application_name = $2 END)::text AS direct",
            {slot, application_name}};
}

Query replay_state() {
    return {Stmt::PhysicalReplayState, "physical: read how the standby replays",
            "SELECT pg_catalog.pg_get_wal_replay_pause_state()::text AS pause_state, "
            "(SELECT setting FROM pg_catalog.pg_settings WHERE name = 'recovery_min_apply_delay') AS apply_delay_ms",
            {}};
}

Query other_spock_databases() {
    // Spock's manager of a database stops at once when it finds no local
    // node there, so one that runs, or an apply worker, is a node's.
    return {Stmt::PhysicalOtherSpockDatabases, "physical: look for Spock nodes in the other databases",
            "SELECT d.datname::text AS datname, pg_catalog.string_agg(DISTINCT a.application_name, ', ') AS workers "
            "FROM pg_catalog.pg_stat_activity a JOIN pg_catalog.pg_database d ON d.oid = a.datid "
            "WHERE d.datname OPERATOR(pg_catalog.<>) pg_catalog.current_database() "
            "AND (a.application_name LIKE 'spock manager %' OR a.application_name LIKE 'spock apply %') "
            "GROUP BY 1 ORDER BY 1",
            {}};
}

Query filtered_tables() {
    return {Stmt::PhysicalFilteredTables, "physical: look for row filters and column lists",
            "SELECT rs.set_name::text AS set_name, t.set_reloid::text AS rel, "
            "(t.set_row_filter IS NOT NULL)::text AS row_filter, (t.set_att_list IS NOT NULL)::text AS column_list "
            "FROM spock.replication_set_table t JOIN spock.replication_set rs ON rs.set_id = t.set_id "
            "WHERE rs.set_nodeid = (SELECT node_id FROM spock.local_node) "
            "AND (t.set_row_filter IS NOT NULL OR t.set_att_list IS NOT NULL) ORDER BY 1, 2",
            {}};
}

Query write_probe(const std::string &src, const std::string &new_node, const std::string &token) {
    return {Stmt::PhysicalWriteProbe, "physical: write the probe",
            "INSERT INTO spock.zodan_runs (operation, src_node_name, new_node_name, args_fingerprint, state) "
            "VALUES ('physical_probe', $1, $2, $3, 'running')",
            {src, new_node, token}};
}

Query probe_seen(const std::string &token) {
    return {Stmt::PhysicalProbeSeen, "physical: look for the probe",
            "SELECT count(*)::text AS n, pg_catalog.pg_last_wal_replay_lsn()::text AS replayed FROM spock.zodan_runs "
            "WHERE operation = 'physical_probe' AND args_fingerprint = $1",
            {token}};
}

Query drop_probe(const std::string &token) {
    return {Stmt::PhysicalDropProbe, "physical: drop the probe",
            "DELETE FROM spock.zodan_runs WHERE operation = 'physical_probe' AND args_fingerprint = $1", {token}};
}

Query begin() { return {Stmt::PhysicalBegin, "physical: begin", "BEGIN", {}}; }
Query commit() { return {Stmt::PhysicalCommit, "physical: commit", "COMMIT", {}}; }
Query rollback() { return {Stmt::PhysicalRollback, "physical: roll back", "ROLLBACK", {}}; }

Query disable_inbound() {
    // Not immediate: the workers are ended at the commit, with the fence's record.
    return {Stmt::PhysicalDisableInbound, "physical: disable the subscriptions into the source",
            "SELECT s.sub_name::text AS sub_name, s.sub_slot_name::text AS slot, n.node_name::text AS provider, "
            "spock.sub_disable(s.sub_name, false)::text AS disabled "
            "FROM spock.subscription s JOIN spock.node n ON n.node_id = s.sub_origin "
            "WHERE s.sub_target = (SELECT node_id FROM spock.local_node) AND s.sub_enabled ORDER BY 1",
            {}};
}

Query record_fence(const std::string &src, const std::string &new_node, const std::string &token,
                   const std::vector<std::string> &subscriptions, const std::string &slots_json) {
    return {Stmt::PhysicalRecordFence, "physical: record the fence",
            "WITH fence AS (INSERT INTO spock.zodan_runs (operation, src_node_name, new_node_name, args_fingerprint, "
            "  state) VALUES ('physical_fence', $1, $2, $3, 'running') RETURNING run_id) "
            "INSERT INTO spock.zodan_steps (run_id, step_no, step_name, state, started_at, output) "
            "SELECT run_id, 0, 'fence', 'running', pg_catalog.clock_timestamp(), "
            "  pg_catalog.jsonb_build_object('subscriptions', pg_catalog.to_jsonb($4::text[]), 'slots', $5::jsonb) "
            "FROM fence",
            {src, new_node, token, text_array_literal(subscriptions), slots_json}};
}

Query end_walsender(const std::string &slot) {
    return {Stmt::PhysicalEndWalsender, "physical: end the walsender of a slot of the source",
            "SELECT count(pg_catalog.pg_terminate_backend(active_pid))::text AS n FROM pg_catalog.pg_replication_slots "
            "WHERE slot_name = $1 AND active_pid IS NOT NULL",
            {slot}};
}

Query clear_stats_snapshot() {
    return {Stmt::PhysicalClearStatsSnapshot, "physical: read activity afresh", "SELECT pg_catalog.pg_stat_clear_snapshot()", {}};
}

Query fenced_slots(const Value &token) {
    return {Stmt::PhysicalFencedSlots, "physical: read the fences' slots",
            "SELECT r.new_node_name::text AS new_node, coalesce(s.output -> 'slots', '{}'::jsonb)::text AS slots "
            "FROM spock.zodan_runs r LEFT JOIN spock.zodan_steps s ON s.run_id = r.run_id AND s.step_name = 'fence' "
            "WHERE r.operation = 'physical_fence' AND ($1::text IS NULL OR r.args_fingerprint = $1::text) ORDER BY 1",
            {token}};
}

Query apply_workers_running() {
    return {Stmt::PhysicalApplyWorkersRunning, "physical: look for the source's apply workers",
            "SELECT count(*)::text AS n FROM pg_catalog.pg_stat_activity a, pg_catalog.pg_database d "
            "WHERE d.datname = pg_catalog.current_database() "
            "AND a.application_name LIKE pg_catalog.format('spock apply %s:%%', d.oid)",
            {}};
}

Query end_apply_workers() {
    return {Stmt::PhysicalEndApplyWorkers, "physical: end the source's apply workers",
            "SELECT count(pg_catalog.pg_terminate_backend(a.pid))::text AS n "
            "FROM pg_catalog.pg_stat_activity a, pg_catalog.pg_database d "
            "WHERE d.datname = pg_catalog.current_database() "
            "AND a.application_name LIKE pg_catalog.format('spock apply %s:%%', d.oid)",
            {}};
}

Query enable_fenced(const Value &token) {
    return {Stmt::PhysicalEnableFenced, "physical: enable the fenced subscriptions",
            std::string("SELECT f.new_node, f.sub_name, "
                        "CASE WHEN sub.sub_id IS NOT NULL AND NOT sub.sub_enabled "
                        "THEN spock.sub_enable(sub.sub_name, false)::text END AS enabled FROM (") +
                kFences + ") f LEFT JOIN spock.subscription sub ON sub.sub_name::text = f.sub_name ORDER BY 1, 2",
            {token}};
}

Query forget_fence(const Value &token) {
    return {Stmt::PhysicalForgetFence, "physical: forget the fence",
            "DELETE FROM spock.zodan_runs WHERE operation = 'physical_fence' AND ($1::text IS NULL OR "
            "args_fingerprint = $1::text)",
            {token}};
}

Query journal_here() { return sql::journal_here(); }

Query replayed() {
    return {Stmt::PhysicalReplayed, "physical: read the replay position",
            "SELECT pg_catalog.pg_last_wal_replay_lsn()::text AS replayed, "
            "pg_catalog.pg_is_in_recovery()::text AS in_recovery",
            {}};
}

Query promote(int wait_seconds) {
    return {Stmt::PhysicalPromote, "physical: promote", "SELECT pg_catalog.pg_promote(true, $1::int)::text AS promoted",
            {std::to_string(wait_seconds)}};
}

Query local_node() {
    return {Stmt::PhysicalLocalNode, "physical: read the local node",
            "SELECT n.node_name::text AS node_name FROM spock.local_node l JOIN spock.node n ON n.node_id = l.node_id",
            {}};
}

Query drop_journal_rows() {
    // Cascades to spock.zodan_steps.
    return {Stmt::PhysicalDropJournalRows, "physical: drop the source's journal", "DELETE FROM spock.zodan_runs", {}};
}

Query drop_logical_slots() {
    return {Stmt::PhysicalDropLogicalSlots, "physical: drop the logical slots copied from the source",
            "SELECT slot_name::text AS slot, pg_catalog.pg_drop_replication_slot(slot_name) FROM "
            "pg_catalog.pg_replication_slots WHERE slot_type = 'logical' AND NOT active "
            "AND database = pg_catalog.current_database()",
            {}};
}

Query drop_spock_origins() {
    return {Stmt::PhysicalDropSpockOrigins, "physical: drop the source's replication origins",
            "SELECT roname::text AS origin, pg_catalog.pg_replication_origin_drop(roname) "
            "FROM pg_catalog.pg_replication_origin WHERE roname LIKE 'spk\\_%'",
            {}};
}

Query strip_spock_catalog() {
    // One message of several statements: one transaction. The rows of
    // S's node, its subscriptions (never spock.sub_drop: it would drop S's
    // slots on the peers) and its sets; the tables keep their data.
    Query q{Stmt::PhysicalStripSpockCatalog, "physical: strip the source's node from the catalog",
            "DELETE FROM spock.local_sync_status; DELETE FROM spock.subscription; "
            "DELETE FROM spock.replication_set_table; DELETE FROM spock.replication_set_seq; "
            "DELETE FROM spock.replication_set; DELETE FROM spock.local_node; "
            "DELETE FROM spock.node_interface; DELETE FROM spock.node",
            {}};
    q.simple = true;
    return q;
}

Query reset_standby_setting(const std::string &setting) {
    // Only the two settings below reach here: a name cannot be a parameter.
    const std::string name = setting == "primary_slot_name" ? "primary_slot_name" : "primary_conninfo";
    Query q{Stmt::PhysicalResetStandbySetting, "physical: reset " + name, "ALTER SYSTEM RESET " + name, {}};
    q.simple = true;
    return q;
}

Query reload_configuration() {
    return {Stmt::PhysicalReloadConfiguration, "physical: reload the configuration", "SELECT pg_catalog.pg_reload_conf()::text AS reloaded", {}};
}

Query drop_physical_slot(const std::string &slot) {
    return {Stmt::PhysicalDropPhysicalSlot, "physical: drop the standby's slot",
            "SELECT slot_name::text AS slot, pg_catalog.pg_drop_replication_slot(slot_name) FROM "
            "pg_catalog.pg_replication_slots WHERE slot_name = $1 AND slot_type = 'physical' AND NOT active",
            {slot}};
}

}  // namespace zodan::physical::stmt
