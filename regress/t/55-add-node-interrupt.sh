#!/usr/bin/env bash
# add_node's waits are interruptible: with the source unable to apply (a lock
# held on it), statement_timeout and pg_cancel_backend each end the call
# within a second, and no zodan session is left running on any node.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../inventory.sh"
ensure_zodan
cluster_start 5
inventory_cluster 3
q 4 "CREATE EXTENSION zodan" >/dev/null
q 5 "CREATE EXTENSION zodan" >/dev/null

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
zodan_sessions() { # zodan connections still open on any node
    local i total=0
    for i in 1 2 3 4 5; do total=$((total + $(q "$i" "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'zodan'"))); done
    echo "$total"
}
settle_sessions() { # wait up to 1 s for the remote ends to see their sockets close
    local t
    for t in 1 2 3 4 5 6 7 8 9 10; do [ "$(zodan_sessions)" = 0 ] && break; sleep 0.1; done
    zodan_sessions
}

# n1 cannot apply n2's changes while this lock is held: add_node waits in step 3.
psql_n 1 -c "BEGIN; LOCK TABLE items IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(40); COMMIT;" >/dev/null 2>&1 &
locker=$!
sleep 0.5
q 2 "INSERT INTO items VALUES (900001, 'blocked on n1', 1)" >/dev/null

t0=$(now_ms)
out=$(psql_n 4 -v ON_ERROR_STOP=0 -c "SET statement_timeout = '2s'" -c "CALL spock.add_node('n1', '$N1_DSN', 'n4', '$N4_DSN')" \
      -c "RESET statement_timeout" \
      -c "SELECT 'journal: ' || state || ' ' || (backend_pid = pg_backend_pid()) FROM spock.zodan_runs ORDER BY run_id DESC LIMIT 1" \
      -c "SET statement_timeout = '2s'" -c "CALL spock.add_node('n1', '$N1_DSN', 'n4', '$N4_DSN')" 2>&1)
elapsed=$(( $(now_ms) - t0 ))
check_cmd "statement_timeout ends add_node: $(grep ERROR <<<"$out" | head -1)" grep -q "canceling statement due to statement timeout" <<<"$out"
check_cmd "it ends within a second of the timeout (${elapsed} ms for two calls with a 2 s timeout)" test "$elapsed" -lt 6000
check_cmd "the journal says the run failed, in the same session: $(grep journal: <<<"$out")" grep -q "^journal: failed t" <<<"$out"
check_eq "calling it again in that session resumes (it times out again, not 'already running')" 2 \
    "$(grep -c "canceling statement due to statement timeout" <<<"$out")"
check_eq "no zodan session left running after the timeout" 0 "$(settle_sessions)"

PGAPPNAME=zodan_cancel_test psql_n 5 -c "CALL spock.add_node('n1', '$N1_DSN', 'n5', '$N5_DSN')" >"$CLUSTER_DIR/cancel.log" 2>&1 &
caller=$!
sleep 1.5
check_eq "the add on n5 is still waiting" 0 "$(kill -0 $caller 2>/dev/null; echo $?)"
t0=$(now_ms)
q 5 "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'zodan_cancel_test'" >/dev/null
wait $caller
elapsed=$(( $(now_ms) - t0 ))
check_cmd "pg_cancel_backend ends add_node: $(grep ERROR "$CLUSTER_DIR/cancel.log")" grep -q "canceling statement due to user request" "$CLUSTER_DIR/cancel.log"
check_cmd "it ends within a second of the cancel (${elapsed} ms)" test "$elapsed" -lt 1000
check_eq "no zodan session left running after the cancel" 0 "$(settle_sessions)"

# pg_terminate_backend of the caller: no C++ unwinding, no cancel sent; the
# nodes notice the caller is gone (client_connection_check_interval) and end
# its statements themselves.
PGAPPNAME=zodan_kill_test psql_n 5 -c "CALL spock.add_node('n1', '$N1_DSN', 'n5', '$N5_DSN')" >/dev/null 2>&1 &
caller=$!
for t in $(seq 1 50); do [ "$(zodan_sessions)" -ge 3 ] && break; sleep 0.1; done
check_cmd "the add on n5 is waiting with sessions open on the nodes ($(zodan_sessions))" test "$(zodan_sessions)" -ge 3
q 5 "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'zodan_kill_test'" >/dev/null
wait $caller
left=0
for t in $(seq 1 30); do left=$(zodan_sessions); [ "$left" = 0 ] && break; sleep 0.1; done
check_eq "no zodan session left on any node within 3 s of terminating the caller" 0 "$left"
kill $locker 2>/dev/null
wait $locker 2>/dev/null

# One deadline per wait for all nodes: with n2 and n3 both holding a
# transaction open, slot creation waits on both; it ends after one
# zodan.sync_timeout, not one per node.
for i in 2 3; do
    psql_n "$i" -c "BEGIN; INSERT INTO audit_log VALUES (99000$i, 'held'); SELECT pg_sleep(30); COMMIT;" >/dev/null 2>&1 &
done
for t in $(seq 1 50); do
    [ "$(q 2 "SELECT count(*) FROM pg_stat_activity WHERE backend_xid IS NOT NULL AND query LIKE '%pg_sleep(30)%'")" = 1 ] &&
    [ "$(q 3 "SELECT count(*) FROM pg_stat_activity WHERE backend_xid IS NOT NULL AND query LIKE '%pg_sleep(30)%'")" = 1 ] && break
    sleep 0.1
done
q 5 "CALL spock.remove_node('n5', '$N5_DSN')" >/dev/null 2>&1
t0=$(now_ms)
out=$(psql_n 5 -c "SET zodan.sync_timeout = '3s'" -c "CALL spock.add_node('n1', '$N1_DSN', 'n5', '$N5_DSN')" 2>&1)
elapsed=$(( $(now_ms) - t0 ))
check_cmd "with two nodes stuck the add fails with a timeout: $(grep ERROR <<<"$out")" grep -qi "within 3 s\|timed out" <<<"$out"
check_cmd "after one 3 s timeout, not two (${elapsed} ms)" test "$elapsed" -lt 5500
for i in 2 3; do q "$i" "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(30)%' AND pid <> pg_backend_pid()" >/dev/null; done
wait

# A cancel is bounded even when the node cannot answer it: PostgreSQL 15's
# PQcancel blocks until the node's postmaster takes the request. With n2's
# postmaster stopped (SIGSTOP) while our slot creation waits there, a
# statement_timeout still ends the call within the cancel's bound (2 s).
psql_n 2 -c "BEGIN; INSERT INTO audit_log VALUES (990099, 'held'); SELECT pg_sleep(60); COMMIT;" >/dev/null 2>&1 &
holder2=$!
for t in $(seq 1 50); do
    [ "$(q 2 "SELECT count(*) FROM pg_stat_activity WHERE backend_xid IS NOT NULL AND query LIKE '%pg_sleep(60)%'")" = 1 ] && break
    sleep 0.1
done
q 5 "CALL spock.remove_node('n5', '$N5_DSN')" >/dev/null 2>&1
PGAPPNAME=zodan_stopped_test psql_n 5 -c "SET statement_timeout = '4s'" \
    -c "CALL spock.add_node('n1', '$N1_DSN', 'n5', '$N5_DSN')" >"$CLUSTER_DIR/stopped.log" 2>&1 &
caller=$!
for t in $(seq 1 100); do
    [ "$(q 2 "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_create_logical_replication_slot%' AND state = 'active' AND pid <> pg_backend_pid()")" = 1 ] && break
    sleep 0.05
done
postmaster2=$(head -n1 "$CLUSTER_DIR/n2/postmaster.pid")
t0=$(now_ms)
kill -STOP "$postmaster2"
wait $caller
elapsed=$(( $(now_ms) - t0 ))
kill -CONT "$postmaster2"
check_cmd "statement_timeout ends the call while n2 cannot take a cancel: $(grep ERROR "$CLUSTER_DIR/stopped.log")" \
    grep -q "canceling statement due to statement timeout" "$CLUSTER_DIR/stopped.log"
check_cmd "within the timeout and the cancel's 2 s bound (${elapsed} ms after n2 stopped, 4 s timeout)" test "$elapsed" -lt 7500
q 2 "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%' AND pid <> pg_backend_pid()" >/dev/null
wait $holder2 2>/dev/null

# Two calls on one node: the second is refused at once, whatever the journal
# says at that moment.
PGAPPNAME=zodan_pause_holder psql_n 5 -c "SELECT pg_advisory_lock(hashtext('zodan.pause'))" -c "SELECT pg_sleep(60)" >/dev/null 2>&1 &
holder=$!
for t in $(seq 1 50); do [ "$(q 5 "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted")" -ge 1 ] && break; sleep 0.1; done
PGAPPNAME=zodan_first psql_n 5 -c "SET zodan.pause_at_step = 'catch_up'" \
    -c "CALL spock.add_node('n1', '$N1_DSN', 'n5', '$N5_DSN')" >"$CLUSTER_DIR/first.log" 2>&1 &
first=$!
for t in $(seq 1 300); do
    [ "$(q 5 "SELECT count(*) FROM spock.zodan_add_node_status WHERE step_name = 'catch_up' AND state = 'running'")" = 1 ] && break
    kill -0 $first 2>/dev/null || break
    sleep 0.1
done
check_eq "the first add is waiting at catch_up" 1 \
    "$(q 5 "SELECT count(*) FROM spock.zodan_add_node_status WHERE step_name = 'catch_up' AND state = 'running'")" || cat "$CLUSTER_DIR/first.log"
out=$(psql_n 5 -c "CALL spock.add_node('n1', '$N1_DSN', 'n5', '$N5_DSN')" 2>&1)
check_cmd "a second add_node on the same node is refused: $(grep ERROR <<<"$out")" grep -q "already running on this node" <<<"$out"
# The first call committed after each step: it holds no snapshot back while it waits.
check_eq "the waiting caller holds back no xmin on its node" "" \
    "$(q 5 "SELECT backend_xmin FROM pg_stat_activity WHERE application_name = 'zodan_first'")"
q 5 "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name IN ('zodan_first', 'zodan_pause_holder')" >/dev/null
wait $first $holder 2>/dev/null
report_counts
