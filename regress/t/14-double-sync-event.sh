#!/usr/bin/env bash
# Spock test double: sync_event / wait_for_sync_event.
set -u
. "$(dirname "$0")/../lib.sh"

cluster_start 2
for i in 1 2; do q "$i" "CREATE TABLE t (id int PRIMARY KEY)"; done
cluster_mesh 2
for i in 1 2; do q "$i" "SELECT spock.repset_add_table('default', 't')" >/dev/null; done

q 1 "INSERT INTO t SELECT generate_series(1, 500)"
lsn=$(q 1 "SELECT spock.sync_event()")
check_eq "wait_for_sync_event is true once applied" "t" \
    "$(q 2 "CALL spock.wait_for_sync_event(NULL, 'n1', '$lsn'::pg_lsn, 30)")"
check_eq "rows written before the event are there" "500" "$(q 2 "SELECT count(*) FROM t")"
check_eq "n2's progress for n1 is at or past the event" "t" \
    "$(q 2 "SELECT remote_commit_lsn >= '$lsn' FROM spock.progress WHERE remote_node_id = (SELECT node_id FROM spock.node WHERE node_name = 'n1')")"
check_eq "the origin_id form works too" "t" \
    "$(q 2 "CALL spock.wait_for_sync_event(NULL, $(q 2 "SELECT node_id FROM spock.node WHERE node_name = 'n1'")::oid, '$lsn'::pg_lsn, 30)")"
check_eq "timeout 0 waits (already applied: true at once)" "t" \
    "$(q 2 "CALL spock.wait_for_sync_event(NULL, 'n1', '$lsn'::pg_lsn)")"

q 2 "SELECT spock.sub_disable('sub_n1_n2')" >/dev/null
lsn2=$(q 1 "SELECT spock.sync_event()")
t0=$(date +%s%N)
check_eq "disabled + wait_if_disabled: false after the 1 s timeout" "f" \
    "$(q 2 "CALL spock.wait_for_sync_event(NULL, 'n1', '$lsn2'::pg_lsn, 1, true)")"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check_cmd "it took about 1 s (${ms} ms)" test "$ms" -ge 1000 -a "$ms" -lt 4000
err=$(psql_n 2 -c "CALL spock.wait_for_sync_event(NULL, 'n1', '$lsn2'::pg_lsn, 1)" 2>&1 >/dev/null)
check_cmd "disabled without wait_if_disabled: an error" grep -q "ERROR" <<<"$err"
err=$(psql_n 2 -c "CALL spock.wait_for_sync_event(NULL, 'nosuchnode', '$lsn2'::pg_lsn, 1)" 2>&1 >/dev/null)
check_cmd "unknown origin: an error" grep -q "ERROR.*not found" <<<"$err"

# Waiting while disabled, then enabled from another session: true.
( sleep 1; q 2 "SELECT spock.sub_enable('sub_n1_n2', true)" >/dev/null ) &
check_eq "wait_if_disabled keeps waiting until the subscription is enabled" "t" \
    "$(q 2 "CALL spock.wait_for_sync_event(NULL, 'n1', '$lsn2'::pg_lsn, 30, true)")"
wait
check_eq "sync events flow both ways" "0" "$(wait_sync 2 1 30 && echo 0)"
report_counts
