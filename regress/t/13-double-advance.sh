#!/usr/bin/env bash
# Spock test double: advancing the provider slot and the subscriber's origin
# of the same name to an LSN skips exactly the changes committed up to it.
set -u
. "$(dirname "$0")/../lib.sh"

cluster_start 2
for i in 1 2; do
    q "$i" "SELECT spock.node_create('n$i', '$(node_dsn "$i")')" >/dev/null
    q "$i" "CREATE TABLE t (id int PRIMARY KEY)"
done
q 1 "SELECT spock.repset_add_table('default', 't')" >/dev/null
slot=$(q 1 "SELECT spock.spock_gen_slot_name('inventory', 'n1', 'sub_n1_n2')")
q 1 "SELECT pg_create_logical_replication_slot('$slot', 'spock_output')" >/dev/null
q 2 "SELECT spock.sub_create('sub_n1_n2', '$(node_dsn 1)', '{default,default_insert_only,ddl_sql}', false, false, '{}', '0', false, enabled := false)" >/dev/null

# Ten transactions; L = a position right after the fifth one's commit.
for g in 1 2 3 4 5; do q 1 "INSERT INTO t VALUES ($g)"; done
L=$(q 1 "SELECT pg_current_wal_insert_lsn()")
for g in 6 7 8 9 10; do q 1 "INSERT INTO t VALUES ($g)"; done
# pg_replication_slot_advance stops at the flushed WAL; let it catch up.
for _ in $(seq 1 100); do [ "$(q 1 "SELECT pg_current_wal_flush_lsn() >= '$L'")" = t ] && break; sleep 0.1; done

q 1 "SELECT pg_replication_slot_advance('$slot', '$L')" >/dev/null
check_eq "provider slot confirmed at L" "$L" "$(q 1 "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '$slot'")"
q 2 "SELECT pg_replication_origin_advance('$slot', '$L')" >/dev/null
check_eq "subscriber origin at L" "$L" "$(q 2 "SELECT pg_replication_origin_progress('$slot', false)")"
check_eq "progress shows L while disabled" "$L" "$(q 2 "SELECT remote_commit_lsn FROM spock.progress")"

q 2 "SELECT spock.sub_enable('sub_n1_n2', true)" >/dev/null
wait_replicating 2 60 || fail "sub_n1_n2 did not reach replicating"
check_cmd "sync event from n1 reaches n2" wait_sync 1 2 60
check_eq "exactly the changes after L arrived" "6,7,8,9,10" "$(q 2 "SELECT string_agg(id::text, ',' ORDER BY id) FROM t")"

# The origin alone (slot left behind) is enough too: streaming starts at the
# later of the two, like Spock.
q 2 "SELECT spock.sub_disable('sub_n1_n2')" >/dev/null
for _ in $(seq 1 100); do [ -z "$(q 2 "SELECT pid FROM pg_stat_subscription WHERE pid IS NOT NULL")" ] && break; sleep 0.1; done
for g in 11 12 13; do q 1 "INSERT INTO t VALUES ($g)"; done
L2=$(q 1 "SELECT pg_current_wal_insert_lsn()")
for g in 14 15; do q 1 "INSERT INTO t VALUES ($g)"; done
check_eq "slot-named origin kept up on disable" "t" \
    "$(q 2 "SELECT pg_replication_origin_progress('$slot', false) >= '$L'")"
q 2 "SELECT pg_replication_origin_advance('$slot', '$L2')" >/dev/null
q 2 "SELECT spock.sub_enable('sub_n1_n2', true)" >/dev/null
wait_replicating 2 60 || fail "sub_n1_n2 did not reach replicating again"
check_cmd "sync event from n1 reaches n2 again" wait_sync 1 2 60
check_eq "origin-only advance skipped 11..13" "6,7,8,9,10,14,15" "$(q 2 "SELECT string_agg(id::text, ',' ORDER BY id) FROM t")"
report_counts
