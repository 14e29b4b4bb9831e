#!/usr/bin/env bash
# Spock test double: the add-node protocol (zodan-protocol.md steps 2-10)
# done by hand, adding bare n4 to a meshed n1..n3 (S = n1, O = n2, n3) while
# n1, n2 and n3 keep writing. n4's copy positions must be exactly what n1
# reported at the copy snapshot, and in the end all four nodes hold the same
# rows: nothing lost, nothing applied twice.
set -u
. "$(dirname "$0")/../lib.sh"

SETS="'{default,default_insert_only,ddl_sql}'"
node_id() { q "$1" "SELECT node_id FROM spock.node WHERE node_name = '$2'"; }
sets_of() { q "$1" "SELECT array_agg(set_name ORDER BY set_name) FROM spock.replication_set WHERE set_nodeid = (SELECT node_id FROM spock.local_node)"; }
wait_event() { # wait_event ON ORIGIN LSN: wait_for_sync_event on node ON for origin nORIGIN
    [ "$(q "$1" "CALL spock.wait_for_sync_event(NULL, 'n$2', '$3'::pg_lsn, 60)")" = t ]
}

cluster_start 4
for i in 1 2 3; do q "$i" "CREATE TABLE items (id bigint PRIMARY KEY, origin text, val int)"; done
cluster_mesh 3
for i in 1 2 3; do
    q "$i" "SELECT spock.repset_add_table('default', 'items')" >/dev/null
    q "$i" "INSERT INTO items SELECT $i * 1000000 + g, 'n$i', g FROM generate_series(-199, 0) g"
done

# Writers: one short transaction after another, bounded in time.
writer() {
    local i=$1 k=0 end=$((SECONDS + 90))
    while [ ! -e "$CLUSTER_DIR/stop" ] && [ $SECONDS -lt $end ]; do
        q "$i" "INSERT INTO items VALUES ($i * 1000000 + $k + 1, 'n$i', $k + 1)" 2>/dev/null || break
        k=$((k + 1))
    done
    echo "$k" >"$CLUSTER_DIR/writer$i.count"
}
for i in 1 2 3; do writer "$i" & done
sleep 1

# 2. Register N.
q 4 "SELECT spock.node_create('n4', '$(node_dsn 4)')" >/dev/null

# 3. Prepare each O.
declare -A E3 E4 P
for o in 2 3; do
    slot=$(q "$o" "SELECT spock.spock_gen_slot_name(current_database(), 'n$o', 'sub_n${o}_n4')")
    q "$o" "SELECT pg_create_logical_replication_slot('$slot', 'spock_output')" >/dev/null
    E3[$o]=$(q "$o" "SELECT spock.sync_event()")
    check_cmd "3.3 n1 applied n$o's stream through e_n$o" wait_event 1 "$o" "${E3[$o]}"
    q 4 "SELECT pg_replication_origin_drop(roname) FROM pg_replication_origin WHERE roname = '$slot'" >/dev/null
    q 4 "SELECT spock.sub_create('sub_n${o}_n4', '$(node_dsn "$o")', '$(sets_of "$o")', false, false, '{}', '0', false, enabled := false)" >/dev/null
done
check_eq "3.4 n4's subscriptions from the O's are disabled" "disabled,disabled" \
    "$(q 4 "SELECT string_agg(status, ',') FROM spock.sub_show_status()")"

# 4. Bring S up to date.
for o in 2 3; do
    E4[$o]=$(q "$o" "SELECT spock.sync_event()")
    check_cmd "4. n1 applied n$o's stream through its second event" wait_event 1 "$o" "${E4[$o]}"
done

# 5. Copy S to N.
q 4 "SELECT spock.sub_create('sub_n1_n4', '$(node_dsn 1)', '$(sets_of 1)', synchronize_structure := true, synchronize_data := true, forward_origins := '{}', enabled := true, skip_schema := '{}')" >/dev/null

# 6. Catch up.
e=$(q 1 "SELECT spock.sync_event()")
check_cmd "6. n4 applied n1's stream through a sync event" wait_event 4 1 "$e"

# 7. Skip what the copy already holds.
q 4 "SELECT spock.sub_wait_for_sync('sub_n1_n4')" >/dev/null
check_eq "7. sub_n1_n4 fully synced" "r" \
    "$(q 4 "SELECT sync_status FROM spock.local_sync_status l JOIN spock.subscription s ON s.sub_id = l.sync_subid WHERE s.sub_name = 'sub_n1_n4'")"
snaplog=$(q 1 "SELECT positions FROM spock._snapshot_log WHERE slot_name = 'spk_inventory_n1_sub_n1_n4' ORDER BY logged_at DESC LIMIT 1")
for o in 2 3; do
    P[$o]=$(q 4 "SELECT remote_commit_lsn FROM spock.progress WHERE remote_node_id = $(node_id 4 "n$o")")
    check_eq "7. n4's progress for n$o is what n1 reported at the copy snapshot" \
        "$(q 1 "SELECT '$snaplog'::jsonb ->> '$(node_id 1 "n$o")'")" "${P[$o]}"
    check_eq "7. ... which is at or past n$o's step-4 event" "t" "$(q 4 "SELECT '${P[$o]}'::pg_lsn >= '${E4[$o]}'")"
    check_eq "7. ... and not past what n$o has written" "t" "$(q "$o" "SELECT '${P[$o]}'::pg_lsn <= pg_current_wal_insert_lsn()")"
    slot=$(q "$o" "SELECT spock.spock_gen_slot_name(current_database(), 'n$o', 'sub_n${o}_n4')")
    q "$o" "SELECT pg_replication_slot_advance('$slot', '${P[$o]}')" >/dev/null
    q 4 "SELECT pg_replication_origin_advance('$slot', '${P[$o]}')" >/dev/null
done

# 8. Mirror replication sets (tables only here: no column lists, filters or sequences).
q 1 "SELECT s.set_name || ' ' || t.set_reloid::text FROM spock.replication_set_table t JOIN spock.replication_set s USING (set_id)" |
while read -r set rel; do q 4 "SELECT spock.repset_add_table('$set', '$rel')" >/dev/null; done
check_eq "8. n4's set tables equal n1's" \
    "$(q 1 "SELECT string_agg(s.set_name || ':' || t.set_reloid::text, ',' ORDER BY 1) FROM spock.replication_set_table t JOIN spock.replication_set s USING (set_id)")" \
    "$(q 4 "SELECT string_agg(s.set_name || ':' || t.set_reloid::text, ',' ORDER BY 1) FROM spock.replication_set_table t JOIN spock.replication_set s USING (set_id)")"

# 9. Open the O -> N paths.
for o in 2 3; do
    q 4 "SELECT spock.sub_enable('sub_n${o}_n4', true)" >/dev/null
    check_cmd "9. n4 applied n$o's stream through e_n$o" wait_event 4 "$o" "${E3[$o]}"
done
check_cmd "9. n4's subscriptions replicating" wait_replicating 4 60

# 10. Open the N -> everyone paths.
for x in 1 2 3; do
    q "$x" "SELECT spock.sub_create('sub_n4_n$x', '$(node_dsn 4)', '$(sets_of 4)', false, false, '{}', '0', false, enabled := true)" >/dev/null
done
for x in 1 2 3 4; do check_cmd "11. every subscription on n$x replicating" wait_replicating "$x" 60; done

# N writes too, then everybody stops and syncs.
q 4 "INSERT INTO items SELECT 4000000 + g, 'n4', g FROM generate_series(1, 50) g"
sleep 1
touch "$CLUSTER_DIR/stop"
wait
for f in 1 2 3 4; do for t in 1 2 3 4; do
    [ $f = $t ] || wait_sync $f $t 60 || fail "final sync n$f -> n$t"
done; done

d1=$(table_digest 1 items)
echo "# writers: n1 $(cat "$CLUSTER_DIR/writer1.count"), n2 $(cat "$CLUSTER_DIR/writer2.count"), n3 $(cat "$CLUSTER_DIR/writer3.count") rows"
expected=$(( 600 + 50 + $(cat "$CLUSTER_DIR/writer1.count") + $(cat "$CLUSTER_DIR/writer2.count") + $(cat "$CLUSTER_DIR/writer3.count") ))
check_eq "every committed row is on n1" "$expected" "${d1%% *}"
for i in 2 3 4; do check_eq "n$i holds exactly n1's rows" "$d1" "$(table_digest "$i" items)"; done
for i in 1 2 3 4; do
    check_eq "n$i: no subscription down" "0" "$(q "$i" "SELECT count(*) FROM spock.sub_show_status() WHERE status <> 'replicating'")"
done
check_eq "no change applied twice anywhere (no duplicate-key apply errors)" "0" \
    "$(cat "$CLUSTER_DIR"/n*.log | grep -c 'duplicate key' || true)"
report_counts
