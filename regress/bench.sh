#!/usr/bin/env bash
# Side-by-side benchmark, in one run and on real Spock, of two ways to add
# node n(K+1) to a full mesh n1..nK that holds the inventory data set plus
# ROWS extra rows in `items`:
#   spock.add_node  this extension: CREATE EXTENSION zodan on the new node, then
#                   CALL spock.add_node('n1', <n1 dsn>, 'n<K+1>', <new dsn>) there
#   zodan.sql       the published PL/pgSQL script (samples/Z0DAN/zodan.sql of
#                   the Spock source tarball of the server's major version):
#                   CREATE EXTENSION dblink and the script on the new node, then
#                   the same CALL there
# Every measurement gets a fresh cluster. Each K of SIZES is measured quiet and
# busy (writers on n1..nK during the add, as t/60-add-node-under-load.sh does).
# Only the CALL is timed (wall clock around psql). Then the new node must hold
# the same `items` as n1 (row count and md5, after every node converged);
# a failed or wrong add is reported as such, never timed as a success.
#
#   bash regress/bench.sh
#   SIZES=3 RUNS=3 bash regress/bench.sh
#
# Environment:
#   SIZES    existing node counts K (default "3 6")
#   LOADS    "quiet busy" (default), or one of them
#   RUNS     measurements per cell (default 1); the table shows the best
#   ROWS     extra rows in items (default 20000)
#   TOOLS    "ours zodan.sql" (default), or one of them
#   VERBOSE  1: after each spock.add_node, its phase durations
#            (spock.zodan_add_node_status); the logs are kept
#   KEEP_LOGS=1  keep the logs folder also when every add succeeded
#   SPOCK_MAJOR=5 or PG_CONFIG   another server (see lib.sh)
#   ZODAN_SQL  a zodan.sql to use instead of the one in the Spock tarball
#   ZODAN_SHARED, SPOCK6_SRC, SPOCK5_SRC  where the tarball is, as for build-spock.sh
# Prints one line per measurement, then a markdown table and the targets.
# Exits non-zero when any add failed or left the new node with other rows.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/inventory.sh"
source "$(dirname "$0")/load.sh"
source "$(dirname "$0")/zodan-sql.sh"

ROWS=${ROWS:-20000}
RUNS=${RUNS:-1}
SIZES=${SIZES:-3 6}
LOADS=${LOADS:-quiet busy}
TOOLS=${TOOLS:-ours zodan.sql}
VERBOSE=${VERBOSE:-0}
TARGET_MS=3000          # adding to 3 existing nodes
TARGET_RATIO=10         # at least this many times faster than zodan.sql
TARGET_SCALE=1.2        # K > 3 existing nodes: at most this times the 3-node time

is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }
is_uint "$ROWS" || die "ROWS must be a number"
is_uint "$RUNS" && [ "$RUNS" -ge 1 ] || die "RUNS must be 1 or more"
for k in $SIZES; do is_uint "$k" && [ "$k" -ge 1 ] || die "SIZES: '$k' is not a node count"; done
for l in $LOADS; do case $l in quiet|busy) ;; *) die "LOADS: '$l' is neither quiet nor busy" ;; esac; done
for t in $TOOLS; do case $t in ours|zodan.sql) ;; *) die "TOOLS: '$t' is neither ours nor zodan.sql" ;; esac; done

tool_label() { case $1 in ours) echo spock.add_node ;; *) echo zodan.sql ;; esac; }

BENCH_DIR=$(mktemp -d "${TMPDIR:-/tmp}/zodan-bench.XXXXXX")
RESULTS="$BENCH_DIR/results"
: >"$RESULTS"


# measure TOOL K LOAD RUN: one fresh cluster, one add, one verdict. Runs in a
# subshell (its own cluster and EXIT trap); stderr goes to the measurement's
# log. Appends "K LOAD TOOL RUN STATUS MS NOTE" to $RESULTS.
measure() {
    local tool=$1 k=$2 load=$3 run=$4 new=$(( $2 + 1 )) i
    local call_log="$BENCH_DIR/k$k-$load-$tool-$run.call.log"
    cluster_start "$new"
    inventory_cluster "$k"
    q 1 "INSERT INTO items SELECT g, 'bench ' || g, g FROM generate_series(1001, 1000 + $ROWS) g" >/dev/null \
        || die "inserting $ROWS rows on n1 failed"
    for i in $(seq 2 "$k"); do wait_sync 1 "$i" 120 || die "the $ROWS rows did not reach n$i"; done
    case $tool in
        ours) q "$new" "CREATE EXTENSION zodan" >/dev/null || die "CREATE EXTENSION zodan on n$new failed" ;;
        zodan.sql)
            q "$new" "CREATE EXTENSION dblink" >/dev/null || die "CREATE EXTENSION dblink on n$new failed"
            psql_n "$new" -c "SET client_min_messages = warning" -f "$BENCH_DIR/zodan.sql" >/dev/null \
                || die "loading zodan.sql on n$new failed" ;;
    esac

    local rows_before rows_during=0
    if [ "$load" = busy ]; then
        rows_before=$(q 1 "SELECT count(*) FROM items")
        start_writers 900 $(seq 1 "$k")
        sleep 1
    fi
    local t0 t1 rc ms
    t0=$(date +%s%N)
    psql_n "$new" -c "CALL spock.add_node('n1', '$(node_dsn 1)', 'n$new', '$(node_dsn "$new")')" >"$call_log" 2>&1
    rc=$?
    t1=$(date +%s%N)
    ms=$(( (t1 - t0) / 1000000 ))

    local status=ok note=""
    if [ "$load" = busy ]; then
        rows_during=$(( $(q 1 "SELECT count(*) FROM items") - rows_before ))
        stop_writers 2>>"$call_log" || note="a writer failed (see $call_log); "
        note+="$rows_during rows written on n1 meanwhile; "
    fi
    if [ "$rc" != 0 ]; then
        status=FAILED
        note+="psql exit $rc: $(grep -m1 -E 'ERROR|FATAL' "$call_log" | sed -E 's/password=[^ ]*/password=***/g' | cut -c1-200)"
    elif ! converge $(seq 1 "$new") 2>>"$call_log"; then
        status=WRONG
        note+="the nodes did not converge: $(tail -n1 "$call_log")"
    else
        local d1 dn
        d1=$(table_digest 1 items); dn=$(table_digest "$new" items)
        if [ "${d1%% *}" != "${dn%% *}" ]; then
            status=WRONG; note+="n$new has ${dn%% *} rows in items, n1 ${d1%% *}"
        elif [ "$d1" != "$dn" ]; then
            status=WRONG; note+="n$new has n1's ${d1%% *} rows in items, but their contents differ"
        else
            note+="n$new has n1's ${d1%% *} rows in items"
        fi
    fi
    echo "$k $load $tool $run $status $ms $note" >>"$RESULTS"
    printf '%s existing nodes, %-5s %-15s run %s/%s: %7s ms  %-6s %s\n' \
        "$k" "$load" "$(tool_label "$tool")" "$run" "$RUNS" "$ms" "$status" "$note"
    if [ "$VERBOSE" = 1 ] && [ "$tool" = ours ]; then
        q "$new" "SELECT format('    phase %2s %-30s %-8s %7s ms', step_no, step_name, state,
                     coalesce(round(extract(epoch FROM duration) * 1000)::text, '-'))
                  FROM spock.zodan_add_node_status" 2>/dev/null
    fi
    cluster_stop
}

# --- header -----------------------------------------------------------------
ensure_spock
ensure_zodan
fetch_zodan_sql "$BENCH_DIR/zodan.sql"
cpu=$(sed -nE 's/^model name[[:space:]]*: *//p' /proc/cpuinfo 2>/dev/null | head -n1)
commit=$(git -C "$PROJECT_DIR" rev-parse --short HEAD 2>/dev/null)
[ -n "$commit" ] && [ -n "$(git -C "$PROJECT_DIR" status --porcelain -- src sql 2>/dev/null)" ] && commit+=" (src/ or sql/ modified)"
echo "# zodan benchmark: spock.add_node vs zodan.sql, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "# Spock $SPOCK_VERSION, $("$PGBIN/postgres" --version), $PG_CONFIG"
echo "# zodan.sql from $ZODAN_SQL_FROM"
echo "# machine: $(nproc) CPU(s)${cpu:+, $cpu}, $(uname -m), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# zodan commit ${commit:-unknown}; SIZES='$SIZES' LOADS='$LOADS' RUNS=$RUNS ROWS=$ROWS"
echo "# each add: n(K+1) joins the mesh n1..nK holding the inventory data set + $ROWS rows in items; busy = writers on n1..nK"
echo

# --- measurements -----------------------------------------------------------
for k in $SIZES; do
    for load in $LOADS; do
        for run in $(seq 1 "$RUNS"); do
            for tool in $TOOLS; do   # interleaved: both tools see the same machine noise
                log="$BENCH_DIR/k$k-$load-$tool-$run.log"
                ( measure "$tool" "$k" "$load" "$run" ) 2>"$log"
                rc=$?
                case $rc in 130|143) echo "interrupted" >&2; exit "$rc" ;; esac
                if ! grep -q "^$k $load $tool $run " "$RESULTS"; then
                    note="setup failed (exit $rc): $(grep -m1 'ERROR' "$log" | cut -c1-200); log $log"
                    echo "$k $load $tool $run SETUP-FAILED 0 $note" >>"$RESULTS"
                    printf '%s existing nodes, %-5s %-15s run %s/%s: %s\n' "$k" "$load" "$(tool_label "$tool")" "$run" "$RUNS" "$note"
                fi
            done
        done
    done
done

# --- table ------------------------------------------------------------------
declare -A best bad nruns worst_status
while read -r k load tool run status ms note; do
    key="$k,$load,$tool"
    nruns[$key]=$(( ${nruns[$key]:-0} + 1 ))
    if [ "$status" = ok ]; then
        { [ -z "${best[$key]:-}" ] || [ "$ms" -lt "${best[$key]}" ]; } && best[$key]=$ms
    else
        bad[$key]=$(( ${bad[$key]:-0} + 1 )); worst_status[$key]=$status
    fi
done <"$RESULTS"

cell() { # cell KEY: best ms, or the failure
    local key=$1
    if [ -z "${nruns[$key]:-}" ]; then echo "-"
    elif [ -n "${best[$key]:-}" ]; then
        echo "${best[$key]}${bad[$key]:+ (${bad[$key]} of ${nruns[$key]} runs ${worst_status[$key]})}"
    else echo "${worst_status[$key]}"; fi
}
fmt_ms() { awk -v v="$1" 'BEGIN { printf "%d", v + 0.5 }'; }

echo
if [ "$RUNS" -gt 1 ]; then echo "Best of $RUNS runs per cell, wall time of the CALL in ms:"; else echo "Wall time of the CALL in ms:"; fi
echo
echo "| existing nodes | load | spock.add_node (ms) | zodan.sql (ms) | ratio |"
echo "|---:|---|---:|---:|---:|"
for k in $SIZES; do
    for load in $LOADS; do
        a=${best[$k,$load,ours]:-}; z=${best[$k,$load,zodan.sql]:-}
        ratio="-"
        [ -n "$a" ] && [ -n "$z" ] && [ "$a" -gt 0 ] && ratio=$(awk -v a="$a" -v z="$z" 'BEGIN { printf "%.1fx", z / a }')
        echo "| $k | $load | $(cell "$k,$load,ours") | $(cell "$k,$load,zodan.sql") | $ratio |"
    done
done

# --- targets ----------------------------------------------------------------
verdict() { # verdict VALUE LIMIT: met, or missed by how much
    if [ "$1" -le "$2" ]; then echo "met"; else echo "missed by $(( $1 - $2 )) ms"; fi
}
echo
echo "Targets for spock.add_node (same run):"
has_size() { local s; for s in $SIZES; do [ "$s" = "$1" ] && return 0; done; return 1; }
for load in $LOADS; do
    a=${best[3,$load,ours]:-}
    if ! has_size 3; then
        echo "- adding to 3 nodes, $load: not measured (SIZES has no 3)"; continue
    elif [ -z "$a" ]; then
        echo "- adding to 3 nodes, $load: no successful spock.add_node"; continue
    fi
    echo "- adding to 3 nodes, $load: $a ms <= $TARGET_MS ms: $(verdict "$a" "$TARGET_MS")"
    z=${best[3,$load,zodan.sql]:-}
    if [ -n "$z" ]; then
        lim=$(fmt_ms "$(awk -v z="$z" -v r="$TARGET_RATIO" 'BEGIN { print z / r }')")
        echo "- adding to 3 nodes, $load: $a ms <= 1/$TARGET_RATIO of zodan.sql's $z ms ($lim ms): $(verdict "$a" "$lim")"
    else
        echo "- adding to 3 nodes, $load: <= 1/$TARGET_RATIO of zodan.sql: no successful zodan.sql to compare with"
    fi
    for k in $SIZES; do
        [ "$k" -gt 3 ] || continue
        b=${best[$k,$load,ours]:-}
        if [ -z "$b" ]; then echo "- adding to $k nodes, $load: no successful spock.add_node"; continue; fi
        lim=$(fmt_ms "$(awk -v a="$a" -v s="$TARGET_SCALE" 'BEGIN { print a * s }')")
        echo "- adding to $k nodes, $load: $b ms <= $TARGET_SCALE x the 3-node $a ms ($lim ms): $(verdict "$b" "$lim")"
    done
done
has_size 3 && ! has_size 6 && echo "- adding to 6 nodes <= $TARGET_SCALE x the 3-node time: not measured (SIZES has no 6)"
for k in $SIZES; do
    qt=${best[$k,quiet,ours]:-}; bz=${best[$k,busy,ours]:-}
    if [ -n "$qt" ] && [ -n "$bz" ]; then
        echo "- adding to $k nodes: quiet $qt ms no slower than busy $bz ms: $(verdict "$qt" "$bz")"
    else
        echo "- adding to $k nodes: quiet no slower than busy: not measured (needs a successful quiet and busy spock.add_node)"
    fi
done

failed=$(awk '$5 != "ok"' "$RESULTS" | wc -l)
echo
if [ "$failed" = 0 ]; then
    echo "All $(wc -l <"$RESULTS") adds succeeded and the new node held n1's rows."
    if [ "$VERBOSE" = 1 ] || [ "${KEEP_LOGS:-0}" = 1 ]; then echo "Logs: $BENCH_DIR"; else rm -rf "$BENCH_DIR"; fi
    exit 0
fi
echo "$failed of $(wc -l <"$RESULTS") adds failed or were wrong:"
while read -r k load tool run status ms note; do
    [ "$status" = ok ] || echo "- $k existing nodes, $load, $(tool_label "$tool") run $run: $status: $note"
done <"$RESULTS"
echo "Logs: $BENCH_DIR"
exit 1
