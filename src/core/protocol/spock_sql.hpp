// Every statement the product sends to a node, in one place: the product's
// whole use of the Spock SQL surface (spock-api.md) can be read here.
// Values are always parameters; names that must become SQL are quoted by the
// server (quote_ident) inside the statement.
#pragma once

#include <string>
#include <vector>

#include "core/text/lsn.hpp"
#include "core/remote.hpp"

namespace zodan::sql {

Query spock_version();
Query local_identity();            // sysid, db
Query local_node_name();           // node_name or no row
Query nodes_with_dsn();            // node_name, if_dsn
Query node_exists(const std::string &node_name);
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
Query node_create(const std::string &name, const std::string &dsn, const std::string &location,
                  const std::string &country, const std::string &info_json);
Query slot_name(const std::string &subscriber_db, const std::string &provider_node, const std::string &subscription);
Query create_slot(const std::string &slot);
Query slot_exists(const std::string &slot);
Query advance_slot(const std::string &slot, Lsn lsn);
Query drop_origin_if_exists(const std::string &origin);
Query advance_origin(const std::string &origin, Lsn lsn);
Query source_table_sizes();  // on S: rel, bytes of every table in its sets
Query copy_state(const std::vector<std::string> &tables);  // on N: rel, bytes, copying
Query table_shapes();  // rel, cols, key of every table in the local sets
Query row_count_statement(const std::vector<std::string> &tables);  // stmt: yields rel, n
// A statement a node wrote for us (quoting done there), run as it is.
Query run_generated(const std::string &what, const std::string &statement);
Query node_capacity();     // settings and use, for the headroom check
Query try_add_node_lock();  // locked: true / false
Query sync_event();
// remote_commit_lsn per origin node name, for the given origins.
Query applied_through(const std::vector<std::string> &origins);  // on a subscriber: origin, lsn
Query copy_positions(const std::vector<std::string> &origins);   // on the new node: origin, lsn
Query subscription_status();       // subscription_name, status, provider_node
Query sync_state(const std::string &subscription);  // total, pending
Query sub_create(const std::string &name, const std::string &provider_dsn, const std::vector<std::string> &sets,
                 bool sync_structure, bool sync_data, bool enabled, const std::vector<std::string> &skip_schema);
Query enable_disabled(const std::vector<std::string> &subscriptions);  // sub_name of each enabled
Query sub_drop(const std::string &name);
Query subscription_exists(const std::string &name);   // n
// subscriptions here whose provider or subscriber is the node named
Query subscription_slot(const std::string &name);  // slot, when the subscription exists
Query subscriptions_involving(const std::string &node_name);  // sub_name, provider, slot
Query node_drop(const std::string &name);
Query local_node_with_dsn();                          // node_name, dsn of this database's node
Query slots_named(const std::vector<std::string> &slots);     // slot_name, active_pid
Query terminate_slot_user(const std::string &slot);  // stops a walsender still streaming from it
Query drop_slot(const std::string &slot);             // only when inactive
Query spock_slots();                                  // every spk_ slot: slot_name, active_pid
Query unused_spock_origins();                         // roname of spk_ origins no subscription uses
Query drop_origin(const std::string &origin);
Query repset_drop(const std::string &set);
// DROP statements, built by the server with %I quoting, for what a copy
// brought: schemas other than those in keep (and system/extension/spock ones)
// and the user relations in public.
Query user_objects();                                      // obj ("kind:oid")
Query copied_objects_drops(const std::vector<std::string> &before_copy);  // stmt
Query repset_create(const std::string &set, bool ins, bool upd, bool del, bool trunc);
Query repset_alter(const std::string &set, bool ins, bool upd, bool del, bool trunc);
Query repset_add_table(const std::string &set, const std::string &rel, const Value &columns, const Value &row_filter);
Query repset_remove_table(const std::string &set, const std::string &rel);
Query repset_add_seq(const std::string &set, const std::string &seq);
Query repset_remove_seq(const std::string &set, const std::string &seq);
Query lag_from(const std::string &origin);  // replication_lag_bytes, replication_lag

}  // namespace zodan::sql
