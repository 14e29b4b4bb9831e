#!/usr/bin/env bash
# Demo: a local three-node cluster under write load on all three nodes; n4
# joins with spock.add_node while the writes go on; then the load stops and
# each node's row counts and checksums are printed (all four identical) with
# the add's wall time. Servers listen on 127.0.0.1 only and are stopped at the end.
# As root it first installs the Debian packages it needs (apt-get).
bash "$(dirname "$0")/install-deps.sh" || exit 1
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/inventory.sh"
source "$(dirname "$0")/load.sh"

echo "== building (or reusing) real Spock 6.0 and installing zodan into it"
ensure_zodan
echo "== starting n1..n4; meshing n1..n3 with tables items, orders, audit_log"
cluster_start 4
inventory_cluster 3
q 4 "CREATE EXTENSION zodan" >/dev/null

echo "== write load on n1, n2 and n3"
start_writers 300 1 2 3
sleep 2
echo "== on n4: CALL spock.add_node('n1', <n1 dsn>, 'n4', <n4 dsn>, verb := true)"
t0=$(date +%s%N)
psql_n 4 -c "SET client_min_messages = notice" \
    -c "CALL spock.add_node('n1', '$N1_DSN', 'n4', '$N4_DSN', verb := true)" 2>&1 | sed 's/^/   /'
rc=${PIPESTATUS[0]}
t1=$(date +%s%N)
[ "$rc" = 0 ] || die "add_node failed"
sleep 2
echo "== stopping the load; waiting until every node has applied everything"
stop_writers || die "a writer failed"
converge 1 2 3 4 || die "the nodes did not converge"

printf '\n%-5s %-44s %-44s %-44s\n' node items orders audit_log
for i in 1 2 3 4; do
    printf '%-5s %-44s %-44s %-44s\n' "n$i" "$(table_digest "$i" items)" "$(table_digest "$i" orders)" \
        "$(table_digest "$i" audit_log)"
done
same=1
for t in items orders audit_log; do
    for i in 2 3 4; do [ "$(table_digest 1 "$t")" = "$(table_digest "$i" "$t")" ] || same=0; done
done
echo
echo "add_node wall time: $(( (t1 - t0) / 1000000 )) ms"
if [ $same = 1 ]; then echo "all four nodes identical: yes"; else echo "all four nodes identical: NO"; exit 1; fi
