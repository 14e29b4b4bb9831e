#include "core/statements/spock_sql.hpp"

#include <algorithm>
#include <stdexcept>

#include "core/util.hpp"
#include "core/text/text_array.hpp"

namespace zodan::sql {

namespace {

Value b(bool v) { return std::string(v ? "true" : "false"); }

// The local node's own replication sets: a node also lists sets of others.
const char *kLocalNodeId = "(SELECT node_id FROM spock.local_node)";

// The tables in the local node's replication sets: t (membership), rs (set),
// c (relation), n (its schema).
const std::string kLocalSetTables =
    std::string("FROM spock.replication_set_table t JOIN spock.replication_set rs ON rs.set_id = t.set_id "
                "JOIN pg_catalog.pg_class c ON c.oid = t.set_reloid "
                "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE rs.set_nodeid = ") +
    kLocalNodeId;

}  // namespace

Query spock_version() {
    return {Stmt::SpockVersion, "read the Spock version", "SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'spock'", {}};
}

Query journal_here() {
    return {Stmt::PhysicalJournalHere, "physical: look for zodan's journal",
            "SELECT (pg_catalog.to_regclass('spock.zodan_runs') IS NOT NULL)::text AS here", {}};
}

Query local_identity() {
    return {Stmt::LocalIdentity, "read the system identifier",
            "SELECT system_identifier::text AS sysid, current_database()::text AS db FROM pg_catalog.pg_control_system()",
            {}};
}

Query local_node_name() {
    return {Stmt::LocalNodeName, "read the local Spock node",
            "SELECT n.node_name::text AS node_name FROM spock.local_node l JOIN spock.node n ON n.node_id = l.node_id",
            {}};
}

Query nodes_with_dsn() {
    return {Stmt::NodesWithDsn, "list the cluster's nodes",
            "SELECT DISTINCT ON (n.node_name) n.node_name::text AS node_name, i.if_dsn AS dsn "
            "FROM spock.node n JOIN spock.node_interface i ON i.if_nodeid = n.node_id "
            "ORDER BY n.node_name, i.if_id",
            {}};
}

Query node_exists(const std::string &node_name) {
    return {Stmt::NodeExists, "look up node " + node_name, "SELECT count(*) AS n FROM spock.node WHERE node_name = $1", {node_name}};
}

Query node_id_taken(const std::string &node_name) {
    return {Stmt::NodeIdTaken, "look for a node id collision",
            "SELECT n.node_name::text AS node_name, n.node_id::text AS node_id FROM spock.node n "
            "WHERE n.node_id = (pg_catalog.hashtext($1) & 65535)::oid AND n.node_name <> $1",
            {node_name}};
}

Query disabled_subscriptions() {
    return {Stmt::DisabledSubscriptions, "list disabled subscriptions",
            "SELECT sub_name::text AS sub_name FROM spock.subscription WHERE NOT sub_enabled ORDER BY 1", {}};
}

Query user_tables() {
    // Extension-owned schemas and tables are not the user's data.
    return {Stmt::UserTables, "list user tables",
            "SELECT n.nspname::text || '.' || c.relname::text AS rel FROM pg_catalog.pg_class c "
            "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind IN ('r', 'p') "
            "AND n.nspname NOT IN ('information_schema', 'pg_catalog', 'pg_toast', 'spock') "
            "AND n.nspname NOT LIKE 'pg\\_temp\\_%' AND n.nspname NOT LIKE 'pg\\_toast\\_temp\\_%' "
            "AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.deptype = 'e' AND "
            "  ((d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid) OR "
            "   (d.classid = 'pg_catalog.pg_namespace'::regclass AND d.objid = n.oid))) "
            "ORDER BY 1",
            {}};
}

Query login_roles() {
    return {Stmt::LoginRoles, "list login roles", "SELECT rolname::text AS rolname FROM pg_catalog.pg_roles WHERE rolcanlogin ORDER BY 1",
            {}};
}

Query roles() { return {Stmt::Roles, "list roles", "SELECT rolname::text AS rolname FROM pg_catalog.pg_roles ORDER BY 1", {}}; }

Query subscription_count() { return {Stmt::SubscriptionCount, "count subscriptions", "SELECT count(*) AS n FROM spock.subscription", {}}; }

Query replication_set_count() {
    return {Stmt::ReplicationSetCount, "count replication sets", "SELECT count(*) AS n FROM spock.replication_set", {}};
}

Query local_sets() {
    return {Stmt::LocalSets, "read replication sets",
            std::string("SELECT set_name::text AS set_name, replicate_insert::text AS ins, "
                        "replicate_update::text AS upd, replicate_delete::text AS del, "
                        "replicate_truncate::text AS trunc FROM spock.replication_set WHERE set_nodeid = ") +
                kLocalNodeId + " ORDER BY 1",
            {}};
}

Query local_set_tables() {
    return {Stmt::LocalSetTables, "read replication set tables",
            std::string("SELECT rs.set_name::text AS set_name, "
                        "quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS rel, "
                        "t.set_att_list::text AS att_list, pg_catalog.pg_get_expr(t.set_row_filter, c.oid) AS row_filter ") +
                kLocalSetTables + " ORDER BY 1, 2",
            {}};
}

Query local_set_sequences() {
    return {Stmt::LocalSetSequences, "read replication set sequences",
            std::string("SELECT rs.set_name::text AS set_name, "
                        "quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS seq "
                        "FROM spock.replication_set_seq s JOIN spock.replication_set rs ON rs.set_id = s.set_id "
                        "JOIN pg_catalog.pg_class c ON c.oid = s.set_seqoid "
                        "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE rs.set_nodeid = ") +
                kLocalNodeId + " ORDER BY 1, 2",
            {}};
}

Query schemas_to_skip() {
    return {Stmt::SchemasToSkip, "list local schemas",
            "SELECT n.nspname::text AS nspname FROM pg_catalog.pg_namespace n "
            "WHERE n.nspname NOT IN ('public', 'spock', 'information_schema') "
            "AND n.nspname NOT LIKE 'pg\\_%' "
            "AND n.oid NOT IN (SELECT extnamespace FROM pg_catalog.pg_extension) "
            "AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.deptype = 'e' "
            "  AND d.classid = 'pg_catalog.pg_namespace'::regclass AND d.objid = n.oid) ORDER BY 1",
            {}};
}

Query node_create(const std::string &name, const std::string &dsn, const Value &location, const Value &country,
                  const std::string &info_json) {
    return {Stmt::NodeCreate, "create node " + name, "SELECT spock.node_create($1, $2, $3, $4, $5::jsonb) AS node_id",
            {name, dsn, location, country, info_json}};
}

Query slot_name(const std::string &subscriber_db, const std::string &provider_node, const std::string &subscription) {
    // Spock's own rule. sub_create names the slot after the database the
    // subscription lives in (the subscriber's), not the provider's.
    return {Stmt::SlotName, "name the slot for " + subscription, "SELECT spock.spock_gen_slot_name($1, $2, $3)::text AS slot",
            {subscriber_db, provider_node, subscription}};
}

Query create_slot(const std::string &slot) {
    return {Stmt::CreateSlot, "create slot " + slot,
            "SELECT lsn::text AS lsn FROM pg_catalog.pg_create_logical_replication_slot($1, 'spock_output')", {slot}};
}

Query create_slot_then_sync_event(const std::string &slot) {
    // The function in FROM runs before the select list: the event is
    // written after the slot's start, in the WAL the slot keeps.
    return {Stmt::CreateSlotThenSyncEvent, "create slot " + slot + " and write a sync event",
            "SELECT s.lsn::text AS lsn, spock.sync_event()::text AS sync_lsn "
            "FROM pg_catalog.pg_create_logical_replication_slot($1, 'spock_output') s",
            {slot}};
}

Query slot_exists(const std::string &slot) {
    return {Stmt::SlotExists, "look up slot " + slot,
            "SELECT active::text AS active, confirmed_flush_lsn::text AS lsn FROM pg_catalog.pg_replication_slots "
            "WHERE slot_name = $1",
            {slot}};
}

Query advance_slot(const std::string &slot, Lsn lsn) {
    return {Stmt::AdvanceSlot, "advance slot " + slot,
            // A slot cannot move backwards. The copy's position for O can lie
            // before the slot's start only when O committed nothing between
            // them (S applied all of O up to a marker after the slot's start
            // before the copy), so the slot's own start is then exact.
            "SELECT end_lsn::text AS lsn FROM pg_catalog.pg_replication_slot_advance($1, "
            "GREATEST($2::pg_lsn, (SELECT confirmed_flush_lsn FROM pg_catalog.pg_replication_slots "
            "WHERE slot_name = $1)))",
            {slot, format_lsn(lsn)}};
}

Query drop_origin_if_exists(const std::string &origin) {
    return {Stmt::DropOriginIfExists, "drop leftover origin " + origin,
            "SELECT pg_catalog.pg_replication_origin_drop(roname) FROM pg_catalog.pg_replication_origin "
            "WHERE roname = $1",
            {origin}};
}

Query advance_origins(const std::vector<std::string> &origins, const std::vector<Lsn> &lsns) {
    std::vector<std::string> positions;
    for (Lsn l : lsns) positions.push_back(format_lsn(l));
    return {Stmt::AdvanceOrigins, "advance origins",
            "SELECT pg_catalog.pg_replication_origin_advance(u.origin, u.lsn::pg_lsn)::text AS advanced "
            "FROM unnest($1::text[], $2::text[]) AS u(origin, lsn)",
            {text_array_literal(origins), text_array_literal(positions)}};
}

Query advance_origin(const std::string &origin, Lsn lsn) {
    return {Stmt::AdvanceOrigin, "advance origin " + origin, "SELECT pg_catalog.pg_replication_origin_advance($1, $2::pg_lsn)",
            {origin, format_lsn(lsn)}};
}

Query table_shapes() {
    return {Stmt::TableShapes, "read the replicated tables' columns and keys",
            std::string("SELECT DISTINCT quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS rel, "
                        "(SELECT string_agg(a.attname || ' ' || pg_catalog.format_type(a.atttypid, a.atttypmod), ', ' "
                        "  ORDER BY a.attnum) FROM pg_catalog.pg_attribute a "
                        "  WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS cols, "
                        "(SELECT string_agg(a.attname, ', ' ORDER BY array_position(i.indkey::int2[], a.attnum)) "
                        "  FROM pg_catalog.pg_index i JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid "
                        "  AND a.attnum = ANY (i.indkey::int2[]) WHERE i.indrelid = c.oid AND i.indisprimary) AS key ") +
                kLocalSetTables + " ORDER BY 1",
            {}};
}

Query run_generated(Stmt id, const std::string &what, const std::string &statement, const std::string &subject) {
    return {id, what, statement, {}, false, subject};
}

Query wal_retention() {
    return {Stmt::WalRetention, "read max_slot_wal_keep_size and the WAL position",
            "SELECT CASE WHEN s.setting::bigint < 0 THEN -1 ELSE s.setting::bigint * 1024 * 1024 END::text AS keep_bytes, "
            // A hot standby (a new node to be, in the checks) writes no WAL.
            "CASE WHEN NOT pg_catalog.pg_is_in_recovery() THEN "
            "(pg_catalog.pg_current_wal_insert_lsn() - '0/0'::pg_catalog.pg_lsn)::bigint::text END AS wal "
            "FROM pg_catalog.pg_settings s WHERE s.name = 'max_slot_wal_keep_size'",
            {}};
}

Query node_capacity() {
    // Background workers are what pg_stat_activity shows besides client
    // backends and PostgreSQL's own auxiliary processes.
    return {Stmt::NodeCapacity, "read settings and use",
            "SELECT current_setting('wal_level') AS wal_level, "
            "current_setting('track_commit_timestamp') AS track_commit_timestamp, "
            "current_setting('shared_preload_libraries') AS shared_preload_libraries, "
            "(SELECT setting FROM pg_catalog.pg_settings WHERE name = 'output_plugin_libraries') "
            "  AS output_plugin_libraries, "
            "o.setting_name AS origins_setting, current_setting(o.setting_name) AS max_origins, "
            "(SELECT count(*) FROM pg_catalog.pg_replication_origin_status) AS origins_used, "
            "current_setting('max_replication_slots') AS max_slots, "
            "(SELECT count(*) FROM pg_catalog.pg_replication_slots) AS slots_used, "
            "current_setting('max_wal_senders') AS max_senders, "
            "(SELECT count(*) FROM pg_catalog.pg_stat_activity WHERE backend_type = 'walsender') AS senders_used, "
            "current_setting('max_worker_processes') AS max_workers, "
            "(SELECT count(*) FROM pg_catalog.pg_stat_activity WHERE backend_type NOT IN ('client backend', "
            "  'autovacuum launcher', 'autovacuum worker', 'background writer', 'checkpointer', 'walwriter', "
            "  'walsender', 'walreceiver', 'startup', 'archiver', 'logger', 'standalone backend')) AS workers_used, "
            "current_setting('max_connections') AS max_connections, "
            "(SELECT count(*) FROM pg_catalog.pg_stat_activity WHERE backend_type = 'client backend') "
            "  AS connections_used, "
            "pg_catalog.pg_database_size(current_database()) AS database_bytes "
            // Origins with state: their own limit from PostgreSQL 18 on.
            "FROM (SELECT CASE WHEN current_setting('server_version_num')::int >= 180000 "
            "  THEN 'max_active_replication_origins' ELSE 'max_replication_slots' END AS setting_name) o",
            {}};
}


Query sync_event() { return {Stmt::SyncEvent, "write a sync event", "SELECT spock.sync_event()::text AS lsn", {}}; }

Query applied_through(const std::vector<std::string> &origins) {
    // A subscription's replication origin (named like its slot) moves for
    // every applied commit and for every sync event, transactional or not;
    // spock.progress moves only on commits and can lag a quiet origin by
    // minutes. Spock's own wait_for_sync_event reads the origin too.
    return {Stmt::AppliedThrough, "read replication progress",
            "SELECT n.node_name::text AS origin, max(os.remote_lsn)::text AS lsn "
            "FROM spock.subscription s JOIN spock.node n ON n.node_id = s.sub_origin "
            "JOIN pg_catalog.pg_replication_origin_status os ON os.external_id = s.sub_slot_name "
            "WHERE s.sub_target = (SELECT node_id FROM spock.local_node) AND n.node_name = ANY ($1::text[]) "
            "GROUP BY 1",
            {text_array_literal(origins)}};
}

Query subscription_status() {
    return {Stmt::SubscriptionStatus, "read subscription status",
            "SELECT subscription_name::text AS subscription_name, status::text AS status, "
            "provider_node::text AS provider_node FROM spock.sub_show_status() ORDER BY 1",
            {}};
}

Query end_lost_apply_workers(const std::string &subscription) {
    // Spock names an apply worker's process "spock apply <database oid>:<subscription id>".
    return {Stmt::EndLostApplyWorkers, "end the lost apply worker of " + subscription,
            // The select list runs only for the rows the filter keeps.
            "SELECT a.pid::text AS pid, pg_catalog.pg_terminate_backend(a.pid) AS ended "
            "FROM pg_catalog.pg_stat_activity a "
            "JOIN pg_catalog.pg_database d ON d.datname = pg_catalog.current_database() "
            "JOIN spock.subscription s ON s.sub_name = $1 "
            "WHERE a.application_name = pg_catalog.format('spock apply %s:%s', d.oid, s.sub_id) "
            "AND a.backend_start < pg_catalog.clock_timestamp() - interval '2 seconds'",
            {subscription}};
}

Query apply_restart_delay() {
    // pg_settings gives both in ms whatever unit the Spock version declares
    // (none in 5.0, ms in 6.0). Which one a failed worker waits out depends
    // on where it failed, so the longer one bounds it.
    return {Stmt::ApplyRestartDelay, "read the apply workers' restart delay",
            "SELECT coalesce(max(setting::bigint), 0)::text AS ms FROM pg_catalog.pg_settings "
            "WHERE name IN ('spock.restart_delay_default', 'spock.restart_delay_on_exception')",
            {}};
}

namespace {

// Spock's errors about a connection it makes carry the DSN, password and
// all, in their DETAIL ("dsn was: ..."), and the node would write them to
// its log. A statement that has Spock connect joins this row first, so
// that, for a superuser's session, its transaction logs only what is
// FATAL or worse; the caller still gets the error, masked. (A subquery in
// FROM kept whole by OFFSET 0 makes its row before the select list above
// it runs.)
const char *const kQuietLog =
    "(SELECT CASE WHEN pg_catalog.current_setting('is_superuser') = 'on' "
    "THEN pg_catalog.set_config('log_min_messages', 'fatal', true) END AS quiet OFFSET 0) quiet_log";

}  // namespace

Query sub_create(const std::string &name, const std::string &provider_dsn, const std::vector<std::string> &sets,
                 bool sync_structure, bool sync_data, bool enabled, const std::vector<std::string> &skip_schema) {
    return {Stmt::SubCreate, "create subscription " + name,
            "SELECT spock.sub_create(subscription_name := $1, provider_dsn := $2, replication_sets := $3::text[], "
            "synchronize_structure := $4::boolean, synchronize_data := $5::boolean, forward_origins := '{}'::text[], "
            "apply_delay := '0'::interval, force_text_transfer := false, enabled := $6::boolean, "
            "skip_schema := $7::text[]) AS sub_id FROM " +
                std::string(kQuietLog),
            {name, provider_dsn, text_array_literal(sets), b(sync_structure), b(sync_data), b(enabled),
             text_array_literal(skip_schema)}};
}

Query sub_create_disabled(const std::vector<std::string> &names, const std::vector<std::string> &provider_dsns,
                          const std::vector<std::vector<std::string>> &set_lists) {
    std::vector<std::string> sets;
    for (const std::vector<std::string> &list : set_lists) sets.push_back(text_array_literal(list));
    return {Stmt::SubCreateDisabled, "create subscriptions " + join(names),
            "SELECT u.name AS sub_name, spock.sub_create(subscription_name := u.name, provider_dsn := u.dsn, "
            "replication_sets := u.sets::text[], synchronize_structure := false, synchronize_data := false, "
            "forward_origins := '{}'::text[], apply_delay := '0'::interval, force_text_transfer := false, "
            "enabled := false, skip_schema := '{}'::text[]) AS sub_id "
            "FROM unnest($1::text[], $2::text[], $3::text[]) AS u(name, dsn, sets), " +
                std::string(kQuietLog),
            {text_array_literal(names), text_array_literal(provider_dsns), text_array_literal(sets)}};
}

Query enable_disabled(const std::vector<std::string> &subscriptions) {
    return {Stmt::EnableDisabled, "enable subscriptions",
            "SELECT sub_name::text AS sub_name, spock.sub_enable(sub_name, true) AS enabled FROM spock.subscription "
            "WHERE sub_name = ANY ($1::text[]) AND NOT sub_enabled ORDER BY 1",
            {text_array_literal(subscriptions)}};
}

Query sub_drop(const std::string &name) {
    return {Stmt::SubDrop, "drop subscription " + name, "SELECT spock.sub_drop($1, true)", {name}};
}

Query sub_disable(const std::string &name) {
    return {Stmt::SubDisable, "disable subscription " + name,
            "SELECT spock.sub_disable(s.sub_name, true) FROM spock.subscription s WHERE s.sub_name = $1 AND s.sub_enabled",
            {name}};
}

// Spock names its workers' sessions (application_name) "spock apply
// <database oid>:<subscription id>" and "spock sync <table> <oid>:<id>".
static const char *kWorkersOf =
    "FROM pg_catalog.pg_stat_activity a, spock.subscription s WHERE s.sub_name = $1 "
    "AND a.application_name LIKE 'spock %' AND a.application_name LIKE pg_catalog.format('%% %s:%s', "
    "(SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database()), s.sub_id)";

Query subscription_workers(const std::string &name) {
    return {Stmt::SubscriptionWorkers, "look for the workers of " + name, std::string("SELECT count(*) AS n ") + kWorkersOf, {name}};
}

Query terminate_subscription_workers(const std::string &name) {
    return {Stmt::TerminateSubscriptionWorkers, "stop the workers of " + name, std::string("SELECT pg_catalog.pg_terminate_backend(a.pid) ") + kWorkersOf,
            {name}};
}

Query apply_workers() {
    return {Stmt::ApplyWorkers, "look at the apply workers",
            "WITH db AS (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database()), "
            "w AS (SELECT a.pid, a.application_name FROM pg_catalog.pg_stat_activity a, db "
            "  WHERE a.application_name LIKE pg_catalog.format('spock apply %s:%%', db.oid)), "
            "lacking AS (SELECT s.sub_name FROM spock.subscription s, db WHERE s.sub_enabled AND NOT EXISTS "
            "  (SELECT 1 FROM w WHERE w.application_name = pg_catalog.format('spock apply %s:%s', db.oid, s.sub_id))) "
            "SELECT (SELECT a.pid::text FROM pg_catalog.pg_stat_activity a, db "
            "   WHERE a.application_name = pg_catalog.format('spock manager %s', db.oid) LIMIT 1) AS manager, "
            "(SELECT pg_catalog.string_agg(w.pid::text, ',' ORDER BY w.pid) FROM w) AS workers, "
            "(SELECT count(*) FROM lacking)::text AS missing, "
            // While the manager starts workers it holds Spock's local_node
            // lock (which sync events need too).
            "EXISTS (SELECT 1 FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid, db "
            "  WHERE a.application_name = pg_catalog.format('spock manager %s', db.oid) AND l.granted "
            "  AND l.locktype = 'relation' AND l.relation = 'spock.local_node'::regclass)::text AS manager_busy, "
            "(SELECT pg_catalog.string_agg(sub_name::text, ', ' ORDER BY sub_name) FROM lacking) AS without",
            {}};
}

Query subscription_slots(const std::vector<std::string> &subscriber_dbs, const std::vector<std::string> &providers,
                         const std::vector<std::string> &subscriptions) {
    return {Stmt::SubscriptionSlots, "look up subscriptions and their slots",
            "SELECT u.sub, COALESCE(s.sub_slot_name::text, u.named) AS slot, (s.sub_id IS NOT NULL)::text AS present, "
            "  EXISTS (SELECT 1 FROM pg_catalog.pg_replication_origin o WHERE o.roname = u.named)::text AS origin_left "
            "FROM (SELECT v.ord, v.sub, spock.spock_gen_slot_name(v.db::name, v.provider::name, v.sub::name)::text AS named "
            "      FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS v(db, provider, sub, ord)) u "
            "LEFT JOIN spock.subscription s ON s.sub_name = u.sub ORDER BY u.ord",
            {text_array_literal(subscriber_dbs), text_array_literal(providers), text_array_literal(subscriptions)}};
}

Query subscriptions_involving(const std::string &node_name) {
    return {Stmt::SubscriptionsInvolving, "list subscriptions involving " + node_name,
            "SELECT s.sub_name::text AS sub_name, o.node_name::text AS provider, t.node_name::text AS subscriber, "
            "s.sub_slot_name::text AS slot FROM spock.subscription s "
            "JOIN spock.node o ON o.node_id = s.sub_origin JOIN spock.node t ON t.node_id = s.sub_target "
            "WHERE o.node_name = $1 OR t.node_name = $1 ORDER BY 1",
            {node_name}};
}

Query node_drop(const std::string &name) {
    return {Stmt::NodeDrop, "drop node " + name, "SELECT spock.node_drop($1, true)::text AS dropped", {name}};
}

Query node_identity() {
    // The postmaster's start (to the microsecond, in UTC: the same text in
    // every session, whatever its TimeZone) tells apart two instances that
    // share a system identifier (a physical copy); the oid, two databases of
    // one instance.
    return {Stmt::NodeIdentity, "read the node's identity",
            "SELECT pg_catalog.format('%s/%s', pg_catalog.to_char(pg_catalog.timezone('UTC', "
            "pg_catalog.pg_postmaster_start_time()), 'YYYYMMDDHH24MISSUS'), d.oid) AS identity, "
            "n.node_name::text AS node_name, n.node_id::text AS node_id "
            "FROM pg_catalog.pg_database d LEFT JOIN spock.local_node l ON true "
            "LEFT JOIN spock.node n ON n.node_id OPERATOR(pg_catalog.=) l.node_id "
            "WHERE d.datname OPERATOR(pg_catalog.=) pg_catalog.current_database()",
            {}};
}

Query cluster_nodes() {
    return {Stmt::ClusterNodes, "list the cluster's nodes with their ids",
            "SELECT DISTINCT ON (n.node_name) n.node_name::text AS node_name, n.node_id::text AS node_id, "
            "i.if_dsn AS dsn FROM spock.node n "
            "JOIN spock.node_interface i ON i.if_nodeid OPERATOR(pg_catalog.=) n.node_id "
            "ORDER BY n.node_name, i.if_id",
            {}};
}

Query slots_named(const std::vector<std::string> &slots) {
    return {Stmt::SlotsNamed, "look up slots",
            "SELECT slot_name::text AS slot_name, coalesce(active_pid, 0)::text AS active_pid "
            "FROM pg_catalog.pg_replication_slots WHERE slot_name = ANY ($1::text[]) ORDER BY 1",
            {text_array_literal(slots)}};
}

Query terminate_slot_user(const std::string &slot) {
    return {Stmt::TerminateSlotUser, "stop the walsender of slot " + slot,
            "SELECT pg_catalog.pg_terminate_backend(active_pid) FROM pg_catalog.pg_replication_slots "
            "WHERE slot_name = $1 AND active_pid IS NOT NULL",
            {slot}};
}

Query drop_slot(const std::string &slot) {
    return {Stmt::DropSlot, "drop slot " + slot,
            "SELECT pg_catalog.pg_drop_replication_slot(slot_name) FROM pg_catalog.pg_replication_slots "
            "WHERE slot_name = $1 AND active_pid IS NULL",
            {slot}};
}

Query spock_slots() {
    return {Stmt::SpockSlots, "list Spock slots",
            "SELECT slot_name::text AS slot_name, coalesce(active_pid, 0)::text AS active_pid "
            "FROM pg_catalog.pg_replication_slots WHERE slot_name LIKE 'spk\\_%' AND database = current_database() "
            "ORDER BY 1",
            {}};
}

Query unused_origins_among(const std::vector<std::string> &origins) {
    return {Stmt::UnusedOriginsAmong, "list unused origins",
            "SELECT roname::text AS roname FROM pg_catalog.pg_replication_origin o WHERE roname = ANY ($1::text[]) "
            "AND NOT EXISTS (SELECT 1 FROM spock.subscription s WHERE s.sub_slot_name = o.roname) ORDER BY 1",
            {text_array_literal(origins)}};
}

Query drop_origin(const std::string &origin) {
    return {Stmt::DropOrigin, "drop origin " + origin, "SELECT pg_catalog.pg_replication_origin_drop($1)", {origin}};
}

Query repset_drop(const std::string &set) {
    return {Stmt::RepsetDrop, "drop replication set " + set, "SELECT spock.repset_drop($1, true)", {set}};
}

// User objects that a schema copy can bring, as "kind:oid" (an object's oid
// stays its own for as long as it exists). Extension members are not the
// copy's, nor are system and temporary schemas. This is the whole listing of
// version 1 (the journals of zodan 0.2.0 hold it).
static const char *kUserObjects =
    "SELECT 'n:' || n.oid AS obj, n.oid FROM pg_catalog.pg_namespace n "
    "WHERE n.oid >= 16384 AND n.nspname NOT LIKE 'pg\\_%' "
    "AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.deptype = 'e' "
    "  AND d.classid = 'pg_catalog.pg_namespace'::regclass AND d.objid = n.oid) "
    "UNION ALL SELECT 'c:' || c.oid, c.oid FROM pg_catalog.pg_class c "
    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.oid >= 16384 AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f', 'c') AND n.nspname NOT LIKE 'pg\\_%' "
    "AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.deptype = 'e' "
    "  AND d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid) "
    "UNION ALL SELECT 'p:' || p.oid, p.oid FROM pg_catalog.pg_proc p "
    "JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace "
    "WHERE p.oid >= 16384 AND n.nspname NOT LIKE 'pg\\_%' "
    "AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.deptype = 'e' "
    "  AND d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid) "
    "UNION ALL SELECT 't:' || t.oid, t.oid FROM pg_catalog.pg_type t "
    "JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace "
    "WHERE t.oid >= 16384 AND t.typtype IN ('e', 'd', 'r') AND n.nspname NOT LIKE 'pg\\_%' "
    "AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.deptype = 'e' "
    "  AND d.classid = 'pg_catalog.pg_type'::regclass AND d.objid = t.oid)";

// The listing as a CTE "listing (obj, classid, objid)". Version 2 adds every
// other object of its own (an index, a constraint, a trigger, a rule, a
// policy, a column default, an extension, an operator...) as
// "o:<catalog oid>:<oid>": any object that records a dependency in
// pg_depend. Left out are the parts of another object, which come and go with
// it (a table's row type and TOAST table, a view's rule, a constraint's index,
// an extension's members, a partition's copy of an index, operator family
// entries), and what belongs to temporary or system schemas. `version` is the
// SQL text of the version wanted ('2' or a parameter).
static std::string listing_cte(const std::string &version) {
    return std::string("listing AS (SELECT u.obj, CASE pg_catalog.left(u.obj, 1) "
                       "  WHEN 'n' THEN 'pg_catalog.pg_namespace'::regclass WHEN 'c' THEN 'pg_catalog.pg_class'::regclass "
                       "  WHEN 'p' THEN 'pg_catalog.pg_proc'::regclass ELSE 'pg_catalog.pg_type'::regclass END::oid AS classid, "
                       "  u.oid AS objid FROM (") +
           kUserObjects +
           ") u "
           "UNION ALL SELECT 'o:' || d.classid || ':' || d.objid, d.classid, d.objid "
           "FROM (SELECT DISTINCT g.classid, g.objid FROM pg_catalog.pg_depend g WHERE g.objid >= 16384 AND g.objsubid = 0) d "
           "WHERE " + version + " = '2' "
           "AND d.classid NOT IN ('pg_catalog.pg_namespace'::regclass, 'pg_catalog.pg_proc'::regclass, "
           "  'pg_catalog.pg_amop'::regclass, 'pg_catalog.pg_amproc'::regclass) "
           "AND NOT (d.classid = 'pg_catalog.pg_class'::regclass AND EXISTS (SELECT 1 FROM pg_catalog.pg_class c "
           "  WHERE c.oid = d.objid AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f', 'c'))) "
           "AND NOT (d.classid = 'pg_catalog.pg_type'::regclass AND EXISTS (SELECT 1 FROM pg_catalog.pg_type t "
           "  WHERE t.oid = d.objid AND t.typtype IN ('e', 'd', 'r'))) "
           "AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend p WHERE p.classid = d.classid AND p.objid = d.objid "
           "  AND (p.deptype IN ('i', 'e', 'P') "
           "    OR (p.refclassid = 'pg_catalog.pg_class'::regclass AND EXISTS (SELECT 1 FROM pg_catalog.pg_class t "
           "      JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace "
           "      WHERE t.oid = p.refobjid AND (t.relpersistence = 't' OR n.nspname LIKE 'pg\\_%'))) "
           "    OR (p.refclassid = 'pg_catalog.pg_namespace'::regclass AND EXISTS (SELECT 1 FROM pg_catalog.pg_namespace t "
           "      WHERE t.oid = p.refobjid AND t.nspname LIKE 'pg\\_%')) "
           "    OR (p.deptype = 'a' AND EXISTS (SELECT 1 FROM pg_catalog.pg_depend x WHERE x.classid = p.refclassid "
           "      AND x.objid = p.refobjid AND x.deptype = 'e')))))";
}

// The copy's objects (made): those of the listing of the journal's version
// ($3) not there before the copy ($1) and, when the copy recorded what was
// there once it was complete ($2), there then.
static const char *kMadeByCopy =
    "made AS (SELECT l.classid, l.objid, l.obj FROM listing l "
    "  WHERE l.obj NOT IN (SELECT pg_catalog.unnest($1::text[])) "
    "  AND ($2::text[] IS NULL OR l.obj IN (SELECT pg_catalog.unnest($2::text[]))))";

const char *const kObjectListing = "2";

Query user_objects() {
    return {Stmt::UserObjects, "list user objects", "WITH " + listing_cte("'2'") + " SELECT obj FROM listing ORDER BY classid, objid", {}};
}

Query copy_rollback_plan(const std::vector<std::string> &before_copy, const Value &after_copy,
                         const std::string &listing) {
    // What dropping the copy's objects takes, as PostgreSQL's own DROP ...
    // CASCADE would find it (reach): every object depending on one of them,
    // and the owner of every part so reached (a view whose rule depends on a
    // copied table goes whole). Each object reached is then the copy's
    // (made), a part of another one, or not the copy's (other): an object
    // of the listing that the copy did not make (version 1 lists no
    // constraint, trigger, index...: of those only one owned by an object
    // the rollback would not drop counts), or a column of a table that is
    // not dropped. Rows:
    // - other: each object not made by the copy that would go, named
    //   (pg_describe_object), those that go with another one left out;
    // - drop: one statement per object that does not go with another one
    //   (a table's indexes, triggers, constraints and owned sequences go
    //   with it), written by the server (identities quoted), without
    //   CASCADE; verb and target when it is a DROP that takes a list; grp
    //   the order in which to try them (the caller retries what others
    //   still depend on);
    // - table: the copy's tables, "c:<oid>" (for the local-writes check).
    return {Stmt::CopyRollbackPlan, "plan the rollback of the copy",
            "WITH RECURSIVE " + listing_cte("$3::text") + ", " + kMadeByCopy +
                ", reach(classid, objid, objsubid) AS ("
                "  SELECT m.classid, m.objid, 0 FROM made m "
                "  UNION SELECT x.classid, x.objid, x.objsubid FROM reach r CROSS JOIN LATERAL ("
                "    SELECT d.classid, d.objid, d.objsubid FROM pg_catalog.pg_depend d "
                "    WHERE d.refclassid = r.classid AND d.refobjid = r.objid "
                "    AND (r.objsubid = 0 OR d.refobjsubid = r.objsubid) AND d.deptype IN ('n', 'a', 'i', 'P', 'S', 'e', 'x') "
                "    UNION ALL SELECT d.refclassid, d.refobjid, 0 FROM pg_catalog.pg_depend d "
                "    WHERE r.objsubid = 0 AND d.classid = r.classid AND d.objid = r.objid AND d.objsubid = 0 "
                "    AND d.deptype IN ('i', 'e')) x), "
                "whole AS (SELECT DISTINCT r.classid, r.objid FROM reach r WHERE r.objsubid = 0), "
                "cols AS (SELECT DISTINCT r.classid, r.objid, r.objsubid FROM reach r "
                "  LEFT JOIN whole w ON w.classid = r.classid AND w.objid = r.objid "
                "  WHERE r.objsubid <> 0 AND w.objid IS NULL), "
                // Each object's own dependencies, and whether they point into what goes.
                "deps AS (SELECT p.classid, p.objid, p.refclassid, p.refobjid, p.deptype, o.objid IS NOT NULL AS inside, "
                "  (p.classid = p.refclassid AND p.objid = p.refobjid) AS self "
                "  FROM whole w JOIN pg_catalog.pg_depend p ON p.classid = w.classid AND p.objid = w.objid "
                "  AND p.objsubid = 0 LEFT JOIN whole o ON o.classid = p.refclassid AND o.objid = p.refobjid), "
                "flags AS (SELECT d.classid, d.objid, pg_catalog.bool_or(d.deptype IN ('i', 'e', 'P')) AS part, "
                "  pg_catalog.bool_or(d.deptype IN ('a', 'i', 'e', 'P', 'S') AND d.inside AND NOT d.self) AS follows, "
                "  pg_catalog.bool_or(d.deptype = 'a' AND NOT d.inside) AS owned_outside "
                "  FROM deps d GROUP BY d.classid, d.objid), "
                "toast AS (SELECT c.oid FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
                "  WHERE n.nspname LIKE 'pg\\_toast%'), "
                "node AS (SELECT w.classid, w.objid, l.obj, m.objid IS NOT NULL AS copy, "
                "  (coalesce(f.part, false) OR t.oid IS NOT NULL "
                "   OR w.classid IN ('pg_catalog.pg_amop'::regclass, 'pg_catalog.pg_amproc'::regclass)) AS part, "
                "  coalesce(f.follows, false) AS follows, coalesce(f.owned_outside, false) AS owned_outside "
                "  FROM whole w LEFT JOIN listing l ON l.classid = w.classid AND l.objid = w.objid "
                "  LEFT JOIN made m ON m.classid = w.classid AND m.objid = w.objid "
                "  LEFT JOIN flags f ON f.classid = w.classid AND f.objid = w.objid "
                "  LEFT JOIN toast t ON w.classid = 'pg_catalog.pg_class'::regclass AND t.oid = w.objid), "
                "judged AS (SELECT n.*, NOT n.copy AND NOT n.part "
                "  AND (n.obj IS NOT NULL OR $3::text = '2' OR n.owned_outside) AS other FROM node n), "
                // Objects not the copy's that belong to another such: named with it.
                "with_other AS (SELECT DISTINCT d.classid, d.objid FROM deps d JOIN judged o "
                "  ON o.classid = d.refclassid AND o.objid = d.refobjid AND o.other "
                "  WHERE d.deptype IN ('a', 'i', 'e') AND NOT d.self), "
                "stmts AS (SELECT j.classid, j.objid, j.other, i.type, i.identity, "
                "  CASE i.type WHEN 'table' THEN 'DROP TABLE' WHEN 'view' THEN 'DROP VIEW' "
                "    WHEN 'materialized view' THEN 'DROP MATERIALIZED VIEW' WHEN 'sequence' THEN 'DROP SEQUENCE' "
                "    WHEN 'foreign table' THEN 'DROP FOREIGN TABLE' WHEN 'index' THEN 'DROP INDEX' "
                "    WHEN 'composite type' THEN 'DROP TYPE' WHEN 'type' THEN 'DROP TYPE' WHEN 'domain' THEN 'DROP DOMAIN' "
                "    WHEN 'function' THEN 'DROP FUNCTION' WHEN 'procedure' THEN 'DROP PROCEDURE' "
                "    WHEN 'aggregate' THEN 'DROP AGGREGATE' WHEN 'schema' THEN 'DROP SCHEMA' "
                "    WHEN 'extension' THEN 'DROP EXTENSION' WHEN 'operator' THEN 'DROP OPERATOR' "
                "    WHEN 'operator class' THEN 'DROP OPERATOR CLASS' WHEN 'operator family' THEN 'DROP OPERATOR FAMILY' "
                "    WHEN 'collation' THEN 'DROP COLLATION' WHEN 'conversion' THEN 'DROP CONVERSION' "
                "    WHEN 'cast' THEN 'DROP CAST' WHEN 'statistics object' THEN 'DROP STATISTICS' "
                "    WHEN 'trigger' THEN 'DROP TRIGGER' WHEN 'rule' THEN 'DROP RULE' WHEN 'policy' THEN 'DROP POLICY' "
                "    WHEN 'event trigger' THEN 'DROP EVENT TRIGGER' WHEN 'server' THEN 'DROP SERVER' "
                "    WHEN 'foreign-data wrapper' THEN 'DROP FOREIGN DATA WRAPPER' WHEN 'language' THEN 'DROP LANGUAGE' "
                "    WHEN 'text search configuration' THEN 'DROP TEXT SEARCH CONFIGURATION' "
                "    WHEN 'text search dictionary' THEN 'DROP TEXT SEARCH DICTIONARY' "
                "    WHEN 'text search parser' THEN 'DROP TEXT SEARCH PARSER' "
                "    WHEN 'text search template' THEN 'DROP TEXT SEARCH TEMPLATE' "
                "    WHEN 'access method' THEN 'DROP ACCESS METHOD' WHEN 'publication' THEN 'DROP PUBLICATION' END AS verb, "
                "  CASE i.type WHEN 'table constraint' THEN (SELECT pg_catalog.format('ALTER TABLE %s DROP CONSTRAINT %I', "
                "      c.conrelid::pg_catalog.regclass, c.conname) FROM pg_catalog.pg_constraint c WHERE c.oid = j.objid) "
                "    WHEN 'domain constraint' THEN (SELECT pg_catalog.format('ALTER DOMAIN %s DROP CONSTRAINT %I', "
                "      c.contypid::pg_catalog.regtype, c.conname) FROM pg_catalog.pg_constraint c WHERE c.oid = j.objid) "
                "    WHEN 'default value' THEN (SELECT pg_catalog.format('ALTER TABLE %s ALTER COLUMN %I DROP DEFAULT', "
                "      a.adrelid::pg_catalog.regclass, t.attname) FROM pg_catalog.pg_attrdef a "
                "      JOIN pg_catalog.pg_attribute t ON t.attrelid = a.adrelid AND t.attnum = a.adnum "
                "      WHERE a.oid = j.objid) END AS altered "
                "  FROM judged j CROSS JOIN LATERAL pg_catalog.pg_identify_object(j.classid, j.objid, 0) i "
                "  WHERE NOT j.follows) "
                "SELECT 'other' AS role, pg_catalog.pg_describe_object(j.classid, j.objid, 0) AS what, NULL AS stmt, "
                "  NULL AS verb, NULL AS target, 0 AS grp, j.objid::bigint AS ord, 'false' AS copy FROM judged j "
                "  LEFT JOIN with_other h ON h.classid = j.classid AND h.objid = j.objid WHERE j.other AND h.objid IS NULL "
                "UNION ALL SELECT 'other', pg_catalog.pg_describe_object(c.classid, c.objid, c.objsubid), NULL, NULL, NULL, "
                "  0, c.objid::bigint, 'false' FROM cols c "
                "UNION ALL SELECT 'drop', pg_catalog.pg_describe_object(s.classid, s.objid, 0), "
                "  coalesce(s.altered, s.verb || ' ' || s.identity), CASE WHEN s.altered IS NULL THEN s.verb END, "
                "  CASE WHEN s.altered IS NULL THEN s.identity END, "
                "  CASE WHEN s.verb IS NULL OR s.type IN ('trigger', 'rule', 'policy', 'statistics object', 'index') THEN 1 "
                "    WHEN s.type IN ('view', 'materialized view') THEN 2 WHEN s.type IN ('table', 'foreign table') THEN 3 "
                "    WHEN s.type = 'sequence' THEN 4 WHEN s.type IN ('type', 'composite type', 'domain') THEN 6 "
                "    WHEN s.type = 'extension' THEN 7 WHEN s.type = 'schema' THEN 8 ELSE 5 END, "
                "  s.objid::bigint, (NOT s.other)::text FROM stmts s "
                "UNION ALL SELECT 'drop', pg_catalog.pg_describe_object(c.classid, c.objid, c.objsubid), "
                "  (SELECT pg_catalog.format('ALTER TABLE %s DROP COLUMN %I', t.attrelid::pg_catalog.regclass, t.attname) "
                "   FROM pg_catalog.pg_attribute t WHERE t.attrelid = c.objid AND t.attnum = c.objsubid), "
                "  NULL, NULL, 1, c.objid::bigint, 'false' FROM cols c "
                "UNION ALL SELECT 'table', 'c:' || m.objid, NULL, NULL, NULL, 0, m.objid::bigint, 'true' FROM made m "
                "  JOIN pg_catalog.pg_class c ON c.oid = m.objid "
                "  WHERE m.classid = 'pg_catalog.pg_class'::regclass AND c.relkind = 'r' "
                "ORDER BY 1, 6, 7 DESC",
            {text_array_literal(before_copy), after_copy, listing}};
}

Query copied_tables_lock(const std::vector<std::string> &before_copy, const Value &after_copy) {
    // Nothing may come to depend on them (a trigger, an index, a policy,
    // which a DROP without CASCADE would still take) between the plan and
    // the drops.
    return {Stmt::CopiedTablesLock, "write the lock of the copy's tables",
            std::string("WITH ") + listing_cte("'1'") + ", " + kMadeByCopy +
                " SELECT pg_catalog.format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE', "
                "  pg_catalog.string_agg(c.oid::pg_catalog.regclass::text, ', ' ORDER BY c.oid)) AS stmt "
                "FROM made m JOIN pg_catalog.pg_class c ON c.oid = m.objid "
                "WHERE m.classid = 'pg_catalog.pg_class'::regclass AND c.relkind IN ('r', 'p') HAVING count(*) > 0",
            {text_array_literal(before_copy), after_copy}};
}

Query begin_rollback() { return {Stmt::BeginRollback, "begin the rollback of the copy", "BEGIN", {}, true}; }

Query ddl_replication_off() {
    // Spock would otherwise send the node's DROPs to its subscribers.
    return {Stmt::DdlReplicationOff, "keep the drops to this node",
            "SELECT pg_catalog.set_config(name, 'off', true) FROM pg_catalog.pg_settings "
            "WHERE name IN ('spock.enable_ddl_replication', 'spock.include_ddl_repset') AND setting = 'on'",
            {}};
}

Query drop_in_savepoint(const std::string &statement) {
    // `statement` was written by the node (identities quoted by the server).
    return {Stmt::DropInSavepoint, "drop what the copy brought", "SAVEPOINT zodan_drop; " + statement + "; RELEASE SAVEPOINT zodan_drop", {}, true};
}

Query undo_drop() {
    return {Stmt::UndoDrop, "undo a drop that must wait", "ROLLBACK TO SAVEPOINT zodan_drop; RELEASE SAVEPOINT zodan_drop", {}, true};
}

Query commit_rollback() { return {Stmt::CommitRollback, "commit the rollback of the copy", "COMMIT", {}, true}; }
Query abandon_rollback() { return {Stmt::AbandonRollback, "abandon the rollback of the copy", "ROLLBACK", {}, true}; }

Query tables_written_locally(const std::string &copied) {
    // The node writes the statement (%L, regclass quoting); one EXISTS per
    // table, each stopping at its first such row.
    return {Stmt::TablesWrittenLocally, "write the local-writes check",
            "SELECT coalesce(pg_catalog.string_agg(pg_catalog.format('SELECT %L AS rel WHERE EXISTS (SELECT 1 FROM %s t "
            "WHERE (pg_catalog.pg_xact_commit_timestamp_origin(t.xmin)).roident = 0)', c.oid::regclass, c.oid::regclass), "
            "' UNION ALL '), 'SELECT NULL::text AS rel WHERE false') AS stmt "
            "FROM unnest($1::text[]) o JOIN pg_catalog.pg_class c ON o = 'c:' || c.oid WHERE c.relkind = 'r'",
            {copied}};
}

Query repset_create(const std::string &set, bool ins, bool upd, bool del, bool trunc) {
    return {Stmt::RepsetCreate, "create replication set " + set,
            "SELECT spock.repset_create($1, $2::boolean, $3::boolean, $4::boolean, $5::boolean)",
            {set, b(ins), b(upd), b(del), b(trunc)}};
}

Query repset_alter(const std::string &set, bool ins, bool upd, bool del, bool trunc) {
    return {Stmt::RepsetAlter, "alter replication set " + set,
            "SELECT spock.repset_alter($1, $2::boolean, $3::boolean, $4::boolean, $5::boolean)",
            {set, b(ins), b(upd), b(del), b(trunc)}};
}

Query repset_add_table(const std::string &set, const std::string &rel, const Value &columns, const Value &row_filter) {
    return {Stmt::RepsetAddTable, "add " + rel + " to replication set " + set,
            // include_partitions off: the source lists a partitioned table's
            // partitions as rows of their own, and each is added as listed.
            "SELECT spock.repset_add_table($1, $2::regclass, false, $3::text[], $4, false)",
            {set, rel, columns, row_filter}};
}

Query relations_missing(const std::vector<std::string> &rels) {
    return {Stmt::RelationsMissing, "find the relations not here yet",
            "SELECT r AS rel FROM pg_catalog.unnest($1::text[]) r WHERE pg_catalog.to_regclass(r) IS NULL ORDER BY 1",
            {text_array_literal(rels)}};
}

Query repset_remove_table(const std::string &set, const std::string &rel) {
    return {Stmt::RepsetRemoveTable, "remove " + rel + " from replication set " + set, "SELECT spock.repset_remove_table($1, $2::regclass, false)",
            {set, rel}};
}

Query repset_add_seq(const std::string &set, const std::string &seq) {
    return {Stmt::RepsetAddSeq, "add " + seq + " to replication set " + set, "SELECT spock.repset_add_seq($1, $2::regclass, false)",
            {set, seq}};
}

Query repset_remove_seq(const std::string &set, const std::string &seq) {
    return {Stmt::RepsetRemoveSeq, "remove " + seq + " from replication set " + set, "SELECT spock.repset_remove_seq($1, $2::regclass)",
            {set, seq}};
}

Query lag_from(const std::string &origin) {
    return {Stmt::LagFrom, "read lag",
            // Spock's lag can read slightly negative (clocks of two nodes).
            "SELECT greatest(replication_lag_bytes, 0)::text AS bytes, "
            "greatest(replication_lag, interval '0')::text AS lag FROM spock.lag_tracker "
            "WHERE origin_name = $1",
            {origin}};
}

}  // namespace zodan::sql

namespace zodan::sql {

namespace {

// Names inlined into simple-protocol statements (replication commands take
// no parameters) must be plain: Spock's slot names and our origin names are.
const std::string &plain_name(const std::string &name) {
    if (name.empty() || name.size() > 63) throw std::invalid_argument("unusable name \"" + name + "\"");
    for (char c : name)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            throw std::invalid_argument("unusable name \"" + name + "\"");
    return name;
}

const std::string &snapshot_id(const std::string &id) {
    if (id.empty() || id.size() > 64) throw std::runtime_error("unexpected snapshot name from the source");
    for (char c : id)
        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || c == '-'))
            throw std::runtime_error("unexpected snapshot name from the source");
    return id;
}

}  // namespace

Query pause_apply_workers() {
    return {Stmt::PauseApplyWorkers, "pause the apply workers",
            "SELECT spock.pause_apply_workers(), "
            "coalesce(pg_catalog.current_setting('spock.pause_timeout', true), '10') AS seconds",
            {}};
}

Query resume_apply_workers() { return {Stmt::ResumeApplyWorkers, "resume the apply workers", "SELECT spock.resume_apply_workers()", {}}; }

Query transactions_holding_xids(int min_ms) {
    return {Stmt::TransactionsHoldingXids, "list long transactions",
            "SELECT a.pid::text AS pid, pg_catalog.format('application %s, database %s, user %s', "
            "  coalesce(nullif(a.application_name, ''), '?'), coalesce(a.datname::text, '?'), "
            "  coalesce(a.usename::text, '?')) AS what, "
            "  pg_catalog.floor(extract(epoch FROM pg_catalog.clock_timestamp() - a.xact_start))::bigint::text AS seconds "
            "FROM pg_catalog.pg_stat_activity a "
            "WHERE a.backend_xid IS NOT NULL AND a.pid <> pg_catalog.pg_backend_pid() "
            "AND a.xact_start < pg_catalog.clock_timestamp() - pg_catalog.make_interval(secs => $1::int / 1000.0) "
            "UNION ALL SELECT NULL, pg_catalog.format('prepared transaction %L, database %s', p.gid, p.database), "
            "  pg_catalog.floor(extract(epoch FROM pg_catalog.clock_timestamp() - p.prepared))::bigint::text "
            "FROM pg_catalog.pg_prepared_xacts p ORDER BY 3 DESC",
            {std::to_string(min_ms)}};
}

Query create_slot_exporting_snapshot(const std::string &slot) {
    return {Stmt::CreateSlotExportingSnapshot, "create slot " + slot + " with its snapshot",
            "CREATE_REPLICATION_SLOT \"" + plain_name(slot) + "\" LOGICAL spock_output (SNAPSHOT 'export')", {}, true,
            slot};
}

Query begin_in_snapshot(const std::string &snapshot) {
    return {Stmt::BeginInSnapshot, "open the copy's snapshot",
            "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SET TRANSACTION SNAPSHOT '" + snapshot_id(snapshot) +
                "'; SET LOCAL DateStyle = ISO; SET LOCAL IntervalStyle = postgres; SET LOCAL extra_float_digits = 3",
            {}, true};
}

Query begin_in_snapshot_again(const std::string &snapshot) {
    Query q = begin_in_snapshot(snapshot);
    q.sql = "ROLLBACK; " + q.sql;
    return q;
}

Query rollback() { return {Stmt::Rollback, "end the transaction", "ROLLBACK", {}, true}; }
Query commit() { return {Stmt::Commit, "commit the copy", "COMMIT", {}, true}; }

namespace {


// A commit timestamp as text that reads back the same whatever the
// session's DateStyle and TimeZone: UTC, ISO order, microseconds.
std::string utc_text(const std::string &expr) {
    return "pg_catalog.to_char((" + expr + ") AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'";
}

}  // namespace


Query server_major() {
    return {Stmt::ServerMajor, "read the server's major version",
            "SELECT (pg_catalog.current_setting('server_version_num')::int / 10000)::text AS major", {}};
}

Query database_encoding() {
    return {Stmt::DatabaseEncoding, "read the database's encoding",
            "SELECT pg_catalog.pg_encoding_to_char(d.encoding)::text AS encoding FROM pg_catalog.pg_database d "
            "WHERE d.datname = pg_catalog.current_database()",
            {}};
}

Query sequence_values(const std::vector<std::string> &skip_schema) {
    return {Stmt::SequenceValues, "read the sequences",
            "SELECT pg_catalog.format('SELECT pg_catalog.setval(%L, %s, true)', "
            "  pg_catalog.format('%I.%I', s.schemaname, s.sequencename), s.last_value) AS stmt "
            "FROM pg_catalog.pg_sequences s WHERE s.last_value IS NOT NULL AND s.schemaname <> 'spock' "
            "AND s.schemaname <> ALL ($1::text[]) ORDER BY 1",
            {text_array_literal(skip_schema)}};
}

Query create_origin(const std::string &origin) {
    return {Stmt::CreateOrigin, "create origin " + origin, "SELECT pg_catalog.pg_replication_origin_create($1)", {origin}};
}

Query setup_origin_session(const std::string &origin) {
    return {Stmt::SetupOriginSession, "mark the copy with origin " + origin, "SELECT pg_catalog.pg_replication_origin_session_setup($1)",
            {origin}};
}

Query mark_copied_rows() {
    return {Stmt::MarkCopiedRows, "date the copied rows", "SELECT pg_catalog.pg_replication_origin_xact_setup('0/0', 'epoch')", {}};
}

Query replica_role() { return {Stmt::ReplicaRole, "turn triggers off", "SET session_replication_role = replica", {}, true}; }

Query begin_copy_target() { return {Stmt::BeginCopyTarget, "begin the copy", "BEGIN", {}, true}; }

Query reset_origin_session() {
    return {Stmt::ResetOriginSession, "end the copy's origin",
            "SELECT pg_catalog.pg_replication_origin_xact_reset(), pg_catalog.pg_replication_origin_session_reset()",
            {}};
}

Query copy_origins() {
    return {Stmt::CopyOrigins, "list the copy's origins",
            "SELECT roname::text AS roname FROM pg_catalog.pg_replication_origin WHERE roname LIKE "
            "'zodan\\_copy\\_' || (SELECT d.oid FROM pg_catalog.pg_database d "
            "  WHERE d.datname = pg_catalog.current_database()) || '\\_%' ORDER BY 1",
            {}};
}

Query database_oid() {
    return {Stmt::DatabaseOid, "read the database's oid",
            "SELECT d.oid::text AS oid FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database()", {}};
}

Query window_mark_time(const std::string &xid, int min_ms) {
    // The mark committed in the statement before; the look for long
    // transactions is transactions_holding_xids(min_ms) as a count (the
    // slot's own wait names them, when there are any).
    return {Stmt::WindowMarkTime, "read the join window's start and look for long transactions",
            "SELECT " + utc_text("pg_catalog.pg_xact_commit_timestamp(pg_catalog.xid($2::xid8))") +
                " AS ts, (SELECT count(*) FROM (" + transactions_holding_xids(min_ms).sql + ") q)::text AS long",
            {std::to_string(min_ms), xid.empty() ? Value() : Value(xid)}};
}


Query window_rows(const std::vector<std::string> &selects, const std::string &from) {
    // The origin as Spock compares it: S's own commits carry none (0) on S,
    // and on N they arrive from S under S's node id.
    std::string all;
    for (size_t i = 0; i < selects.size(); ++i) all += (i ? " UNION ALL " : "") + selects[i];
    return {Stmt::WindowRows, "read the rows of the join window",
            "SELECT w.t::text AS t, " + utc_text("w.ts") + " AS ts, "
            "  CASE WHEN o.roident = 0 THEN (SELECT node_id FROM spock.local_node) ELSE o.roident END::text AS origin, "
            "  w.key::text AS key "
            "FROM (" + all + ") w, LATERAL spock.xact_commit_timestamp_origin(w.xmin) o",
            {from}};
}

Query restamp_session() {
    // Triggers off, as for the copy. Each statement commits on its own; a
    // crash before the step is recorded redoes the copy, and the step's
    // record (a synchronous commit) flushes these with it.
    return {Stmt::RestampSession, "prepare the restamping", "SET session_replication_role = replica; SET synchronous_commit = off", {}, true};
}

Query restamp(const std::vector<std::string> &statements, const std::vector<std::string> &origins,
              const std::vector<std::string> &stamps, const std::vector<std::string> &entry_xact,
              const std::vector<std::string> &entry_table, const std::vector<std::string> &entry_keys) {
    // The transactions are committed inside the procedure: a round trip per
    // transaction would cost a busy node milliseconds each.
    return {Stmt::Restamp, "restamp rows of the join window",
            "CALL spock.zodan_restamp($1::text[], $2::oid[], $3::timestamptz[], $4::int[], $5::int[], $6::jsonb[], NULL)",
            {text_array_literal(statements), text_array_literal(origins), text_array_literal(stamps),
             text_array_literal(entry_xact), text_array_literal(entry_table), text_array_literal(entry_keys)}};
}

Query restore_settings() {
    return {Stmt::RestoreSettings, "read the settings the restore needs",
            "SELECT pg_catalog.string_agg(pg_catalog.format('-c %s=off', name), ' ' ORDER BY name) AS options "
            "FROM pg_catalog.pg_settings WHERE name IN ('spock.enable_ddl_replication', 'spock.include_ddl_repset')",
            {}};
}

Query create_dump_function() {
    // One round trip for both: the setting off for the session (the
    // function is made here and called in the next statement), then the
    // function. The symbol carries the function's interface version: a
    // library without it (another release, or none) fails here, before
    // any call. Simple protocol, as it holds two statements and no value.
    return {Stmt::CreateDumpFunction, "make zodan's structure dump function for this session",
            "SELECT pg_catalog.set_config(name, 'off', false) FROM pg_catalog.pg_settings "
            "WHERE name IN ('spock.enable_ddl_replication', 'spock.include_ddl_repset'); "
            "CREATE OR REPLACE FUNCTION pg_temp.zodan_dump_structure(snapshot text, skip_schema text[], "
            "library_version text, max_server_major int) RETURNS bytea LANGUAGE c STRICT VOLATILE "
            "AS '$libdir/zodan', 'zodan_dump_structure_v1'",
            {},
            true};
}

Query dump_structure(const std::string &snapshot, const std::vector<std::string> &skip_schema,
                     const std::string &library_version, int max_server_major) {
    return {Stmt::DumpStructure, "dump the structure on the source",
            "SELECT pg_temp.zodan_dump_structure($1, $2::text[], $3, $4::int) AS archive",
            {snapshot, text_array_literal(skip_schema), library_version, std::to_string(max_server_major)}};
}

}  // namespace zodan::sql

namespace zodan::sql {

Query verify_tables() {
    return {Stmt::VerifyTables, "list the tables to compare",
            "WITH rel AS (SELECT DISTINCT t.set_reloid::oid AS relid FROM spock.replication_set_table t "
            "  JOIN spock.replication_set rs ON rs.set_id = t.set_id "
            "  WHERE rs.set_nodeid = (SELECT node_id FROM spock.local_node)) "
            "SELECT r.relid::regclass::text AS rel, "
            "  greatest((SELECT coalesce(sum(greatest(c2.reltuples, 0)), 0) FROM pg_catalog.pg_partition_tree(r.relid) p "
            "    JOIN pg_catalog.pg_class c2 ON c2.oid = p.relid), 0)::bigint::text AS rows, "
            "  k.col AS key_col, k.type AS key_type "
            "FROM rel r JOIN pg_catalog.pg_class c ON c.oid = r.relid "
            // The primary key a table can be cut by: one column of a base
            // type without a collation (integers, uuid, dates and times,
            // ...), which every node orders alike; a text key's order is its
            // collation's, which two nodes need not share, and a row could
            // fall into another interval on each. NULL: read whole.
            "LEFT JOIN LATERAL (SELECT pg_catalog.quote_ident(a.attname) AS col, "
            "  pg_catalog.format_type(a.atttypid, NULL) AS type "
            "  FROM pg_catalog.pg_index i JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid "
            "    AND a.attnum = i.indkey[0] "
            "  JOIN pg_catalog.pg_type ty ON ty.oid = a.atttypid "
            "  WHERE i.indrelid = r.relid AND i.indisprimary AND i.indnatts = 1 AND ty.typtype = 'b' "
            "  AND ty.typcollation = 0) k ON true "
            "WHERE NOT (c.relispartition AND EXISTS (SELECT 1 FROM pg_catalog.pg_partition_ancestors(r.relid) x "
            "  WHERE x.relid <> r.relid AND x.relid IN (SELECT relid FROM rel))) ORDER BY 1",
            {}};
}


}  // namespace zodan::sql

// --- reads merged into one round trip (docs/protocol.md, "Round trips")
namespace zodan::sql {

namespace {

// A one-row statement's column, and a many-row statement's column as a
// text[] in its own order, each as one column of a larger SELECT: the
// statement is the same text as when it goes alone.
std::string scalar_of(const Query &q, const std::string &column) {
    return "(SELECT q." + column + " FROM (" + q.sql + ") q LIMIT 1)";
}
std::string array_of(const Query &q, const std::string &column) {
    return "(SELECT coalesce(pg_catalog.array_agg(q." + column + " ORDER BY q." + column + "), '{}')::text FROM (" +
           q.sql + ") q)";
}

// Several statements' rows in one result: each row tagged with its part,
// the columns of the others NULL; ordered by part, then as each orders its
// own (`order`, the columns each sorts by).
struct Part {
    std::string name;
    Query query;
};
std::string tagged_union(const std::vector<Part> &parts, const std::vector<std::string> &columns,
                         const std::vector<std::string> &order) {
    std::string sql;
    for (size_t i = 0; i < parts.size(); ++i) {
        const std::vector<std::string> &own = part_columns(parts[i].query.id);
        std::string select = "SELECT " + std::to_string(i) + " AS part_no, '" + parts[i].name + "'::text AS part";
        for (const std::string &c : columns)
            select += ", " + (std::find(own.begin(), own.end(), c) != own.end() ? "q." + c : "NULL::text") + " AS " + c;
        sql += (i ? " UNION ALL " : "") + select + " FROM (" + parts[i].query.sql + ") q";
    }
    std::string by = "part_no";
    for (const std::string &c : order) by += ", " + c;
    return "SELECT * FROM (" + sql + ") u ORDER BY " + by;
}

}  // namespace

const std::vector<std::string> &part_columns(Stmt id) {
    static const std::vector<std::string> none, local_node{"node_name"}, nodes{"node_name", "dsn"},
        sets{"set_name", "ins", "upd", "del", "trunc"}, tables{"set_name", "rel", "att_list", "row_filter"},
        sequences{"set_name", "seq"}, statuses{"subscription_name", "status", "provider_node"},
        progress{"origin", "lsn"}, version{"extversion"}, journal{"here"};
    switch (id) {
    case Stmt::LocalNodeName: return local_node;
    case Stmt::NodesWithDsn: return nodes;
    case Stmt::LocalSets: return sets;
    case Stmt::LocalSetTables: return tables;
    case Stmt::LocalSetSequences: return sequences;
    case Stmt::SubscriptionStatus: return statuses;
    case Stmt::AppliedThrough: return progress;
    case Stmt::SpockVersion: return version;
    case Stmt::PhysicalJournalHere: return journal;
    default: return none;
    }
}

QueryResult part_of(const QueryResult &merged, const std::string &part, Stmt id) {
    const std::vector<std::string> &columns = part_columns(id);
    std::vector<std::vector<Value>> rows;
    for (size_t i = 0; i < merged.size(); ++i) {
        if (merged.text(i, "part") != part) continue;
        std::vector<Value> row;
        for (const std::string &c : columns) row.push_back(merged.at(i, c));
        rows.push_back(std::move(row));
    }
    return QueryResult(columns, rows);
}

Query source_view() {
    return {Stmt::SourceView, "read the local Spock node and the cluster's nodes",
            tagged_union({{"local", local_node_name()},
                          {"nodes", nodes_with_dsn()},
                          {"version", spock_version()},
                          {"journal", journal_here()}},
                         {"node_name", "dsn", "extversion", "here"}, {"node_name"}),
            {}};
}

Query member_view() {
    return {Stmt::MemberView, "read the local Spock node",
            tagged_union({{"local", local_node_name()}, {"version", spock_version()}, {"journal", journal_here()}},
                         {"node_name", "extversion", "here"}, {"node_name"}),
            {}};
}

Query large_objects() {
    // lolor.node is unset (NULL) where lolor never defined it.
    return {Stmt::LargeObjects, "read large objects and lolor",
            "SELECT (SELECT count(*) FROM pg_catalog.pg_largeobject_metadata) AS native, "
            "EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'lolor') AS lolor_installed, "
            "EXISTS (SELECT 1 FROM pg_catalog.pg_available_extensions WHERE name = 'lolor') AS lolor_available, "
            "(SELECT count(*) FROM spock.replication_set_table t JOIN spock.replication_set rs ON rs.set_id = t.set_id "
            "  JOIN pg_catalog.pg_class c ON c.oid = t.set_reloid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
            "  WHERE n.nspname = 'lolor' AND rs.set_nodeid = (SELECT node_id FROM spock.local_node)) AS lolor_replicated, "
            "pg_catalog.current_setting('lolor.node', true) AS lolor_node",
            {}};
}

Query precondition_reads(const std::string &new_name, bool on_new_node) {
    // Each read is its statement's own text; $1 (the new node's name) is
    // the parameter of node_exists and node_id_taken alike. The user
    // tables only where they are checked ($2): the source's may be many.
    return {Stmt::PreconditionReads, "read what the checks before a join need",
            "SELECT * FROM (" + local_identity().sql + ") ident, (" + node_capacity().sql + ") cap, (" +
                wal_retention().sql + ") wal, (" +
                large_objects().sql + ") lo, (SELECT " + scalar_of(database_encoding(), "encoding") + " AS encoding, " +
                array_of(login_roles(), "rolname") + " AS login_roles, " + array_of(roles(), "rolname") + " AS roles, " +
                "CASE WHEN $2::boolean THEN " + array_of(user_tables(), "rel") + " END AS user_tables, " +
                array_of(disabled_subscriptions(), "sub_name") + " AS disabled_subs, " +
                scalar_of(node_exists(new_name), "n") + " AS known, " +
                scalar_of(node_id_taken(new_name), "node_name") + " AS taken_name, " +
                scalar_of(node_id_taken(new_name), "node_id") + " AS taken_id, " +
                scalar_of(local_node_name(), "node_name") + " AS local_node, " +
                scalar_of(subscription_count(), "n") + " AS subscriptions, " +
                scalar_of(replication_set_count(), "n") + " AS sets) chk",
            {new_name, b(on_new_node)}};
}

Query local_sets_all() {
    return {Stmt::LocalSetsAll, "read replication sets, their tables and sequences",
            tagged_union({{"sets", local_sets()}, {"tables", local_set_tables()}, {"sequences", local_set_sequences()}},
                         {"set_name", "ins", "upd", "del", "trunc", "rel", "att_list", "row_filter", "seq"},
                         {"set_name", "rel", "seq"}),
            {}};
}

Query local_sets_and_slot(const std::string &slot, bool mark) {
    // The mark (join_window.hpp) only where the slot is still to be made:
    // a commit of its own, this statement's transaction given an xid.
    return {Stmt::LocalSetsAndSlot,
            std::string(mark ? "read replication sets, look up slot " + slot + " and mark the start of the join window"
                             : "read replication sets and look up slot " + slot),
            "SELECT " + array_of(local_sets(), "set_name") + " AS sets, (SELECT count(*) FROM (" + slot_exists(slot).sql +
                ") q) AS slots, CASE WHEN $2::boolean AND NOT EXISTS (" + slot_exists(slot).sql +
                ") THEN pg_catalog.pg_current_xact_id()::text END AS xid",
            {slot, b(mark)}};
}

Query mesh_view() {
    return {Stmt::MeshView, "read the cluster's nodes and subscription status",
            tagged_union({{"nodes", nodes_with_dsn()}, {"subscriptions", subscription_status()}},
                         {"node_name", "dsn", "subscription_name", "status", "provider_node"},
                         {"node_name", "subscription_name"}),
            {}};
}

Query progress_and_status(const std::vector<std::string> &origins) {
    Query progress = applied_through(origins);
    return {Stmt::ProgressAndStatus, "read replication progress and subscription status",
            tagged_union({{"progress", progress}, {"subscriptions", subscription_status()}},
                         {"origin", "lsn", "subscription_name", "status", "provider_node"},
                         {"origin", "subscription_name"}),
            progress.params};
}

Query sub_create_if_absent(const std::string &name, const std::string &provider_dsn,
                           const std::vector<std::string> &sets) {
    // The select list runs only for the row the filter keeps: an existing
    // subscription of that name (made by an earlier call) is left alone.
    Query q = sub_create(name, provider_dsn, sets, false, false, false, {});
    q.id = Stmt::SubCreateIfAbsent;
    q.sql += " WHERE NOT EXISTS (SELECT 1 FROM spock.subscription WHERE sub_name = $1)";
    return q;
}

Query sub_create_then_enable(const std::string &name, const std::string &provider_dsn,
                             const std::vector<std::string> &sets) {
    // The aggregate reads all of sub_create_if_absent before the outer
    // select list runs: sub_enable comes after sub_create, and finds the
    // subscription by name in a catalog snapshot of its own, which sees
    // what sub_create made (sub_create ends with a CommandCounterIncrement).
    // Made disabled, Spock marks it synchronized and makes its origin
    // (spock_functions.c, "Zero-Downtime-Add-Node"); enabled in the same
    // transaction, its worker starts only after the commit.
    Query q = sub_create_if_absent(name, provider_dsn, sets);
    q.id = Stmt::SubCreateThenEnable;
    q.name = "create subscription " + name + " and enable it";
    q.sql = "SELECT m.made, spock.sub_enable($1, true) AS enabled FROM (SELECT count(c.sub_id)::text AS made FROM (" + q.sql +
            ") c) m";
    return q;
}

}  // namespace zodan::sql
