#!/usr/bin/env bash
# spock5: yes
# End to end: n4 joins meshed n1..n3 while each of them takes a continuous
# stream of inserts, updates and deletes; afterwards all four nodes hold
# identical tables (row count and md5 of the ordered rows). n4's database is
# named differently from the others' (Spock names slots after the subscriber's).
DB_N4=warehouse
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../inventory.sh"
source "$(dirname "$0")/../load.sh"
ensure_zodan
cluster_start 4
inventory_cluster 3
q 4 "CREATE EXTENSION zodan" >/dev/null

start_writers 120 1 2 3
sleep 1
before=$(q 1 "SELECT count(*) FROM items")
t0=$(date +%s%N)
psql_n 4 -c "CALL spock.add_node('n1', '$N1_DSN', 'n4', '$N4_DSN')" 2>"$CLUSTER_DIR/add.log"
rc=$?
t1=$(date +%s%N)
check_eq "add_node under load succeeds" 0 "$rc"
[ "$rc" = 0 ] || cat "$CLUSTER_DIR/add.log"
sleep 1   # writes go on after the join, now also reaching n4
check_cmd "the writers ran without error" stop_writers
after=$(q 1 "SELECT count(*) FROM items")
check_cmd "writers were writing during the add ($before -> $after rows on n1)" test "$after" -gt "$before"
echo "# add_node took $(( (t1 - t0) / 1000000 )) ms under load"

check_cmd "all four nodes converge" converge 1 2 3 4
for table in items orders audit_log; do
    ref=$(table_digest 1 "$table")
    for i in 2 3 4; do check_eq "$table on n$i equals n1 ($ref)" "$ref" "$(table_digest "$i" "$table")"; done
done
for i in 1 2 3 4; do
    check_eq "every subscription on n$i replicating" 0 \
        "$(q "$i" "SELECT count(*) FROM spock.sub_show_status() WHERE status <> 'replicating'")"
done
report_counts
