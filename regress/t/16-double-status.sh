#!/usr/bin/env bash
# Spock test double: sub_show_status reports initializing, replicating,
# disabled and down; sub_drop removes the provider slot and the local origin.
set -u
. "$(dirname "$0")/../lib.sh"

status() { q 2 "SELECT status FROM spock.sub_show_status('sub_n1_n2')"; }
wait_status() { # wait_status WANT SECONDS
    local i
    for i in $(seq 1 $(($2 * 10))); do [ "$(status)" = "$1" ] && return 0; sleep 0.1; done
    return 1
}

cluster_start 2
for i in 1 2; do q "$i" "SELECT spock.node_create('n$i', '$(node_dsn "$i")')" >/dev/null; done
q 1 "CREATE TABLE t (id int PRIMARY KEY)"
q 1 "SELECT spock.repset_add_table('default', 't')" >/dev/null
q 1 "INSERT INTO t SELECT generate_series(1, 100)"
# A table published with a column list and a row filter: the copy honours both.
q 1 "CREATE TABLE f (id int PRIMARY KEY, a text, secret text)"
q 1 "SELECT spock.repset_add_table('default', 'f', false, '{id,a}', 'id > 5')" >/dev/null
q 1 "INSERT INTO f SELECT g, 'a' || g, 's' || g FROM generate_series(1, 10) g"

# Slot creation on the provider waits for its running transactions: an open
# one there holds the sync (and so the "initializing" state) as long as we like.
PGAPPNAME=zodan_blocker psql_n 1 -c "BEGIN; SELECT txid_current(); SELECT pg_sleep(60); COMMIT;" >/dev/null 2>&1 &
blocker=$!
for _ in $(seq 1 50); do [ "$(q 1 "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'zodan_blocker' AND backend_xid IS NOT NULL")" = 1 ] && break; sleep 0.1; done
q 2 "SELECT spock.sub_create('sub_n1_n2', '$(node_dsn 1)', '{default}', true, true)" >/dev/null
check_eq "initializing right after sub_create" "initializing" "$(status)"
sleep 1
check_eq "still initializing while the sync is held up" "initializing" "$(status)"
check_eq "sync status not done yet" "i" "$(q 2 "SELECT sync_status FROM spock.local_sync_status")"
q 1 "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'zodan_blocker'" >/dev/null
wait "$blocker" 2>/dev/null
check_cmd "replicating once the sync is done" wait_status replicating 60
check_eq "sync status ready" "r" "$(q 2 "SELECT sync_status FROM spock.local_sync_status")"
check_eq "structure and data were copied" "100" "$(q 2 "SELECT count(*) FROM t")"
check_eq "filtered copy: only rows with id > 5, only the listed columns" "5|6|0" \
    "$(q 2 "SELECT count(*) || '|' || min(id) || '|' || count(secret) FROM f")"
check_eq "sub_wait_for_sync returns" "" "$(q 2 "SELECT spock.sub_wait_for_sync('sub_n1_n2')")"
check_eq "columns of sub_show_status" "sub_n1_n2|replicating|n1|$(node_dsn 1)|spk_inventory_n1_sub_n1_n2|{default}|{}" \
    "$(q 2 "SELECT * FROM spock.sub_show_status()")"

q 2 "SELECT spock.sub_disable('sub_n1_n2')" >/dev/null
check_eq "disabled right after sub_disable" "disabled" "$(status)"
q 2 "SELECT spock.sub_enable('sub_n1_n2')" >/dev/null
check_eq "not down right after sub_enable" "t" "$(status | grep -qE '^(initializing|replicating)$' && echo t)"
check_cmd "replicating again" wait_status replicating 60

# An apply error (here: a row that already exists) stops the worker: down.
q 2 "INSERT INTO t VALUES (101)"
q 1 "INSERT INTO t VALUES (101)"
check_cmd "down after an apply error" wait_status down 60
check_eq "and stays down" "down" "$(sleep 1; status)"

# A failed initial sync is down too (unknown replication set on the provider).
q 2 "SELECT spock.sub_create('sub_bad', '$(node_dsn 1)', '{nosuchset}', false, true)" >/dev/null
for _ in $(seq 1 100); do [ "$(q 2 "SELECT status FROM spock.sub_show_status('sub_bad')")" = down ] && break; sleep 0.1; done
check_eq "failed sync: down" "down" "$(q 2 "SELECT status FROM spock.sub_show_status('sub_bad')")"
check_fails "sub_wait_for_sync reports the failed sync" q 2 "SELECT spock.sub_wait_for_sync('sub_bad')"
q 2 "SELECT spock.sub_drop('sub_bad')" >/dev/null

# sub_drop
slot=spk_inventory_n1_sub_n1_n2
check_eq "provider slot exists before sub_drop" "1" "$(q 1 "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '$slot'")"
check_eq "sub_drop returns the subscription id" "$(q 2 "SELECT sub_id FROM spock.subscription WHERE sub_name = 'sub_n1_n2'")" \
    "$(q 2 "SELECT spock.sub_drop('sub_n1_n2')")"
check_eq "provider slot gone" "0" "$(q 1 "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '$slot'")"
check_eq "local origins gone (slot-named and native)" "0" "$(q 2 "SELECT count(*) FROM pg_replication_origin")"
check_eq "no native subscription left" "0" "$(q 2 "SELECT count(*) FROM pg_subscription")"
check_eq "no catalog rows left" "0|0" "$(q 2 "SELECT (SELECT count(*) FROM spock.subscription) || '|' || (SELECT count(*) FROM spock.local_sync_status)")"
check_eq "sub_drop of a missing one with ifexists" "" "$(q 2 "SELECT spock.sub_drop('sub_n1_n2', true)")"

# A sync worker that dies while its provider's apply is paused (here:
# sub_drop kills it while slot creation waits) must not leave the provider's
# subscriptions disabled.
q 2 "CREATE TABLE t2 (id int PRIMARY KEY)"
q 2 "SELECT spock.repset_add_table('default', 't2')" >/dev/null
q 1 "CREATE TABLE t2 (id int PRIMARY KEY)"
q 1 "SELECT spock.sub_create('sub_n2_n1', '$(node_dsn 2)', '{default}')" >/dev/null
check_cmd "n1 subscribes to n2" wait_replicating 1 60
PGAPPNAME=zodan_blocker psql_n 1 -c "BEGIN; SELECT txid_current(); SELECT pg_sleep(60); COMMIT;" >/dev/null 2>&1 &
blocker=$!
for _ in $(seq 1 50); do [ "$(q 1 "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'zodan_blocker' AND backend_xid IS NOT NULL")" = 1 ] && break; sleep 0.1; done
q 2 "SELECT spock.sub_create('sub_n1_n2', '$(node_dsn 1)', '{default}', false, true)" >/dev/null
for _ in $(seq 1 100); do [ "$(q 1 "SELECT subenabled FROM pg_subscription WHERE subname = 'sub_n2_n1'")" = f ] && break; sleep 0.1; done
check_eq "the copy paused n1's own apply" "f" "$(q 1 "SELECT subenabled FROM pg_subscription WHERE subname = 'sub_n2_n1'")"
q 2 "SELECT spock.sub_drop('sub_n1_n2')" >/dev/null 2>&1
check_cmd "n1's subscription replicates again after the pauser died" wait_replicating 1 30
q 1 "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'zodan_blocker'" >/dev/null
wait "$blocker" 2>/dev/null
q 2 "INSERT INTO t2 VALUES (1)"
check_cmd "and applies n2's changes" wait_sync 2 1 30
check_eq "row from n2 arrived" "1" "$(q 1 "SELECT count(*) FROM t2")"

# A provider that goes away for a while: down meanwhile, then replicating
# again by itself (a lost connection is not an apply error).
as_pg "$PGBIN/pg_ctl" -D "$CLUSTER_DIR/n2" -m fast -w stop >/dev/null
st=down
for _ in $(seq 1 50); do st=$(q 1 "SELECT status FROM spock.sub_show_status('sub_n2_n1')"); [ "$st" = down ] && break; sleep 0.1; done
check_eq "down while its provider is stopped" "down" "$st"
sleep 3
as_pg "$PGBIN/pg_ctl" -D "$CLUSTER_DIR/n2" -l "$CLUSTER_DIR/n2.log" -w start >/dev/null
check_cmd "replicating again once the provider is back" wait_replicating 1 60
q 2 "INSERT INTO t2 VALUES (2)"
check_cmd "changes flow again" wait_sync 2 1 30
check_eq "row written after the restart arrived" "2" "$(q 1 "SELECT count(*) FROM t2")"
q 1 "SELECT spock.sub_drop('sub_n2_n1')" >/dev/null

# A dead provider does not stop the cleanup.
q 2 "SELECT spock.sub_create('sub_n1_n2', '$(node_dsn 1)', '{default}', false, false, enabled := false)" >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$CLUSTER_DIR/n1" -m fast -w stop >/dev/null
out=$(psql_n 2 -c "SELECT spock.sub_drop('sub_n1_n2')" 2>&1)
check_cmd "sub_drop with the provider down succeeds" test "$(q 2 "SELECT count(*) FROM spock.subscription")" = 0
check_cmd "... with a WARNING" grep -q WARNING <<<"$out"
report_counts
