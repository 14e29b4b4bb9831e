// The statements of the protocol that the product sends to Spock's nodes:
// its whole use of Spock's SQL surface can be read here. (The journal,
// journal.cpp, the join lock, join_lock.cpp, and a connection's session
// set-up, pg/libpq_connection.cpp, send their own.) Values are always
// parameters; names that must become SQL are quoted by the server
// (quote_ident, format's %I and %L) inside the statement, or the statement
// is written by the node itself (run_generated).
#pragma once

#include <string>
#include <vector>

#include "core/text/lsn.hpp"
#include "core/remote.hpp"

namespace zodan::sql {

Query spock_version();
Query local_identity();            // sysid, db
// Whether this database has zodan's journal (a fence of a physical add is
// recorded in it): here.
Query journal_here();
Query local_node_name();           // node_name or no row
Query nodes_with_dsn();            // node_name, dsn
Query node_exists(const std::string &node_name);
// The existing node whose id equals the one Spock derives from `node_name`: node_name, node_id.
Query node_id_taken(const std::string &node_name);
Query disabled_subscriptions();    // sub_name of every disabled subscription
Query user_tables();               // qualified names of user tables
Query login_roles();               // rolname of login roles
Query roles();                     // rolname of all roles
Query subscription_count();
Query replication_set_count();
Query local_sets();                // set_name, replicate_* of the local node's sets
Query local_set_tables();          // set_name, rel, att_list, row_filter
Query local_set_sequences();       // set_name, seq
Query schemas_to_skip();           // schemas other than public/spock/system/extensions
Query node_create(const std::string &name, const std::string &dsn, const Value &location, const Value &country,
                  const std::string &info_json);
Query slot_name(const std::string &subscriber_db, const std::string &provider_node, const std::string &subscription);
Query create_slot(const std::string &slot);
// create_slot(slot), then sync_event() in the same statement, after the
// slot's start: lsn, sync_lsn.
Query create_slot_then_sync_event(const std::string &slot);
Query slot_exists(const std::string &slot);
Query advance_slot(const std::string &slot, Lsn lsn);
Query drop_origin_if_exists(const std::string &origin);
Query advance_origin(const std::string &origin, Lsn lsn);
// Each origin to its LSN, in one statement.
Query advance_origins(const std::vector<std::string> &origins, const std::vector<Lsn> &lsns);
Query table_shapes();  // rel, cols, key of every table in the local sets
// A statement a node wrote for us (quoting done there), run as it is;
// `subject` the table (or other object) it acts on, when it has one.
Query run_generated(Stmt id, const std::string &what, const std::string &statement, const std::string &subject = "");
Query node_capacity();     // settings and use, for the headroom check
// max_slot_wal_keep_size in bytes (keep_bytes, -1: no limit) and where WAL
// is written now (wal, bytes from 0/0).
Query wal_retention();
Query sync_event();
// On a subscriber: per origin node, the position of its subscription from
// it (the replication origin's remote_lsn): origin, lsn.
Query applied_through(const std::vector<std::string> &origins);
Query subscription_status();       // subscription_name, status, provider_node
// Ends the processes named for `subscription`'s apply worker that have run
// for over two seconds; asked only while Spock reports it down, i.e. lists no
// worker for it (see replication_waits.cpp): pid.
Query end_lost_apply_workers(const std::string &subscription);
Query apply_restart_delay();  // ms: the longer of Spock's two apply-worker restart delays
Query sub_create(const std::string &name, const std::string &provider_dsn, const std::vector<std::string> &sets,
                 bool sync_structure, bool sync_data, bool enabled, const std::vector<std::string> &skip_schema);
// Disabled subscriptions, none copying, one per (name, provider DSN, set
// list), made in this order in one statement.
Query sub_create_disabled(const std::vector<std::string> &names, const std::vector<std::string> &provider_dsns,
                          const std::vector<std::vector<std::string>> &set_lists);
Query enable_disabled(const std::vector<std::string> &subscriptions);  // sub_name of each enabled
Query sub_drop(const std::string &name);
Query sub_disable(const std::string &name);
Query subscription_workers(const std::string &name);            // n: Spock workers (apply, sync) of it
Query terminate_subscription_workers(const std::string &name);
// On the new node: Spock's manager of this database (pid, or none), the
// apply workers running (pids), how many enabled subscriptions have none
// yet (missing; their names in `without`), and whether the manager is busy
// starting workers (manager_busy: it holds Spock's local_node lock).
Query apply_workers();
// Per subscription (the i-th of `subscriptions`, from providers[i], living
// in database subscriber_dbs[i]), in order: sub, slot (the subscription's
// when it exists here, else the one Spock will give it), present (whether
// it exists here), origin_left (whether an origin of that slot's name does).
Query subscription_slots(const std::vector<std::string> &subscriber_dbs, const std::vector<std::string> &providers,
                         const std::vector<std::string> &subscriptions);
// Subscriptions here whose provider or subscriber is the node named:
// sub_name, provider, subscriber, slot.
Query subscriptions_involving(const std::string &node_name);
Query node_drop(const std::string &name);
// Which database a session is in, as a text that no other database, of this
// instance or of any other (a physical copy included), gives: identity
// (postmaster start and database oid); and the Spock node of that database,
// when there is one: node_name, node_id. Written to be read in the caller's
// own session too (every name and operator qualified).
Query node_identity();
// Every node the catalog lists, with its id and one DSN: node_name,
// node_id, dsn. Qualified like node_identity, for the same reason.
Query cluster_nodes();
Query slots_named(const std::vector<std::string> &slots);     // slot_name, active_pid
Query terminate_slot_user(const std::string &slot);  // stops a walsender still streaming from it
Query drop_slot(const std::string &slot);             // only when inactive
Query spock_slots();                                  // every spk_ slot: slot_name, active_pid
// roname of those of `origins` that exist and that no subscription uses
Query unused_origins_among(const std::vector<std::string> &origins);
Query drop_origin(const std::string &origin);
Query repset_drop(const std::string &set);
// The user objects here, as "kind:oid": schemas, relations, routines,
// types, and every other object of its own (obj; see listing_cte in
// spock_sql.cpp), not system, temporary or extension ones. Its version,
// kObjectListing, is recorded with it: a journal without one holds version 1
// (schemas, relations, routines and types only).
Query user_objects();
extern const char *const kObjectListing;
// What rolling back a copy takes on this node: the objects not in
// `before_copy` (and, when known, in `after_copy`), listed in version
// `listing`, what depends on them, and how to drop them without CASCADE:
// role ('other': an object not made by the copy that would go, named;
// 'drop': a statement; 'table': a copied table as "c:<oid>"), what, stmt,
// verb and target (a DROP that takes a list), grp (the order to try), copy.
Query copy_rollback_plan(const std::vector<std::string> &before_copy, const Value &after_copy,
                         const std::string &listing);
// LOCK TABLE of the copy's tables (stmt; no row when there are none).
Query copied_tables_lock(const std::vector<std::string> &before_copy, const Value &after_copy);
// The rollback's transaction: one DROP at a time in a savepoint, so that
// one that something still depends on waits for a later pass.
Query begin_rollback();
Query ddl_replication_off();
Query drop_in_savepoint(const std::string &statement);
Query undo_drop();
Query commit_rollback();
Query abandon_rollback();
// The tables among `copied` holding rows written on this node itself (not
// by the copy, not by replication: their commit has no origin): rel.
Query tables_written_locally(const std::string &copied);
Query repset_create(const std::string &set, bool ins, bool upd, bool del, bool trunc);
Query repset_alter(const std::string &set, bool ins, bool upd, bool del, bool trunc);
Query repset_add_table(const std::string &set, const std::string &rel, const Value &columns, const Value &row_filter);
// Which of these relation names (quoted, schema-qualified) do not resolve here.
Query relations_missing(const std::vector<std::string> &rels);
Query repset_remove_table(const std::string &set, const std::string &rel);
Query repset_add_seq(const std::string &set, const std::string &seq);
Query repset_remove_seq(const std::string &set, const std::string &seq);
Query lag_from(const std::string &origin);  // replication_lag_bytes, replication_lag

}  // namespace zodan::sql

// --- the copy point and the product's own copy (copy_point.cpp, copy_data.cpp)
namespace zodan::sql {

// seconds: spock.pause_timeout on this node (10 when unknown), read as the pause begins.
Query pause_apply_workers();
Query resume_apply_workers();
// Sessions of this instance whose open transaction holds an xid for longer
// than `min_ms` (a slot creation waits for each), and prepared
// transactions: pid, what ("application x, database d"), seconds.
Query transactions_holding_xids(int min_ms);
// The replication command creating `slot` (Spock's output plugin) with an
// exported snapshot: slot_name, consistent_point, snapshot_name, output_plugin.
Query create_slot_exporting_snapshot(const std::string &slot);
// On a source session: a read-only REPEATABLE READ transaction in `snapshot`.
Query begin_in_snapshot(const std::string &snapshot);
// The same after ending the transaction the session is in, in one round trip.
Query begin_in_snapshot_again(const std::string &snapshot);
Query rollback();
Query commit();
// On the source, in the snapshot: one row per COPY to run, largest first:
// job (for messages: the table, and which part of it), rel (the table
// the job fills), bytes (estimate), out_sql, in_sql.
// Tables of the local node's replication sets outside `skip_schema` and
// spock; a partitioned table as its leaves (or, when row-filtered, as one
// filtered query); a table larger than 1/streams of the total (and 64 MB)
// split into block ranges. Rows go in binary where both ends read it alike
// (same major version as `new_node_major`, built-in types only).
Query copy_job_list(const std::vector<std::string> &skip_schema, int streams, int new_node_major);
Query server_major();  // major
Query database_encoding();  // encoding: the name of the database's server encoding

// On the source, in the snapshot: setval statements for its sequences.
Query sequence_values(const std::vector<std::string> &skip_schema);
// On the new node: a session that copies as Spock's sync does: its rows
// marked with a replication origin of their own and the timestamp 'epoch'
// (any later change from any node wins over them), triggers off.
Query create_origin(const std::string &origin);
Query setup_origin_session(const std::string &origin);
Query mark_copied_rows();  // pg_replication_origin_xact_setup('0/0', 'epoch')
Query replica_role();
Query begin_copy_target();
Query reset_origin_session();
Query copy_origins();  // roname of origins a copy into this database left
Query database_oid();  // oid of this database
// The join window (docs/protocol.md, "Late conflicts"). On an O, before
// its slot for N: a commit of its own (local_sets_and_slot's xid), then
// that commit's timestamp as UTC text (ts; NULL where none is recorded or
// `xid` is ""), with long, the count of transactions_holding_xids(min_ms).
Query window_mark_time(const std::string &xid, int min_ms);
// On the source, in the snapshot: per copied table with a key that
// identifies its rows: t (its number), rel, select_sql (its rows committed
// at or after $1: t, xmin, ts, key as a jsonb array of text) and
// update_sql (on N: an UPDATE rewriting the rows whose keys are in $1, a
// jsonb array of such keys).
Query window_tables(const std::vector<std::string> &skip_schema);
// Runs the tables' select_sql at once from `from`: t, ts (UTC text),
// origin (a Spock node id, S's for S's own commits), key.
Query window_rows(const std::vector<std::string> &selects, const std::string &from);
// On N, in a session with a replication origin set up: settings, then
// spock.zodan_restamp: transaction x (1-based) commits with origins[x] and
// stamps[x], running entry i (in x = entry_xact[i]) as
// statements[entry_table[i]] with entry_keys[i]. rewritten: rows.
Query restamp_session();
Query restamp(const std::vector<std::string> &statements, const std::vector<std::string> &origins,
              const std::vector<std::string> &stamps, const std::vector<std::string> &entry_xact,
              const std::vector<std::string> &entry_table, const std::vector<std::string> &entry_keys);
// Settings pg_restore on the new node must run with (PGOPTIONS), as
// "-c name=value" words: DDL replication off where Spock has it.
Query restore_settings();
// The structure dumped on the source (docs/protocol.md, "The structure copy
// across the link"), over the copy's own session to it, in two round
// trips: DDL replication off in that session (the function must not reach
// the others) and zodan's dump function made for that session alone (a
// temporary function of zodan's library there: the source needs the
// library, not CREATE EXTENSION); then the call: archive, the custom-format archive (bytea) of
// pg_dump --schema-only run on the source in `snapshot`, without spock and
// `skip_schema`. The library there refuses unless it is `library_version`
// and its server's major is at most `max_server_major` (the new node's,
// whose pg_restore must read the archive).
Query create_dump_function();
Query dump_structure(const std::string &snapshot, const std::vector<std::string> &skip_schema,
                     const std::string &library_version, int max_server_major);

}  // namespace zodan::sql

// --- the post-join comparison (verify_data.cpp)
namespace zodan::sql {

// On the source: the tables of the local node's sets that the comparison
// reads (a partitioned table whole, its partitions not again): rel, rows
// (an estimate).
Query verify_tables();
// On the source, for each table of `rels` cut into the key ranges at the
// same place of `ranges`, the two statements it runs on both nodes, written
// there: t (the table's place in `rels`, from 1), sums (range, n, hash of
// every range, or of those in $1::int[]) and rows (k, h of the rows in the
// ranges $1::int[]). The key is the primary key, or the whole row.
Query verify_statements(const std::vector<std::string> &rels, const std::vector<int> &ranges);

}  // namespace zodan::sql

// --- reads merged into one round trip (docs/protocol.md, "Round trips"):
// what separate statements read, in one, each part as that statement
// alone reads it (across regions a node's every round trip costs the
// link's delay).
namespace zodan::sql {

// The columns of a statement's rows where it is a part of a merged read
// (LocalNodeName, NodesWithDsn, LocalSets, LocalSetTables,
// LocalSetSequences, SubscriptionStatus, AppliedThrough, SpockVersion,
// PhysicalJournalHere).
const std::vector<std::string> &part_columns(Stmt id);
// Of a merged read's rows, those of one part (the part's name as the
// merged statement below gives it), as statement `id` alone would return
// them.
QueryResult part_of(const QueryResult &merged, const std::string &part, Stmt id);

// local_node_name() ("local"), nodes_with_dsn() ("nodes"),
// spock_version() ("version") and journal_here() ("journal").
Query source_view();
// local_node_name() ("local"), spock_version() ("version") and
// journal_here() ("journal").
Query member_view();
// One row per node: its own large objects (native), and lolor as far as a
// join needs it (lolor_installed, lolor_available t/f, lolor_replicated:
// lolor's tables in the local sets, lolor_node: NULL where unset).
Query large_objects();
// One row: every column of local_identity(), node_capacity(),
// wal_retention() and
// large_objects(); encoding (database_encoding()); login_roles, roles,
// user_tables, disabled_subs (text[] of login_roles(), roles(),
// user_tables() (NULL unless on_new_node), disabled_subscriptions());
// known (node_exists(new_name));
// taken_name, taken_id (node_id_taken(new_name), NULL where free);
// local_node (local_node_name(), NULL where none); subscriptions and sets
// (subscription_count(), replication_set_count()).
Query precondition_reads(const std::string &new_name, bool on_new_node);
// local_sets() ("sets"), local_set_tables() ("tables") and
// local_set_sequences() ("sequences").
Query local_sets_all();
// One row: sets, the text[] of local_sets()' set names; slots, the rows
// slot_exists(slot) finds (0 or 1); xid, with `mark` and no such slot, the
// xid of the statement's own transaction, which commits the join window's
// mark (sql::window_mark_time), else NULL.
Query local_sets_and_slot(const std::string &slot, bool mark = false);
// nodes_with_dsn() ("nodes") and subscription_status() ("subscriptions").
Query mesh_view();
// applied_through(origins) ("progress") and subscription_status()
// ("subscriptions"): a wait's poll in one round trip, the status there
// to tell a path that cannot deliver.
Query progress_and_status(const std::vector<std::string> &origins);
// sub_create(name, provider_dsn, sets), disabled, no sync, unless a
// subscription of that name exists: sub_id, or no row.
Query sub_create_if_absent(const std::string &name, const std::string &provider_dsn,
                           const std::vector<std::string> &sets);
// sub_create_if_absent, then the subscription enabled, in one statement:
// made (1 where it was made now, else 0), enabled.
Query sub_create_then_enable(const std::string &name, const std::string &provider_dsn,
                             const std::vector<std::string> &sets);

}  // namespace zodan::sql
