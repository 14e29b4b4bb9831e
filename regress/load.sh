# Write load for the add-node tests and the demo: one writer per node, each
# inserting and updating rows in its own key range (no conflicts to resolve:
# real clusters are used the same way). Source after lib.sh
# and inventory.sh.

LOAD_PIDS=()
LOAD_ROUND=0

# start_writers SECONDS NODE...: each writer runs until SECONDS pass or
# stop_writers is called; it writes a few transactions per 10 ms.
start_writers() {
    local seconds=$1; shift
    LOAD_STOP="$CLUSTER_DIR/stop-writers"
    rm -f "$LOAD_STOP"
    LOAD_ROUND=$((LOAD_ROUND + 1))   # fresh keys each round: rows of earlier rounds stay
    local i
    for i in "$@"; do
        (
            local base=$(( (LOAD_ROUND * 10 + i) * 100000 )) n=0 deadline=$(( $(date +%s) + seconds ))
            while [ "$(date +%s)" -lt "$deadline" ] && [ ! -e "$LOAD_STOP" ]; do
                n=$((n + 1))
                echo "INSERT INTO items VALUES ($((base + n)), 'n$i row $n', $n);"
                echo "INSERT INTO orders VALUES ($((base + n)), $((base + n)), 'n$i');"
                [ $((n % 3)) = 0 ] && echo "UPDATE items SET qty = qty + 100 WHERE id = $((base + n - 1));"
                [ $((n % 7)) = 0 ] && echo "DELETE FROM orders WHERE id = $((base + n - 3));"
                [ $((n % 5)) = 0 ] && echo "INSERT INTO audit_log VALUES ($((base + n)), 'n$i event $n');"
                sleep 0.01
            done
        ) | psql_n "$i" >/dev/null 2>"$CLUSTER_DIR/writer-n$i.err" &
        LOAD_PIDS+=($!)
    done
}

# stop_writers: stops them; fails when a writer hit an error (its stderr is shown).
stop_writers() {
    touch "$LOAD_STOP"
    local p rc=0 f
    for p in "${LOAD_PIDS[@]}"; do wait "$p" || rc=1; done
    LOAD_PIDS=()
    for f in "$CLUSTER_DIR"/writer-n*.err; do
        [ -s "$f" ] && { echo "# writer error: $(head -c 300 "$f")" >&2; rc=1; }
    done
    return $rc
}

# converge NODE...: a sync event from every listed node, waited for on every
# other listed node, so all of them have applied everything written so far.
converge() {
    local from to
    for from in "$@"; do
        for to in "$@"; do
            [ "$from" = "$to" ] && continue
            wait_sync "$from" "$to" 120 || { echo "n$to did not apply n$from's changes" >&2; return 1; }
        done
    done
}
