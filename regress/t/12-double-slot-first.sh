#!/usr/bin/env bash
# Spock test double: a disabled subscription streams from a slot the caller
# made beforehand. Every row written between the slot's creation and
# sub_enable arrives exactly once; rows from before the slot do not.
set -u
. "$(dirname "$0")/../lib.sh"

cluster_start 2
q 1 "SELECT spock.node_create('n1', '$(node_dsn 1)')" >/dev/null
q 1 "CREATE TABLE t (id int PRIMARY KEY, v text)"
q 1 "SELECT spock.repset_add_table('default', 't')" >/dev/null
q 1 "INSERT INTO t SELECT g, 'before slot' FROM generate_series(1, 10) g"

slot=$(q 1 "SELECT spock.spock_gen_slot_name('inventory', 'n1', 'sub_n1_n2')")
q 1 "SELECT pg_create_logical_replication_slot('$slot', 'spock_output')" >/dev/null
check_eq "slot uses spock_output" "spock_output" "$(q 1 "SELECT plugin FROM pg_replication_slots WHERE slot_name = '$slot'")"
for g in $(seq 11 20); do q 1 "INSERT INTO t VALUES ($g, 'after slot')"; done

q 2 "SELECT spock.node_create('n2', '$(node_dsn 2)')" >/dev/null
q 2 "CREATE TABLE t (id int PRIMARY KEY, v text)"
q 2 "SELECT spock.sub_create('sub_n1_n2', '$(node_dsn 1)', '{default,default_insert_only,ddl_sql}', false, false, '{}', '0', false, enabled := false)" >/dev/null
check_eq "status is disabled" "disabled" "$(q 2 "SELECT status FROM spock.sub_show_status('sub_n1_n2')")"
check_eq "sync status is ready at once" "r" "$(q 2 "SELECT sync_status FROM spock.local_sync_status")"
check_eq "origin named like the slot is at 0/0" "0/0" \
    "$(q 2 "SELECT coalesce(pg_replication_origin_progress('$slot', false), '0/0') FROM pg_replication_origin WHERE roname = '$slot'")"
check_eq "nothing made on the provider" "1" "$(q 1 "SELECT count(*) FROM pg_replication_slots")"
q 1 "UPDATE t SET v = 'updated while disabled' WHERE id IN (5, 15)"
q 1 "INSERT INTO t SELECT g, 'while disabled' FROM generate_series(21, 30) g"
q 1 "DELETE FROM t WHERE id = 12"

q 2 "SELECT spock.sub_enable('sub_n1_n2', true)" >/dev/null
wait_replicating 2 60 || fail "sub_n1_n2 did not reach replicating"
check_cmd "sync event from n1 reaches n2" wait_sync 1 2 60
check_eq "exactly the rows written after the slot arrived" "19 11 30" \
    "$(q 2 "SELECT count(*) || ' ' || min(id) || ' ' || max(id) FROM t")"
check_eq "update after the slot applied, the one to a pre-slot row skipped" "updated while disabled|15" \
    "$(q 2 "SELECT v, id FROM t WHERE v LIKE 'updated%'" )"
for g in $(seq 31 35); do q 1 "INSERT INTO t VALUES ($g, 'after enable')"; done
check_cmd "sync event from n1 reaches n2 again" wait_sync 1 2 60
check_eq "later rows keep flowing, once each" "24" "$(q 2 "SELECT count(*) FROM t")"
check_eq "still replicating (no apply error)" "replicating" "$(q 2 "SELECT status FROM spock.sub_show_status('sub_n1_n2')")"
report_counts
