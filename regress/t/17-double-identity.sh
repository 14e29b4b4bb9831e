#!/usr/bin/env bash
# Spock test double: slot names and node/interface ids follow spock-api.md.
set -u
. "$(dirname "$0")/../lib.sh"

cluster_start 2

check_eq "slot name of the long-name example" "spk_inventorce553d8__ode__wo_sub_very18e702c" \
    "$(q 1 "SELECT spock.spock_gen_slot_name('inventory_database_x', 'Node-Two', 'sub_very_long_subscription')")"
check_eq "slot name of the short example" "spk_inventory_n2_sub_n2_n4" \
    "$(q 1 "SELECT spock.spock_gen_slot_name('inventory', 'n2', 'sub_n2_n4')")"
check_eq "16-byte parts kept, upper case mapped to _" "spk_abcdefghijklmnop_$(printf "%016d" 0 | tr 0 _)_ssssssssssssssss" \
    "$(q 1 "SELECT spock.spock_gen_slot_name('abcdefghijklmnop', 'ABCDEFGHIJKLMNOP', repeat('s', 16))")"
check_eq "slot name type is name" "name" \
    "$(q 1 "SELECT pg_typeof(spock.spock_gen_slot_name('a', 'b', 'c'))")"

node_create_all 2
check_eq "n1's id is hashtext(name) & 0xffff" "$(q 1 "SELECT (hashtext('n1') & 65535)::oid")" \
    "$(q 1 "SELECT node_id FROM spock.local_node")"
check_eq "node_create returns the id" "$(q 1 "SELECT (hashtext('n3') & 65535)::oid")" \
    "$(q 2 "SELECT spock.node_drop('n2'); SELECT spock.node_create('n3', '$(node_dsn 2)')" | tail -n1)"
q 2 "SELECT spock.node_drop('n3')" >/dev/null
q 2 "SELECT spock.node_create('n2', '$(node_dsn 2)')" >/dev/null
check_eq "built-in replication sets" "ddl_sql:t,t,t,t default:t,t,t,t default_insert_only:t,f,f,t" \
    "$(q 1 "SELECT string_agg(set_name || ':' || concat_ws(',', replicate_insert, replicate_update, replicate_delete, replicate_truncate), ' ' ORDER BY set_name) FROM spock.replication_set")"

q 2 "SELECT spock.sub_create('sub_n1_n2', '$(node_dsn 1)', enabled := false)" >/dev/null
check_eq "n2 records n1 under n1's own id" "$(q 1 "SELECT node_id FROM spock.node WHERE node_name = 'n1'")" \
    "$(q 2 "SELECT node_id FROM spock.node WHERE node_name = 'n1'")"
check_eq "n2 records n1's interface under n1's interface id" \
    "$(q 1 "SELECT if_id FROM spock.node_interface WHERE if_name = 'n1'")" \
    "$(q 2 "SELECT if_id FROM spock.node_interface WHERE if_name = 'n1'")"
check_eq "subscription uses the generated slot name" "spk_inventory_n1_sub_n1_n2" \
    "$(q 2 "SELECT sub_slot_name FROM spock.subscription WHERE sub_name = 'sub_n1_n2'")"
check_eq "origin named like the slot exists" "1" \
    "$(q 2 "SELECT count(*) FROM pg_replication_origin WHERE roname = 'spk_inventory_n1_sub_n1_n2'")"
err=$(psql_n 2 -c "SELECT spock.sub_create('sub_x', '$(node_dsn 1) connect_timeout=5')" 2>&1 >/dev/null)
check_cmd "a second node with n1's name but another DSN is refused" grep -q "different DSN" <<<"$err"

# A name whose id collides with n1's is refused.
collider=$(q 1 "SELECT 'x' || g FROM generate_series(1, 2000000) g WHERE (hashtext('x' || g) & 65535) = (hashtext('n1') & 65535) LIMIT 1")
q 2 "SELECT spock.sub_drop('sub_n1_n2')" >/dev/null
q 2 "SELECT spock.node_drop('n2')" >/dev/null
err=$(psql_n 2 -c "SELECT spock.node_create('$collider', '$(node_dsn 2)')" 2>&1 >/dev/null)
check_cmd "node_create refuses '$collider' (same id as n1)" grep -q "collides" <<<"$err"
check_eq "nothing was created" "0" "$(q 2 "SELECT count(*) FROM spock.local_node")"

# Replication set catalog as the product reads and mirrors it.
q 1 "CREATE TABLE rs_t (id int PRIMARY KEY, a text, b int, c text); CREATE TABLE nopk (x int); CREATE SEQUENCE rs_seq"
check_eq "repset_create returns the set id" "$(q 1 "SELECT spock._pair_hash((SELECT node_id FROM spock.local_node), 'extra')")" \
    "$(q 1 "SELECT spock.repset_create('extra', true, true, false, false)")"
q 1 "SELECT spock.repset_add_table('extra', 'rs_t', false, '{id,b}', 'b > 10')" >/dev/null
check_eq "column list and row filter read back" "rs_t|{id,b}|(b > 10)" \
    "$(q 1 "SELECT t.set_reloid::text || '|' || t.set_att_list::text || '|' || pg_get_expr(t.set_row_filter, t.set_reloid) FROM spock.replication_set_table t JOIN spock.replication_set s USING (set_id) WHERE s.set_name = 'extra'")"
check_fails "a table without primary key cannot join a set replicating updates" q 1 "SELECT spock.repset_add_table('default', 'nopk')"
check_eq "... but can join an insert-only set" "t" "$(q 1 "SELECT spock.repset_add_table('default_insert_only', 'nopk')")"
q 1 "SELECT spock.repset_add_seq('extra', 'rs_seq')" >/dev/null
check_eq "sequence membership" "extra|rs_seq" "$(q 1 "SELECT s.set_name || '|' || q.set_seqoid::text FROM spock.replication_set_seq q JOIN spock.replication_set s USING (set_id)")"
q 1 "SELECT spock.repset_alter('extra', replicate_delete := true)" >/dev/null
check_eq "repset_alter changes only what it is given" "t,t,t,f" \
    "$(q 1 "SELECT concat_ws(',', replicate_insert, replicate_update, replicate_delete, replicate_truncate) FROM spock.replication_set WHERE set_name = 'extra'")"
check_eq "repset_remove_table" "t" "$(q 1 "SELECT spock.repset_remove_table('extra', 'rs_t')")"
check_eq "repset_drop" "t" "$(q 1 "SELECT spock.repset_drop('extra')")"
check_eq "repset_drop ifexists of a missing set" "f" "$(q 1 "SELECT spock.repset_drop('extra', true)")"
check_fails "repset_drop of a missing set" q 1 "SELECT spock.repset_drop('extra')"
check_eq "node_info" 'n1|inventory|ddl_sql,"default",default_insert_only' \
    "$(q 1 "SELECT node_name || '|' || dbname || '|' || replication_sets FROM spock.node_info()")"
check_eq "extension version" "5.0.9" "$(q 1 "SELECT extversion FROM pg_extension WHERE extname = 'spock'")"
report_counts
