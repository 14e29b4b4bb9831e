#!/usr/bin/env bash
# Benchmark of spock.add_node: n4 joins meshed n1..n3 that hold ROWS rows
# (default 20000). Prints the add's wall time and each phase's duration, as
# measured in this run. Target on the test double: under 3 s.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/inventory.sh"
ROWS=${ROWS:-20000}
RUNS=${RUNS:-3}
ensure_zodan
best=""
for run in $(seq 1 "$RUNS"); do
    cluster_start 4 2>/dev/null
    inventory_cluster 3 2>/dev/null
    q 1 "INSERT INTO items SELECT g, 'bench ' || g, g FROM generate_series(1001, 1000 + $ROWS) g" >/dev/null
    converge_ok=1; wait_sync 1 2 60 && wait_sync 1 3 60 || converge_ok=0
    q 4 "CREATE EXTENSION zodan" >/dev/null
    t0=$(date +%s%N)
    psql_n 4 -c "CALL spock.add_node('n1', '$N1_DSN', 'n4', '$N4_DSN')" 2>/dev/null || die "add_node failed"
    t1=$(date +%s%N)
    ms=$(( (t1 - t0) / 1000000 ))
    rows=$(q 4 "SELECT count(*) FROM items")
    echo "run $run: add_node wall time ${ms} ms; n4 has $rows rows in items (n1..n3 had $(q 1 "SELECT count(*) FROM items"))"
    q 4 "SELECT format('    phase %2s %-30s %6s ms', step_no, step_name,
                 round(extract(epoch FROM finished_at - started_at) * 1000)) FROM spock.zodan_add_node_status"
    { [ -z "$best" ] || [ "$ms" -lt "$best" ]; } && best=$ms
    cluster_stop
done
echo "add_node of n4 to n1..n3 with $ROWS rows: best of $RUNS runs ${best} ms (target < 3000 ms)"
