#!/usr/bin/env bash
# Benchmark of spock.add_node: a new node joins a mesh of K existing nodes
# (K in SIZES, default 3) that hold ROWS rows (default 20000). Prints each
# run's wall time and phase durations, then the best per size, all measured
# in this one run. Target on the test double: under 3 s for K=3; K=6 should
# take about as long as K=3 (the work on the other nodes runs concurrently).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/inventory.sh"
ROWS=${ROWS:-20000}
RUNS=${RUNS:-3}
SIZES=${SIZES:-3}
ensure_zodan
declare -A best
for k in $SIZES; do
    new=$((k + 1))
    for run in $(seq 1 "$RUNS"); do
        cluster_start "$new" 2>/dev/null
        inventory_cluster "$k" 2>/dev/null
        q 1 "INSERT INTO items SELECT g, 'bench ' || g, g FROM generate_series(1001, 1000 + $ROWS) g" >/dev/null
        for i in $(seq 2 "$k"); do wait_sync 1 "$i" 60 || die "seed rows did not reach n$i"; done
        q "$new" "CREATE EXTENSION zodan" >/dev/null
        src_dsn=$(node_dsn 1); new_dsn=$(node_dsn "$new")
        t0=$(date +%s%N)
        psql_n "$new" -c "CALL spock.add_node('n1', '$src_dsn', 'n$new', '$new_dsn')" 2>/dev/null || die "add_node failed"
        t1=$(date +%s%N)
        ms=$(( (t1 - t0) / 1000000 ))
        echo "K=$k run $run: add_node of n$new wall time ${ms} ms; n$new has $(q "$new" "SELECT count(*) FROM items") rows in items (n1 has $(q 1 "SELECT count(*) FROM items"))"
        q "$new" "SELECT format('    phase %2s %-30s %6s ms', step_no, step_name,
                     round(extract(epoch FROM finished_at - started_at) * 1000)) FROM spock.zodan_add_node_status"
        { [ -z "${best[$k]:-}" ] || [ "$ms" -lt "${best[$k]}" ]; } && best[$k]=$ms
        cluster_stop
    done
done
for k in $SIZES; do
    echo "add_node joining $k existing nodes holding $ROWS rows: best of $RUNS runs ${best[$k]} ms (target < 3000 ms)"
done
