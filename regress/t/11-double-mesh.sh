#!/usr/bin/env bash
# Spock test double: a 3-node mesh converges and does not loop.
# Inserts, updates and deletes made on every node end up identical on all
# three, and stay identical for 5 s after the writes stop.
set -u
. "$(dirname "$0")/../lib.sh"

cluster_start 3
for i in 1 2 3; do
    q "$i" "CREATE TABLE items (id int PRIMARY KEY, origin text, val int)"
done
cluster_mesh 3
for i in 1 2 3; do
    q "$i" "SELECT spock.repset_add_table('default', 'items')" >/dev/null
done

# Each node writes its own key range, then touches the others' rows.
for i in 1 2 3; do
    q "$i" "INSERT INTO items SELECT g, 'n$i', g FROM generate_series($i * 1000, $i * 1000 + 99) g"
done
for f in 1 2 3; do for t in 1 2 3; do [ $f = $t ] || wait_sync $f $t || fail "sync n$f -> n$t"; done; done
q 1 "UPDATE items SET val = val + 1 WHERE origin = 'n2' AND id % 2 = 0"
q 2 "DELETE FROM items WHERE origin = 'n3' AND id % 5 = 0"
q 3 "UPDATE items SET val = -val WHERE origin = 'n1' AND id < 1050"
q 3 "INSERT INTO items VALUES (9999, 'n3', 1)"
for f in 1 2 3; do for t in 1 2 3; do [ $f = $t ] || wait_sync $f $t || fail "sync n$f -> n$t"; done; done

d1=$(table_digest 1 items)
check_eq "n1 has every row (300 + 1 - 20 deleted)" "281" "${d1%% *}"
check_eq "n2 equals n1" "$d1" "$(table_digest 2 items)"
check_eq "n3 equals n1" "$d1" "$(table_digest 3 items)"
check_eq "update from n1 applied on n3" "50" "$(q 3 "SELECT count(*) FROM items WHERE origin = 'n2' AND val % 2 = 1 AND id % 2 = 0")"

# No loops: nothing keeps moving once the writes stop.
# Replicated DDL: runs on every node, and the new table replicates once added.
q 1 "SELECT spock.replicate_ddl('CREATE TABLE public.ddl_t (id int PRIMARY KEY, v text)')" >/dev/null
for t in 2 3; do wait_sync 1 $t || fail "sync n1 -> n$t after DDL"; done
for i in 1 2 3; do
    check_eq "replicated DDL created ddl_t on n$i" "1" "$(q "$i" "SELECT count(*) FROM pg_tables WHERE tablename = 'ddl_t'")"
    q "$i" "SELECT spock.repset_add_table('default', 'ddl_t')" >/dev/null
done
q 2 "INSERT INTO ddl_t VALUES (1, 'from n2')"
for t in 1 3; do wait_sync 2 $t || fail "sync n2 -> n$t"; done
check_eq "rows of a table created by replicated DDL flow" "1|1" \
    "$(q 1 "SELECT count(*) FROM ddl_t")|$(q 3 "SELECT count(*) FROM ddl_t")"
check_eq "spock.tables lists set membership" "ddl_t:default items:default" \
    "$(q 3 "SELECT string_agg(relname || ':' || coalesce(set_name, '-'), ' ' ORDER BY relname) FROM spock.tables")"
check_eq "lag_tracker has a row per remote origin" "n1>n3 n2>n3" \
    "$(q 3 "SELECT string_agg(origin_name || '>' || receiver_name, ' ' ORDER BY origin_name) FROM spock.lag_tracker")"
check_eq "progress has a row per remote origin" "2" "$(q 3 "SELECT count(*) FROM spock.progress")"

# A loop would re-send changes for ever: WAL would keep growing.
for i in 1 2 3; do eval "lsn_$i=\$(q $i 'SELECT pg_current_wal_lsn()')"; done
sleep 5
for i in 1 2 3; do
    v="lsn_$i"
    grown=$(q "$i" "SELECT pg_current_wal_lsn() - '${!v}'::pg_lsn < 65536")
    check_eq "n$i wrote (almost) no WAL in the 5 s window" "t" "$grown"
done
check_eq "n1 unchanged after 5 s" "$d1" "$(table_digest 1 items)"
check_eq "n2 unchanged after 5 s" "$d1" "$(table_digest 2 items)"
check_eq "n3 unchanged after 5 s" "$d1" "$(table_digest 3 items)"
for i in 1 2 3; do
    check_eq "every subscription on n$i still replicating" "0" \
        "$(q "$i" "SELECT count(*) FROM spock.sub_show_status() WHERE status <> 'replicating'")"
done
check_eq "no changes applied twice (no apply errors in logs)" "0" \
    "$(cat "$CLUSTER_DIR"/n*.log | grep -c 'duplicate key' || true)"
report_counts
