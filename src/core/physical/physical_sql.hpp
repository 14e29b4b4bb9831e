// The statements of the physical path (docs/physical.md): the standby's
// identity, the fence in the source's WAL, the promotion and the strip of
// the source's identity from the promoted copy. Values travel as parameters.
// Every name starts with "physical: " (the unit tests' fake cluster answers
// them as one block).
#pragma once

#include <string>
#include <vector>

#include "core/remote.hpp"
#include "core/text/lsn.hpp"

namespace zodan::physical::stmt {

// The operations the fence and the probe are recorded under in the
// source's spock.zodan_runs (never 'add_node': the journal's views skip them).
inline const char *const kFenceOperation = "physical_fence";
inline const char *const kProbeOperation = "physical_probe";

// sysid, started (the postmaster's start, microseconds, UTC), db (oid),
// in_recovery: what tells two instances with one system identifier apart;
// and wal, how far its WAL goes (written on a primary, replayed on a standby).
Query instance_identity();
// version of zodan in this database, or no row.
Query zodan_version();
// state of this server's WAL receiver, its slot on the primary, the
// application name it streams under, how far it replayed, and the
// server it streams from (host:port): status, slot, app, replayed, sender.
Query wal_receiver();
// On S: whether one of its walsenders serves the standby that streams
// through `slot` (when not empty) or under `application_name`: direct.
Query direct_standby(const std::string &slot, const std::string &application_name);
// On N: pause_state (pg_get_wal_replay_pause_state), apply_delay_ms
// (recovery_min_apply_delay).
Query replay_state();
// On S: the other databases of the instance where Spock runs a node
// (its manager or apply workers run there): datname, workers.
Query other_spock_databases();
// On S: the standbys S waits for at commit under that application name: app, sync_state.
Query synchronous_standby(const std::string &application_name);
// On S: set, rel, what of each table of S's own sets a physical copy would
// bring beyond what Spock replicates (a row filter, a column list).
Query filtered_tables();
// On S: a row of the run's own (operation kProbeOperation) to look for on N.
Query write_probe(const std::string &src, const std::string &new_node, const std::string &token);
Query probe_seen(const std::string &token);  // on N: n, replayed
Query drop_probe(const std::string &token);  // on S
// A transaction of several statements on one session.
Query begin();
Query commit();
Query rollback();
// On S, inside one transaction (begin .. commit): every enabled
// subscription into S disabled (sub_name, slot, provider of each; Spock
// ends their workers at the commit), then the fence recorded with them
// (operation kFenceOperation, the token as its fingerprint, in its step
// 'fence' the subscriptions and `slots_json`, the run's slots by node).
Query disable_inbound();
Query record_fence(const std::string &src, const std::string &new_node, const std::string &token,
                   const std::vector<std::string> &subscriptions, const std::string &slots_json);
// On a provider O: the walsender streaming from `slot` ended (n).
Query end_walsender(const std::string &slot);
// The next read of pg_stat_activity in this transaction sees it afresh.
Query clear_stats_snapshot();
// On S: the fences recorded (all when `token` is NULL): new_node, slots (JSON).
Query fenced_slots(const Value &token);
// On S: the apply workers of this database still running: n.
Query apply_workers_running();
Query end_apply_workers();
// On S, inside one transaction: the subscriptions of the fence `token`
// (every fence recorded here when `token` is NULL) enabled again: new_node,
// sub_name, enabled ("true"; NULL for one already enabled or gone, and a
// row with sub_name NULL for a fence that disabled none); then its record
// forgotten.
Query enable_fenced(const Value &token);
Query forget_fence(const Value &token);
// Whether this database has zodan's journal: here.
Query journal_here();
Query replayed();  // on N: replayed, in_recovery
Query promote(int wait_seconds);  // on N: promoted
// On N once promoted: what it holds of the source's identity.
Query local_node();                    // node_name or no row
Query drop_journal_rows();              // the source's journal, copied with it
Query drop_logical_slots();             // slots synchronised from the source
Query drop_spock_origins();             // the source's subscriptions' origins
Query strip_spock_catalog();            // one statement, simple protocol: the catalog rows of S's node
Query reset_standby_setting(const std::string &setting);  // ALTER SYSTEM RESET
Query reload_configuration();
Query drop_physical_slot(const std::string &slot);  // on S: the standby's slot, if inactive: dropped

}  // namespace zodan::physical::stmt
