# Fault injection for add_node, on top of lib.sh, inventory.sh and load.sh:
# stop a run at a step (an injected error, or the caller terminated while it
# waits there), then take one way out (resume or roll back) and check the
# cluster. Used by regress/t/7*-faults-*.sh.

ADD_CALL() { echo "CALL spock.add_node('n1', '$N1_DSN', 'n4', '$N4_DSN')"; }

# Everything a run may have left that ties any node to n4; 0 when clean.
leftovers() {
    local i total=0 n
    for i in 1 2 3; do
        n=$(q "$i" "SELECT (SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE '%n4%')
                 + (SELECT count(*) FROM pg_replication_origin WHERE roname LIKE '%n4%')
                 + (SELECT count(*) FROM spock.subscription WHERE sub_name LIKE '%n4%')
                 + (SELECT count(*) FROM spock.node WHERE node_name = 'n4')
                 + (SELECT count(*) FROM spock.node_interface WHERE if_dsn LIKE '%port=$N4_PORT %')")
        [ "$n" = 0 ] || echo "# leftovers on n$i: $n" >&2
        total=$((total + n))
    done
    n=$(q 4 "SELECT (SELECT count(*) FROM pg_replication_slots)
             + (SELECT count(*) FROM pg_replication_origin)
             + (SELECT count(*) FROM spock.subscription)
             + (SELECT count(*) FROM spock.node)
             + (SELECT count(*) FROM spock.node_interface)
             + (SELECT count(*) FROM pg_tables WHERE schemaname = 'public')")
    [ "$n" = 0 ] || echo "# leftovers on n4: $n" >&2
    echo $((total + n))
}

# While held (by a session of its own on n4), a run with zodan.pause_at_step waits at that step.
hold_pause_lock() {
    PGAPPNAME=zodan_pause_holder psql_n 4 -c "SELECT pg_advisory_lock(hashtext('zodan.pause'))" \
        -c "SELECT pg_sleep(600)" >/dev/null 2>&1 &
    PAUSE_HOLDER=$!
    local t
    for t in $(seq 1 100); do
        [ "$(q 4 "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted")" -ge 1 ] && return
        sleep 0.05
    done
}
release_pause_lock() {
    q 4 "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'zodan_pause_holder'" >/dev/null
    wait "$PAUSE_HOLDER" 2>/dev/null
}

# Runs the add with a fault; returns once the run has stopped.
#   error STEP   - zodan.fail_at_step = 'STEP:after' (the step's work is done, not recorded)
#   kill STEP    - zodan.pause_at_step = STEP, then pg_terminate_backend of the caller
inject() {
    local kind=$1 step=$2 out t
    if [ "$kind" = error ]; then
        out=$(psql_n 4 -c "SET zodan.fail_at_step = '$step:after'" -c "$(ADD_CALL)" 2>&1)
        grep -q "injected failure" <<<"$out"
        return
    fi
    hold_pause_lock
    PGAPPNAME=zodan_fault psql_n 4 -c "SET zodan.pause_at_step = '$step'" -c "$(ADD_CALL)" >/dev/null 2>&1 &
    local caller=$!
    for t in $(seq 1 300); do
        [ "$(q 4 "SELECT count(*) FROM spock.zodan_add_node_status WHERE run_state = 'running'
                   AND step_name = '$step' AND state = 'running'" 2>/dev/null)" = 1 ] && break
        kill -0 $caller 2>/dev/null || break
        sleep 0.1
    done
    q 4 "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'zodan_fault'" >/dev/null
    wait $caller
    release_pause_lock
    [ "$(q 4 "SELECT count(*) FROM spock.zodan_add_node_status WHERE step_name = '$step' AND state = 'running'")" = 1 ]
}

tables_equal() { # tables_equal NODE...: every table equal on the nodes named
    local t i ref
    for t in items orders audit_log; do
        ref=$(table_digest "$1" "$t")
        for i in "${@:2}"; do [ "$(table_digest "$i" "$t")" = "$ref" ] || { echo "# $t differs on n$i" >&2; return 1; }; done
    done
}

all_replicating() { # all_replicating NODE...
    local i
    for i in "$@"; do wait_replicating "$i" 30 >/dev/null 2>&1 || return 1; done
}

# Back to n1..n3 meshed and n4 bare, whatever the scenario left.
reset_n4() {
    psql_n 4 -c "CALL spock.remove_node('n4', '$N4_DSN')" >/dev/null 2>&1
    q 4 "DROP TABLE IF EXISTS items, orders, audit_log CASCADE" >/dev/null 2>&1
}

# Writers on n1..n3 during a scenario, unless FAULT_LOAD=quiet.
load_on() { [ "${FAULT_LOAD:-writes}" = quiet ] || start_writers 120 1 2 3; }
load_off() { [ "${FAULT_LOAD:-writes}" = quiet ] || stop_writers; }

# scenario KIND STEP WAY: one injected stop and one way out, under writes
# (or on a quiet cluster with FAULT_LOAD=quiet).
scenario() {
    local kind=$1 step=$2 way=$3 label="$1 at $2, then $3${FAULT_LOAD:+ ($FAULT_LOAD)}" rows_before
    rows_before=$(q 1 "SELECT count(*) FROM items")
    load_on
    sleep 0.3
    if ! inject "$kind" "$step"; then
        load_off
        fail "$label: the run did not stop at the injected point"
        reset_n4
        return
    fi
    if [ "$way" = resume ]; then
        local out
        out=$(psql_n 4 -c "$(ADD_CALL)" 2>&1)
        local rc=$?
        sleep 0.3
        load_off || fail "$label: a writer failed"
        if [ $rc != 0 ]; then
            fail "$label: the second call failed: $(grep ERROR <<<"$out")"
        elif converge 1 2 3 4 && all_replicating 1 2 3 4 && tables_equal 1 2 3 4; then
            ok "$label: completed; all four nodes identical (items $(table_digest 4 items), was $rows_before rows)"
        else
            fail "$label: completed but the nodes differ or do not replicate"
        fi
        reset_n4
    else
        local out
        out=$(psql_n 4 -c "CALL spock.remove_node('n4', '$N4_DSN')" 2>&1)
        local rc=$?
        sleep 0.3
        load_off || fail "$label: a writer failed"
        local left
        left=$(leftovers)
        if [ $rc != 0 ]; then
            fail "$label: remove_node failed: $(grep ERROR <<<"$out")"
            reset_n4
        elif [ "$left" != 0 ]; then
            fail "$label: remove_node left $left object(s) behind"
            reset_n4
        elif converge 1 2 3 && all_replicating 1 2 3 && tables_equal 1 2 3; then
            ok "$label: nothing left on any node; n1..n3 still replicate (items $(table_digest 1 items), was $rows_before rows)"
        else
            fail "$label: rolled back, but n1..n3 no longer replicate alike"
        fi
    fi
}

# node_stop I / node_start I: stop a node's server (fast) and start it again
# on the same port and data directory.
node_stop() { as_pg "$PGBIN/pg_ctl" -D "$CLUSTER_DIR/n$1" -m fast -w stop >/dev/null; }
node_start() { as_pg "$PGBIN/pg_ctl" -D "$CLUSTER_DIR/n$1" -l "$CLUSTER_DIR/n$1.log" -w -t 60 start >/dev/null; }

# run_fault_suite KIND [WAYS]: for every step (or those in FAULT_STEPS), one
# scenario of KIND with each way out (default "resume rollback"), on a 4-node
# cluster under writes (FAULT_LOAD=quiet: no writes).
run_fault_suite() {
    local kind=$1 ways=${2:-resume rollback} step way
    ensure_zodan
    cluster_start 4
    inventory_cluster 3
    q 4 "CREATE EXTENSION zodan" >/dev/null
    for step in ${FAULT_STEPS:-check_versions check_preconditions create_node prepare_other_nodes sync_source \
                 copy_source catch_up advance_slots mirror_replication_sets enable_other_subscriptions \
                 create_reverse_subscriptions confirm}; do
        for way in $ways; do scenario "$kind" "$step" "$way"; done
    done
    report_counts
}
