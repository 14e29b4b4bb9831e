#!/usr/bin/env bash
# Safe by default: who may call the procedures, which connections a
# non-superuser may use, that remove_node changes nothing when its DSN
# reaches another node than the one named, and that a node without the
# zodan extension can still be removed.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../inventory.sh"
ensure_zodan
cluster_start 4
inventory_cluster 3
q 4 "CREATE EXTENSION zodan" >/dev/null
q 1 "CREATE EXTENSION zodan" >/dev/null
q 4 "CREATE ROLE operator LOGIN PASSWORD 'Zodan-pw-operator-$PASSWORD_SALT'; GRANT USAGE ON SCHEMA spock TO operator" >/dev/null
as_operator() { # as_operator SQL: runs SQL on n4 as the unprivileged role; prints its output
    PGPASSWORD="Zodan-pw-operator-$PASSWORD_SALT" "$PGBIN/psql" -X -q -At -h 127.0.0.1 -p "$N4_PORT" \
        -U operator -d "$(node_db 4)" -c "$1" 2>&1
}

out=$(as_operator "CALL spock.health_check('n1', '$N1_DSN')")
check_cmd "a role without EXECUTE cannot call health_check: $out" grep -q "permission denied for procedure health_check" <<<"$out"
out=$(as_operator "CALL spock.add_node('n1', '$N1_DSN', 'n4', '$N4_DSN')")
check_cmd "nor add_node" grep -q "permission denied for procedure add_node" <<<"$out"
out=$(as_operator "CALL spock.remove_node('n4', '$N4_DSN')")
check_cmd "nor remove_node" grep -q "permission denied for procedure remove_node" <<<"$out"

# Granted EXECUTE, it still may not reach a node as the server's own
# identity: n1's socket trusts local connections, so no password is asked.
q 4 "GRANT EXECUTE ON PROCEDURE spock.health_check(text, text, text, text, text, boolean) TO operator" >/dev/null
trust_dsn="host=$CLUSTER_DIR/n1 port=$N1_PORT dbname=$(node_db 1) user=postgres"
out=$(as_operator "CALL spock.health_check('n1', '$trust_dsn')")
check_cmd "a granted role may not connect without a password: $(grep ERROR <<<"$out")" grep -q 'without credentials, which only a superuser may rely on' <<<"$out"
out=$(psql_n 4 -c "CALL spock.health_check('n1', '$trust_dsn')" 2>&1)
check_eq "a superuser may (the same call succeeds)" 0 $?

# remove_node('n4', <a DSN reaching n2>) on n1: refused, nothing changed.
snapshot() { # what remove_node would touch on n1..n3
    local i
    for i in 1 2 3; do
        q "$i" "SELECT string_agg(slot_name, ',' ORDER BY slot_name) FROM pg_replication_slots"
        q "$i" "SELECT string_agg(sub_name || ':' || sub_enabled, ',' ORDER BY sub_name) FROM spock.subscription"
        q "$i" "SELECT string_agg(set_name, ',' ORDER BY set_name) FROM spock.replication_set"
        q "$i" "SELECT string_agg(node_name, ',' ORDER BY node_name) FROM spock.node"
    done
}
before=$(snapshot)
out=$(psql_n 1 -c "CALL spock.remove_node('n4', '$N2_DSN')" 2>&1)
check_cmd "remove_node refuses a DSN that reaches another node: $(grep ERROR <<<"$out")" \
    grep -q 'target_node_dsn reaches node "n2", not "n4"' <<<"$out"
check_eq "and nothing changed on n1..n3" "$before" "$(snapshot)"
out=$(psql_n 1 -c "CALL spock.remove_node('n2', '$N1_DSN')" 2>&1)
check_cmd "nor may the DSN name the node the call runs on, under another name" \
    grep -q 'target_node_dsn reaches node "n1", not "n2"' <<<"$out"
check_eq "still nothing changed" "$before" "$(snapshot)"

# n3 joined by hand and has no zodan extension: still removable from n1.
out=$(psql_n 1 -c "CALL spock.remove_node('n3', '$N3_DSN')" 2>&1)
check_eq "remove_node of a node without the zodan extension succeeds" 0 $? || echo "$out" | sed 's/^/# /'
check_eq "n3 is no Spock node any more" 0 "$(q 3 "SELECT count(*) FROM spock.local_node")"
check_eq "n1 and n2 no longer know n3" "0 0" "$(q 1 "SELECT count(*) FROM spock.node WHERE node_name = 'n3'") $(q 2 "SELECT count(*) FROM spock.node WHERE node_name = 'n3'")"
q 1 "INSERT INTO items VALUES (777001, 'after removing n3', 1)" >/dev/null
check_cmd "n1 and n2 still replicate" wait_sync 1 2 30
report_counts
