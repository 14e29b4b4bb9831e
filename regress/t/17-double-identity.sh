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
report_counts
