#!/usr/bin/env bash
# A copy longer than zodan.progress_interval reports its progress as NOTICEs
# (tables and bytes done of the total, rate, time left) and in the view
# spock.zodan_copy_progress, which another session reads while the add runs.
# A short copy says nothing (the pg_regress suites show that). Then the
# post-join check compares the new node with the source table by table and
# names a table made to differ on purpose.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../inventory.sh"
ensure_zodan
cluster_start 2
inventory_cluster 1
q 1 "CREATE TABLE public.big (id bigint PRIMARY KEY, payload text);
     SELECT spock.repset_add_table('default', 'public.big');
     INSERT INTO public.big SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 400000) g" >/dev/null
q 2 "CREATE EXTENSION zodan" >/dev/null
size=$(q 1 "SELECT pg_size_pretty(pg_relation_size('public.big'))")

psql_n 2 -c "SET zodan.progress_interval = '250ms'" -c "CALL spock.add_node('n1', '$N1_DSN', 'n2', '$N2_DSN')" \
    >"$CLUSTER_DIR/add.log" 2>&1 &
caller=$!
seen=""
while kill -0 $caller 2>/dev/null; do
    row=$(q 2 "SELECT tables_done || '/' || tables_total || ' ' || bytes_done || ' of ' || bytes_total
               FROM spock.zodan_copy_progress WHERE copy_state = 'running'" 2>/dev/null)
    [ -n "$row" ] && seen=$row
    sleep 0.1
done
wait $caller
check_eq "the add succeeds" 0 $? || cat "$CLUSTER_DIR/add.log"
grep "copying from" "$CLUSTER_DIR/add.log" | sed 's/^/# /'
lines=$(grep -c "NOTICE:  copying from n1: " "$CLUSTER_DIR/add.log")
check_cmd "the copy of $size reported its progress ($lines lines)" test "$lines" -ge 2
check_cmd "a line says tables, bytes, percent, rate and time left" \
    grep -qE "NOTICE:  copying from n1: [0-9]+/4 tables, [0-9.]+ [kMG]?B(ytes)? of [0-9.]+ [kMG]?B(ytes)? \([0-9]+%\), [0-9.]+ [kMG]?B(ytes)?/s, about [0-9]+ s left" "$CLUSTER_DIR/add.log"
check_cmd "the last line says all 4 tables, 100%" grep -q "copying from n1: 4/4 tables, .* (100%)" <(grep "copying from" "$CLUSTER_DIR/add.log" | tail -1)
check_cmd "another session saw the copy in spock.zodan_copy_progress while it ran ($seen)" test -n "$seen"
check_eq "afterwards the view shows the finished copy" "4/4 done" \
    "$(q 2 "SELECT tables_done || '/' || tables_total || ' ' || copy_state FROM spock.zodan_copy_progress")"
check_eq "and n2 holds every row" "$(table_digest 1 big)" "$(table_digest 2 big)"

out=$(psql_n 2 -c "CALL spock.health_check('n1', '$N1_DSN', 'n2', '$N2_DSN', 'post')" 2>&1)
check_cmd "health_check post: the tables match the source" grep -q "check passed: tables match the source" <<<"$out"
# Two rows gone on n2 alone (repair mode: not replicated), one table changed.
q 2 "BEGIN; SELECT spock.repair_mode(true); DELETE FROM public.big WHERE id <= 2; SELECT spock.repair_mode(false); COMMIT" >/dev/null
out=$(psql_n 2 -c "SET zodan.sync_timeout = '2s'" -c "CALL spock.health_check('n1', '$N1_DSN', 'n2', '$N2_DSN', 'post')" 2>&1)
check_cmd "health_check post names the table that differs: $(grep 'FAILED: tables' <<<"$out")" \
    grep -q 'check FAILED: tables match the source: .*public.big has 399998 rows on n2, 400000 on n1' <<<"$out"
check_cmd "and only that one" bash -c "! grep -q 'public.items has' <<<'$out'"
report_counts
