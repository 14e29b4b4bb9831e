#!/usr/bin/env bash
# An existing node stopped while the add needs it: the add fails with an
# error naming that node, and once it is back a retry completes.
# Then remove_node of a node whose server is down, run from n1.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../inventory.sh"
source "$(dirname "$0")/../load.sh"
source "$(dirname "$0")/../faults.sh"
ensure_zodan
cluster_start 4
inventory_cluster 3
q 4 "CREATE EXTENSION zodan" >/dev/null

start_writers 120 1 2
hold_pause_lock
psql_n 4 -c "SET zodan.pause_at_step = 'sync_source'" -c "$(ADD_CALL)" >"$CLUSTER_DIR/add1.log" 2>&1 &
caller=$!
for t in $(seq 1 300); do
    [ "$(q 4 "SELECT count(*) FROM spock.zodan_add_node_status WHERE step_name = 'sync_source' AND state = 'running'")" = 1 ] && break
    sleep 0.1
done
node_stop 3
release_pause_lock     # the add goes on now, and needs n3: it must fail, naming it
for t in $(seq 1 600); do kill -0 $caller 2>/dev/null || break; sleep 0.1; done
wait $caller
rc=$?
check_cmd "the add stops while n3 is down (exit status $rc)" test "$rc" != 0
check_cmd "with an error naming n3: $(grep ERROR "$CLUSTER_DIR/add1.log")" grep -q 'ERROR:  .*node "n3"' "$CLUSTER_DIR/add1.log"
node_start 3
out=$(psql_n 4 -c "$(ADD_CALL)" 2>&1)
check_eq "calling add_node again completes once n3 is back" 0 $? || echo "$out" | grep -v "^NOTICE:  add_node phase" | sed 's/^/# /'
check_cmd "the retry resumed the unfinished run" grep -q "resuming the unfinished run" <<<"$out"
check_cmd "the writers ran without error" stop_writers
check_cmd "all four nodes converge" converge 1 2 3 4
check_cmd "all subscriptions replicating" all_replicating 1 2 3 4
check_cmd "all four nodes hold identical tables" tables_equal 1 2 3 4

# remove_node of n4 while its server is down, run from n1.
node_stop 4
q 1 "CREATE EXTENSION zodan" >/dev/null
out=$(psql_n 1 -c "CALL spock.remove_node('n4', '$N4_DSN')" 2>&1)
check_eq "remove_node of a stopped n4 from n1 succeeds" 0 $?
echo "$out" | sed 's/^/# /'
check_cmd "it says n4 itself could not be reached" grep -q "node n4 itself could not be reached" <<<"$out"
left=0
for i in 1 2 3; do
    left=$((left + $(q "$i" "SELECT (SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE '%n4%')
        + (SELECT count(*) FROM pg_replication_origin WHERE roname LIKE '%n4%')
        + (SELECT count(*) FROM spock.subscription WHERE sub_name LIKE '%n4%')
        + (SELECT count(*) FROM spock.node WHERE node_name = 'n4')")))
done
check_eq "no slot, origin, subscription or node of n4 left on n1..n3" 0 "$left"
start_writers 120 1 2 3
sleep 1
check_cmd "the writers ran without error" stop_writers
check_cmd "n1..n3 still replicate among themselves" converge 1 2 3
check_cmd "n1..n3 hold identical tables" tables_equal 1 2 3
out=$(psql_n 1 -c "CALL spock.remove_node('n4', '$N4_DSN')" 2>&1)
check_cmd "running it again removes nothing more" grep -q "node n2: nothing to remove" <<<"$out"
report_counts
