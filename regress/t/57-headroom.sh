#!/usr/bin/env bash
# Headroom before any change: a node short of replication slots, WAL senders
# or worker processes stops add_node in its checks with one clear error per
# node and setting, and nothing has changed anywhere. health_check('pre')
# reports the same. (wal_level and track_commit_timestamp are checked too, but
# Spock itself refuses to start without them, so only the unit tests show
# those messages.)
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../inventory.sh"
source "$(dirname "$0")/../faults.sh"   # node_stop / node_start
ensure_zodan
cluster_start 4
inventory_cluster 3
q 4 "CREATE EXTENSION zodan" >/dev/null

set_and_restart() { # set_and_restart NODE "setting = value": appended last, so it wins
    echo "$2" >>"$CLUSTER_DIR/n$1/postgresql.conf"
    node_stop "$1"; node_start "$1"
}
undo_and_restart() { # undo_and_restart NODE: drops that last line again
    sed -i '$d' "$CLUSTER_DIR/n$1/postgresql.conf"
    node_stop "$1"; node_start "$1"
}
state() { # everything an add would have changed, on all four nodes
    local i
    for i in 1 2 3 4; do
        q "$i" "SELECT (SELECT count(*) FROM pg_replication_slots) || '/' || (SELECT count(*) FROM spock.subscription)
                || '/' || (SELECT count(*) FROM spock.node) || '/' || (SELECT count(*) FROM pg_replication_origin)"
    done
}
expect_refused() { # expect_refused LABEL PATTERN
    local out
    out=$(psql_n 4 -c "CALL spock.add_node('n1', '$N1_DSN', 'n4', '$N4_DSN')" 2>&1)
    check_cmd "$1: $(grep ERROR <<<"$out")" grep -q "$2" <<<"$out"
    check_eq "$1: nothing changed on any node" "$before" "$(state)"
}
before=$(state)

# n2 serves two subscriptions: with max_replication_slots = 2 it has no slot
# left for n4's subscription.
set_and_restart 2 "max_replication_slots = 2"
wait_replicating 2 60 >/dev/null
expect_refused "n2 without a free slot" 'node "n2": max_replication_slots = 2, 2 in use, the join needs 1 more'
out=$(psql_n 4 -c "CALL spock.health_check('n1', '$N1_DSN', 'n4', '$N4_DSN', 'pre')" 2>&1)
check_cmd "health_check pre names the same shortfall" grep -q 'check FAILED: free replication slots on n2' <<<"$out"
undo_and_restart 2

# n3 with every WAL sender busy.
set_and_restart 3 "max_wal_senders = 2"
wait_replicating 3 60 >/dev/null
for t in $(seq 1 50); do [ "$(q 3 "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'walsender'")" = 2 ] && break; sleep 0.2; done
expect_refused "n3 without a free WAL sender" 'node "n3": max_wal_senders = 2, 2 in use, the join needs 1 more'
undo_and_restart 3

# n4 needs an apply worker per existing node and a sync worker.
set_and_restart 4 "max_worker_processes = 4"
expect_refused "n4 short of worker processes" 'node "n4": max_worker_processes = 4, .* in use, the join needs 4 more'
undo_and_restart 4

for i in 1 2 3; do wait_replicating "$i" 60 >/dev/null; done
out=$(psql_n 4 -c "CALL spock.add_node('n1', '$N1_DSN', 'n4', '$N4_DSN')" 2>&1)
check_eq "with the settings back, the add succeeds" 0 $? || echo "$out" | grep ERROR | sed 's/^/# /'
report_counts
