#!/usr/bin/env bash
# Large-data benchmark, in one run and on real Spock: how long adding n4 to a
# 3-node mesh n1..n3 takes when the nodes hold ROWS rows (about 300 MB per
# million) in four indexed tables, against the bare copy of the same data.
# Each measurement gets a fresh cluster of the same shape and data: n1..n3
# meshed, all holding the data, writers (load.sh) on n1..n3 during the timed
# part, n4 empty:
#   ours          this extension: CREATE EXTENSION zodan on n4, then
#                 CALL spock.add_node('n1', <n1 dsn>, 'n4', <n4 dsn>) there;
#                 also the duration of each of its phases, phase 5
#                 (copy_source) being Spock's initial sync (sub_create with
#                 structure and data, and the wait for it to finish), and
#                 phase 5 split by Spock's sync status (sampled every 0.1 s)
#   zodan.sql     the published PL/pgSQL script (samples/Z0DAN/zodan.sql of
#                 the Spock source tarball), with dblink, on n4: the same CALL
#   pg_dump       the bare copy: `pg_dump -t <the four tables>` of n1 piped
#                 into `psql` on n4 (n4 is no Spock node); only that is timed
#   pg_dump-quiet (not in the default) the same pipe between two plain
#                 servers, the first holding the data, without mesh or
#                 writers: the floor on an idle machine
# The data is generated on each node (deterministic generate_series, tables
# and indexes built before the mesh, subscriptions without copy): much
# faster than replicating it, and the same rows everywhere (row counts are
# checked before the mesh). Every add is verified after the writers stop and
# all nodes converge: n4 must hold n1's row count and checksum (an
# order-independent sum of row hashes) in every table; a copy, n1's
# generated rows (the writers never touch them). A failed or wrong
# measurement is reported as such, never timed as a success.
#
#   bash regress/bench-large.sh                   # 1,000,000 rows (~3 min on 2 idle cores)
#   ROWS=100000 bash regress/bench-large.sh       # a quick one
#   TOOLS="ours pg_dump pg_dump-quiet" bash regress/bench-large.sh
#
# Environment:
#   ROWS       rows in all four tables together (default 1000000)
#   TOOLS      "ours zodan.sql pg_dump pg_dump-quiet" (default), any of them
#   KEEP_LOGS=1  keep the logs folder also when everything succeeded
#   SPOCK_MAJOR=5 or PG_CONFIG   another server (see lib.sh)
#   ZODAN_SQL  a zodan.sql to use instead of the one in the Spock tarball
#   ZODAN_SHARED, SPOCK6_SRC, SPOCK5_SRC  where the tarball is, as for build-spock.sh
# Prints the data size, one line per measurement (and our phases), then a
# markdown table and the target "our add <= the bare copy + 3 s".
# Exits non-zero when any measurement failed or was wrong.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/load.sh"
source "$(dirname "$0")/zodan-sql.sh"

ROWS=${ROWS:-1000000}
TOOLS=${TOOLS:-ours zodan.sql pg_dump pg_dump-quiet}
TARGET_SLACK_S=3        # our add <= the bare copy + this
BULK_BASE=10000000      # bulk keys start above the writers' keys (load.sh: 1,100,001 ...)
WRITER_SECONDS=3600     # upper bound; the writers are stopped after the call

[[ $ROWS =~ ^[0-9]+$ ]] && [ "$ROWS" -ge 100 ] || die "ROWS must be a number, at least 100"
[ -n "$TOOLS" ] || die "TOOLS is empty"
for t in $TOOLS; do
    case $t in ours|zodan.sql|pg_dump|pg_dump-quiet) ;; *) die "TOOLS: '$t' is none of ours, zodan.sql, pg_dump, pg_dump-quiet" ;; esac
done

# Rows per table (the four add up to ROWS).
R_ITEMS=$(( ROWS * 40 / 100 ))
R_ORDERS=$(( ROWS * 35 / 100 ))
R_AUDIT=$(( ROWS * 15 / 100 ))
R_CUSTOMERS=$(( ROWS - R_ITEMS - R_ORDERS - R_AUDIT ))
TABLES="items orders audit_log customers"
LARGE_SETS="'{default,default_insert_only,ddl_sql,inventory_set}'"

BENCH_DIR=$(mktemp -d "${TMPDIR:-/tmp}/zodan-bench-large.XXXXXX")
chmod 755 "$BENCH_DIR"
RESULTS="$BENCH_DIR/results"
: >"$RESULTS"

tool_label() {
    case $1 in
        ours) echo spock.add_node ;; zodan.sql) echo zodan.sql ;;
        pg_dump) echo "pg_dump | psql" ;; *) echo "pg_dump | psql, quiet" ;;
    esac
}
now_ns() { date +%s%N; }
secs() { awk -v ns="$1" 'BEGIN { printf "%.1f", ns / 1e9 }'; }   # nanoseconds -> "12.3"


# --- the data set -------------------------------------------------------------
# The columns the writers of load.sh fill come first (items: id, name, qty;
# orders: id, item_id, note; audit_log: id, msg); the others have defaults.
# Tables are filled before their primary keys and indexes are built (faster),
# then frozen, so that no tool pays for hint bits.
large_data_sql() {
    cat <<SQL
SET maintenance_work_mem = '256MB';
SET synchronous_commit = off;
CREATE TABLE public.items (id int NOT NULL, name text NOT NULL, qty int NOT NULL DEFAULT 0,
    sku text NOT NULL DEFAULT '', descr text NOT NULL DEFAULT '');
CREATE TABLE public.orders (id int NOT NULL, item_id int NOT NULL, note text,
    amount numeric(12,2) NOT NULL DEFAULT 0, created_at timestamptz NOT NULL DEFAULT '2026-01-01 00:00:00+00');
CREATE TABLE public.audit_log (id bigint NOT NULL, msg text);
CREATE TABLE public.customers (id int NOT NULL, name text NOT NULL, email text NOT NULL, address text NOT NULL);
INSERT INTO public.items
    SELECT $BULK_BASE + g, 'item ' || g, g % 1000, 'SKU-' || lpad(g::text, 10, '0'),
           rpad(md5(g::text), 300, md5((g + 1)::text))
    FROM generate_series(1, $R_ITEMS) g;
INSERT INTO public.orders
    SELECT $BULK_BASE + g, $BULK_BASE + 1 + (g * 7) % greatest($R_ITEMS, 1), rpad('order ' || md5(g::text), 120, md5((g * 3)::text)),
           (g % 100000) / 100.0, timestamptz '2026-01-01 00:00:00+00' + g * interval '1 second'
    FROM generate_series(1, $R_ORDERS) g;
INSERT INTO public.audit_log
    SELECT $BULK_BASE + g, rpad('event ' || g || ' ' || md5(g::text), 160, md5((g * 5)::text))
    FROM generate_series(1, $R_AUDIT) g;
INSERT INTO public.customers
    SELECT $BULK_BASE + g, 'customer ' || g, 'c' || g || '@example.com', rpad(md5((g * 11)::text), 140, md5(g::text))
    FROM generate_series(1, $R_CUSTOMERS) g;
ALTER TABLE public.items ADD PRIMARY KEY (id);
CREATE INDEX items_sku_idx ON public.items (sku);
ALTER TABLE public.orders ADD PRIMARY KEY (id);
CREATE INDEX orders_item_id_idx ON public.orders (item_id);
ALTER TABLE public.audit_log ADD PRIMARY KEY (id);
ALTER TABLE public.customers ADD PRIMARY KEY (id);
CREATE UNIQUE INDEX customers_email_idx ON public.customers (email);
VACUUM (FREEZE, ANALYZE) public.items, public.orders, public.audit_log, public.customers;
SQL
}

# The tables in the built-in sets and a user-created one (as inventory.sh):
# every subscription carries all four sets.
large_sets_sql() {
    cat <<'SQL'
SELECT spock.repset_create('inventory_set');
SELECT spock.repset_add_table('default', 'public.items');
SELECT spock.repset_add_table('inventory_set', 'public.orders');
SELECT spock.repset_add_table('default_insert_only', 'public.audit_log');
SELECT spock.repset_add_table('default', 'public.customers');
SQL
}

# load_nodes I...: the data set on every listed node, in parallel.
load_nodes() {
    local i pids=() rc=0
    for i in "$@"; do
        large_data_sql | psql_n "$i" >/dev/null 2>"$CLUSTER_DIR/load-n$i.err" &
        pids+=($!)
    done
    for i in "${pids[@]}"; do wait "$i" || rc=1; done
    [ $rc = 0 ] || die "loading the data failed: $(cat "$CLUSTER_DIR"/load-n*.err | head -c 300)"
}

# counts I: "table=rows ..." of node I (count(*) of every table).
counts() {
    local t sql=""
    for t in $TABLES; do sql+="${sql:+ || ' ' || }'$t=' || (SELECT count(*) FROM public.$t)"; done
    q "$1" "SELECT $sql"
}

# checksums I [WHERE]: "table=rows:sum ..." of node I: row count and the sum
# of the rows' hashes (order-independent), one scan per table, of the rows
# that satisfy WHERE (every table has an id) when given.
checksums() {
    local t sql="" where=${2:+WHERE $2}
    for t in $TABLES; do
        sql+="${sql:+ || ' ' || }(SELECT '$t=' || count(*) || ':' || coalesce(sum(hashtext(x::text)::bigint), 0) FROM public.$t x $where)"
    done
    q "$1" "SELECT $sql"
}
counts_of() { sed -E 's/:-?[0-9]+//g' <<<"$1"; }   # "t=rows:sum ..." -> "t=rows ..."

# print_sizes I: the database's and every table's size on node I.
print_sizes() {
    echo "Data set (ROWS=$ROWS), on n1:"
    q "$1" "SELECT format('  database %s: %s', current_database(), pg_size_pretty(pg_database_size(current_database())))"
    q "$1" "SELECT format('  %-10s %9s rows  table %8s  indexes %8s  total %8s', c.relname, c.reltuples::bigint,
                          pg_size_pretty(pg_table_size(c.oid)), pg_size_pretty(pg_indexes_size(c.oid)),
                          pg_size_pretty(pg_total_relation_size(c.oid)))
            FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' ORDER BY c.relname"
    q "$1" "SELECT format('  all tables: %s rows, %s (%s of it indexes)',
                          sum(c.reltuples)::bigint, pg_size_pretty(sum(pg_total_relation_size(c.oid))),
                          pg_size_pretty(sum(pg_indexes_size(c.oid))))
            FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'"
    echo
}

# record TOOL STATUS NS SYNC_NS NOTE: one result line, also printed.
record() {
    local tool=$1 status=$2 ns=$3 sync_ns=$4 note=$5
    echo "$tool $status $ns $sync_ns $note" >>"$RESULTS"
    printf '%-28s %8s s  %-6s %s\n' "$(tool_label "$tool")" "$(secs "$ns")" "$status" "$note"
}

# start_sync_poller I SUB FILE: samples, every 0.1 s in one session on node
# I, the status of subscription SUB's initial sync ("epoch|status", "-"
# before the subscription exists): i init, s structure, d data,
# c constraints, r ready.
SYNC_POLL_PID=
start_sync_poller() {
    local v="N$1_PORT"
    ( exec env PGPASSWORD="$(node_password "$1")" "$PGBIN/psql" -X -q -At -h 127.0.0.1 -p "${!v}" -U "$TEST_USER" -d "$(node_db "$1")" ) \
        <<<"SELECT extract(epoch FROM clock_timestamp())::numeric(20,3), coalesce((SELECT s.sync_status::text
               FROM spock.local_sync_status s JOIN spock.subscription sub ON sub.sub_id = s.sync_subid
               WHERE sub.sub_name = '$2' AND s.sync_relname IS NULL), '-')
\\watch 0.1" >"$3" 2>/dev/null &
    SYNC_POLL_PID=$!
}
stop_sync_poller() {
    [ -n "$SYNC_POLL_PID" ] || return 0
    kill -INT "$SYNC_POLL_PID" 2>/dev/null; wait "$SYNC_POLL_PID" 2>/dev/null
    SYNC_POLL_PID=
}

# sync_timeline FILE START END: phase 5 (epochs START..END) split by the
# sampled sync status: how long each lasted, to the nearest sample.
sync_timeline() {
    awk -F'|' -v s="$2" -v e="$3" '
        function label(st) {
            if (st == "i") return "waiting for the sync worker"
            if (st == "s") return "structure (pg_dump, pre-data restore)"
            if (st == "d") return "data (COPY)"
            if (st == "c") return "indexes and constraints (post-data restore)"
            if (st == "r" || st == "y") return "ready, until zodan saw it"
            return "status " st
        }
        $2 != "" && $2 != "-" && $2 != last && $1 + 0 >= s + 0 { if (!($2 in first)) { first[$2] = $1; order[n++] = $2 } last = $2 }
        END {
            if (n == 0) { print "no sample"; exit }
            prev = s; lab = "sub_create, worker start"; out = ""
            for (k = 0; k < n; k++) {
                if (first[order[k]] + 0 > e + 0) break
                out = out sprintf("%s %.1f s, ", lab, first[order[k]] - prev); prev = first[order[k]]; lab = label(order[k])
            }
            printf "%s%s %.1f s\n", out, lab, e - prev
        }' "$1"
}

# Stops what a measurement started, however it ends (its EXIT trap).
measurement_cleanup() {
    [ -n "${LOAD_STOP:-}" ] && touch "$LOAD_STOP" 2>/dev/null
    stop_sync_poller
    cluster_stop
}

# --- measurements (each in a subshell: its own cluster and EXIT trap) --------

# build_mesh: n1..n4 started; n1..n3 hold the data and are meshed; n4 is empty.
build_mesh() {
    local i t0 c1 c
    cluster_start 4
    trap measurement_cleanup EXIT
    t0=$(now_ns)
    load_nodes 1 2 3
    c1=$(counts 1)
    for i in 2 3; do
        c=$(counts "$i"); [ "$c" = "$c1" ] || die "n$i's data differs from n1's: $c vs $c1"
    done
    log "data loaded on n1..n3 in $(secs $(( $(now_ns) - t0 ))) s: $c1"
    [ -e "$BENCH_DIR/sizes.printed" ] || { print_sizes 1 && touch "$BENCH_DIR/sizes.printed"; }
    node_create_all 3
    for i in 1 2 3; do large_sets_sql | psql_n "$i" >/dev/null || die "replication sets on n$i failed"; done
    mesh_subscriptions 3 "$LARGE_SETS"
    log "mesh n1..n3 ready in $(secs $(( $(now_ns) - t0 ))) s"
}

# measure_add TOOL: n1..n3 meshed with the data, writers on n1..n3, n4 added.
measure_add() {
    local tool=$1 call_log="$BENCH_DIR/$tool.call.log" poll="$BENCH_DIR/$tool.sync-status"
    build_mesh
    case $tool in
        ours) q 4 "CREATE EXTENSION zodan" >/dev/null || die "CREATE EXTENSION zodan on n4 failed" ;;
        zodan.sql)
            q 4 "CREATE EXTENSION dblink" >/dev/null || die "CREATE EXTENSION dblink on n4 failed"
            psql_n 4 -c "SET client_min_messages = warning" -f "$BENCH_DIR/zodan.sql" >/dev/null \
                || die "loading zodan.sql on n4 failed" ;;
    esac

    local before written
    before=$(q 1 "SELECT count(*) FROM items")
    start_writers "$WRITER_SECONDS" 1 2 3
    [ "$tool" = ours ] && start_sync_poller 4 sub_n1_n4 "$poll"
    sleep 1
    local t1 t2 rc
    t1=$(now_ns)
    psql_n 4 -c "CALL spock.add_node('n1', '$(node_dsn 1)', 'n4', '$(node_dsn 4)')" >"$call_log" 2>&1
    rc=$?
    t2=$(now_ns)
    stop_sync_poller
    written=$(( $(q 1 "SELECT count(*) FROM items") - before ))

    local status=ok note="" sync_ns=0
    stop_writers 2>>"$call_log" || note="a writer failed (see $call_log); "
    note+="$written rows written to items on n1 meanwhile; "
    if [ "$rc" != 0 ]; then
        status=FAILED
        note+="psql exit $rc: $(grep -m1 -E 'ERROR|FATAL' "$call_log" | sed -E 's/password=[^ ]*/password=***/g' | cut -c1-200)"
    elif ! converge 1 2 3 4 2>>"$call_log"; then
        status=WRONG; note+="the nodes did not converge: $(tail -n1 "$call_log")"
    else
        local s1 s4
        s1=$(checksums 1); s4=$(checksums 4)
        if [ -z "$s1" ] || [ "$s1" != "$s4" ]; then
            status=WRONG; note+="n4 differs from n1: n1 ${s1:-?} / n4 ${s4:-?}"
        else
            note+="n4 = n1 in every table ($(counts_of "$s1"))"
        fi
    fi
    if [ "$tool" = ours ]; then
        sync_ns=$(q 4 "SELECT coalesce(round(extract(epoch FROM duration) * 1e9)::bigint, 0)
                       FROM spock.zodan_add_node_status WHERE step_name = 'copy_source'" 2>/dev/null)
        [ -n "$sync_ns" ] || sync_ns=0
    fi
    record "$tool" "$status" $(( t2 - t1 )) "$sync_ns" "$note"
    if [ "$tool" = ours ]; then
        q 4 "SELECT format('    phase %2s %-30s %-8s %8s s%s', step_no, step_name, state,
                     coalesce(to_char(extract(epoch FROM duration), 'FM99990.00'), '-'),
                     CASE WHEN step_name = 'copy_source' THEN '   <- Spock''s initial sync (sub_create + wait)' ELSE '' END)
             FROM spock.zodan_add_node_status" 2>/dev/null
        local span
        span=$(q 4 "SELECT extract(epoch FROM started_at)::numeric(20,3) || ' ' || extract(epoch FROM finished_at)::numeric(20,3)
                    FROM spock.zodan_add_node_status WHERE step_name = 'copy_source' AND finished_at IS NOT NULL" 2>/dev/null)
        [ -n "$span" ] && echo "    phase 5, by Spock's sync status of sub_n1_n4 (sampled every 0.1 s): $(sync_timeline "$poll" $span)"
    fi
}

# pg_dump_copy FROM TO: pg_dump of the tables on node FROM into psql on node
# TO; sets DUMP_NS (its wall time) and DUMP_RC ("0 0" when both succeeded).
pg_dump_copy() {
    local from=$1 to=$2 log_file="$BENCH_DIR/$3.call.log" t args=() t1 t2 vf="N$1_PORT" vt="N$2_PORT"
    for t in $TABLES; do args+=(-t "public.$t"); done
    t1=$(now_ns)
    PGPASSWORD=$(node_password "$from") "$PGBIN/pg_dump" -h 127.0.0.1 -p "${!vf}" -U "$TEST_USER" -d "$(node_db "$from")" \
            "${args[@]}" 2>"$log_file" \
        | PGPASSWORD=$(node_password "$to") "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "${!vt}" -U "$TEST_USER" \
              -d "$(node_db "$to")" >/dev/null 2>>"$log_file"
    DUMP_RC="${PIPESTATUS[0]} ${PIPESTATUS[1]}"
    t2=$(now_ns)
    DUMP_NS=$(( t2 - t1 ))
    DUMP_ERR=$(grep -m1 -iE 'ERROR|FATAL' "$log_file" | cut -c1-200)
}

# measure_dump: the mesh n1..n3 with the data under writers, as for the adds;
# pg_dump | psql from n1 into n4 (empty, no Spock node). The writers never
# touch the generated rows (keys from BULK_BASE on), so n4 must hold exactly
# n1's generated rows, and the writers' rows of the dump's snapshot.
measure_dump() {
    build_mesh
    start_writers "$WRITER_SECONDS" 1 2 3
    sleep 1
    pg_dump_copy 1 4 pg_dump
    local status=ok note=""
    stop_writers 2>>"$BENCH_DIR/pg_dump.call.log" || note="a writer failed; "
    if [ "$DUMP_RC" != "0 0" ]; then
        status=FAILED; note+="exit status pg_dump/psql $DUMP_RC: $DUMP_ERR"
    else
        local s1 s4 c4
        s1=$(checksums 1 "id >= $BULK_BASE"); s4=$(checksums 4 "id >= $BULK_BASE")
        if [ -z "$s1" ] || [ "$s1" != "$s4" ]; then
            status=WRONG; note+="n4's generated rows differ from n1's: n1 ${s1:-?} / n4 ${s4:-?}"
        else
            c4=$(counts 4)
            note+="n4 = n1 in the generated rows of every table ($(counts_of "$s1")); n4 in all: $c4"
        fi
    fi
    record pg_dump "$status" "$DUMP_NS" 0 "$note"
}

# measure_dump_quiet: two plain servers (no Spock node, no writers), the
# first holding the data: pg_dump | psql from n1 into n2.
measure_dump_quiet() {
    cluster_start 2
    trap measurement_cleanup EXIT
    local t0=$(now_ns)
    load_nodes 1
    log "data loaded on n1 in $(secs $(( $(now_ns) - t0 ))) s: $(counts 1)"
    [ -e "$BENCH_DIR/sizes.printed" ] || { print_sizes 1 && touch "$BENCH_DIR/sizes.printed"; }
    pg_dump_copy 1 2 pg_dump-quiet
    local status=ok note=""
    if [ "$DUMP_RC" != "0 0" ]; then
        status=FAILED; note="exit status pg_dump/psql $DUMP_RC: $DUMP_ERR"
    else
        local s1 s2
        s1=$(checksums 1); s2=$(checksums 2)
        if [ -z "$s1" ] || [ "$s1" != "$s2" ]; then
            status=WRONG; note="the target differs: source ${s1:-?} / target ${s2:-?}"
        else
            note="target = source in every table ($(counts_of "$s1"))"
        fi
    fi
    record pg_dump-quiet "$status" "$DUMP_NS" 0 "$note"
}

# --- header -----------------------------------------------------------------
ensure_spock
ensure_zodan
case " $TOOLS " in *" zodan.sql "*) fetch_zodan_sql "$BENCH_DIR/zodan.sql" ;; esac
cpu=$(sed -nE 's/^model name[[:space:]]*: *//p' /proc/cpuinfo 2>/dev/null | head -n1)
commit=$(git -C "$PROJECT_DIR" rev-parse --short HEAD 2>/dev/null)
[ -n "$commit" ] && [ -n "$(git -C "$PROJECT_DIR" status --porcelain -- src sql 2>/dev/null)" ] && commit+=" (src/ or sql/ modified)"
echo "# zodan large-data benchmark: spock.add_node vs zodan.sql vs pg_dump | psql, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "# Spock $SPOCK_VERSION, $("$PGBIN/postgres" --version), $PG_CONFIG"
[ -n "${ZODAN_SQL_FROM:-}" ] && echo "# zodan.sql from $ZODAN_SQL_FROM"
echo "# machine: $(nproc) CPU(s)${cpu:+, $cpu}, $(uname -m), $(awk '/MemTotal/ { printf "%.0f GB RAM", $2 / 1048576 }' /proc/meminfo), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# zodan commit ${commit:-unknown}; ROWS=$ROWS (items $R_ITEMS, orders $R_ORDERS, audit_log $R_AUDIT, customers $R_CUSTOMERS); TOOLS='$TOOLS'"
echo "# each measurement: a fresh mesh n1..n3 holding the data, writers on n1..n3; n4 (empty) added, or pg_dump | psql from n1 into n4"
case " $TOOLS " in *" pg_dump-quiet "*) echo "# pg_dump-quiet: two plain servers, no Spock node, no writers" ;; esac
echo

# --- measurements -----------------------------------------------------------
for tool in $TOOLS; do
    log_file="$BENCH_DIR/$tool.log"
    echo "[bench-large] $(tool_label "$tool"): building a fresh cluster ($(date -u +%H:%M:%S))" >&2
    case $tool in
        pg_dump) ( measure_dump ) 2>"$log_file" ;;
        pg_dump-quiet) ( measure_dump_quiet ) 2>"$log_file" ;;
        *) ( measure_add "$tool" ) 2>"$log_file" ;;
    esac
    rc=$?
    case $rc in 130|143) echo "interrupted" >&2; exit "$rc" ;; esac
    if ! grep -q "^$tool " "$RESULTS"; then
        record "$tool" SETUP-FAILED 0 0 "setup failed (exit $rc): $(grep -m1 'ERROR' "$log_file" | cut -c1-200); log $log_file"
    fi
done

# --- table ------------------------------------------------------------------
declare -A status_of ns_of sync_of note_of
while read -r tool status ns sync_ns note; do
    status_of[$tool]=$status; ns_of[$tool]=$ns; sync_of[$tool]=$sync_ns; note_of[$tool]=$note
done <"$RESULTS"

echo
echo "Wall time of the timed command, ROWS=$ROWS:"
echo
echo "| tool | wall time (s) | of which Spock's initial sync (s) | verified |"
echo "|---|---:|---:|---|"
for tool in $TOOLS; do
    st=${status_of[$tool]}
    wall="-"; sync="-"
    [ "$st" = ok ] && wall=$(secs "${ns_of[$tool]}")
    [ "$st" != SETUP-FAILED ] && [ "$st" != ok ] && wall="$(secs "${ns_of[$tool]}") ($st)"
    if [ "$tool" = ours ] && [ "${sync_of[$tool]:-0}" != 0 ]; then
        sync="$(secs "${sync_of[$tool]}") ($(awk -v s="${sync_of[$tool]}" -v w="${ns_of[$tool]}" 'BEGIN { printf "%.0f", 100 * s / w }')%, phase 5)"
    fi
    case $st in ok) ver=yes ;; *) ver="no: $st" ;; esac
    echo "| $(tool_label "$tool" | sed 's/|/\\|/') | $wall | $sync | $ver |"
done

# target TOOL: our add against that bare copy.
target() {
    local a=${ns_of[ours]} b=${ns_of[$1]} lim v
    lim=$(( b + TARGET_SLACK_S * 1000000000 ))
    if [ "$a" -le "$lim" ]; then v=met; else v="missed by $(secs $(( a - lim ))) s"; fi
    echo "Target: our add $(secs "$a") s <= $(tool_label "$1") $(secs "$b") s + $TARGET_SLACK_S s = $(secs "$lim") s: $v"
}
echo
measured=0
for t in pg_dump pg_dump-quiet; do
    if [ "${status_of[ours]:-}" = ok ] && [ "${status_of[$t]:-}" = ok ]; then target "$t"; measured=1; fi
done
[ $measured = 1 ] || echo "Target: our add <= the bare copy + $TARGET_SLACK_S s: not measured (needs a verified spock.add_node and pg_dump | psql)"

failed=$(awk '$2 != "ok"' "$RESULTS" | wc -l)
echo
if [ "$failed" = 0 ]; then
    echo "All $(wc -l <"$RESULTS") measurements succeeded and were verified."
    if [ "${KEEP_LOGS:-0}" = 1 ]; then echo "Logs: $BENCH_DIR"; else rm -rf "$BENCH_DIR"; fi
    exit 0
fi
echo "$failed of $(wc -l <"$RESULTS") measurements failed or were wrong:"
while read -r tool status ns sync_ns note; do
    [ "$status" = ok ] || echo "- $(tool_label "$tool"): $status: $note"
done <"$RESULTS"
echo "Logs: $BENCH_DIR"
exit 1
