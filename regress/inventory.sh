# The data set of the add-node tests, on top of lib.sh: tables in the
# built-in replication sets and in a user-created set, meshed so that every
# subscription carries all four sets. Source after lib.sh.

INVENTORY_SETS="'{default,default_insert_only,ddl_sql,inventory_set}'"

inventory_schema_sql() {
    cat <<'SQL'
CREATE TABLE public.items (id int PRIMARY KEY, name text NOT NULL, qty int NOT NULL DEFAULT 0);
CREATE TABLE public.orders (id int PRIMARY KEY, item_id int NOT NULL, note text);
CREATE TABLE public.audit_log (id bigint PRIMARY KEY, msg text);
SQL
}

inventory_sets_sql() {
    cat <<'SQL'
SELECT spock.repset_create('inventory_set');
SELECT spock.repset_add_table('default', 'public.items');
SELECT spock.repset_add_table('inventory_set', 'public.orders');
SELECT spock.repset_add_table('default_insert_only', 'public.audit_log');
SQL
}

# inventory_cluster K: schema, nodes and sets on n1..nK, then the full mesh
# over all four sets, then some rows written on n1 and seen everywhere.
inventory_cluster() {
    local k=$1 i s
    for i in $(seq 1 "$k"); do
        inventory_schema_sql | psql_n "$i" >/dev/null || die "schema on n$i failed"
    done
    node_create_all "$k"
    for i in $(seq 1 "$k"); do
        inventory_sets_sql | psql_n "$i" >/dev/null || die "replication sets on n$i failed"
    done
    mesh_subscriptions "$k" "$INVENTORY_SETS"
    q 1 "INSERT INTO items SELECT g, 'item ' || g, g % 17 FROM generate_series(1, 500) g" >/dev/null
    q 1 "INSERT INTO orders SELECT g, 1 + g % 500, 'order ' || g FROM generate_series(1, 300) g" >/dev/null
    q 1 "INSERT INTO audit_log SELECT g, 'event ' || g FROM generate_series(1, 200) g" >/dev/null
    for s in $(seq 2 "$k"); do wait_sync 1 "$s" 60 || die "seed rows did not reach n$s"; done
}

# run_pg_regress NODE TEST...: runs pg_regress tests from sql/ against node
# NODE (where the procedure runs), with N<i>_DSN in the environment for \getenv.
# Prints one ok / not ok line per test, and the diffs of failures.
run_pg_regress() {
    local node=$1; shift
    local port_var="N${node}_PORT" out rc line name
    out=$(mktemp -d "${TMPDIR:-/tmp}/zodan-regress.XXXXXX")
    PGPASSWORD=$(node_password "$node") "$("$PG_CONFIG" --pkglibdir)/pgxs/src/test/regress/pg_regress" \
        --use-existing --host=127.0.0.1 --port="${!port_var}" --user="$TEST_USER" --dbname="$(node_db "$node")" \
        --inputdir="$PROJECT_DIR" --outputdir="$out" --bindir="$PGBIN" "$@" >"$out/pg_regress.log" 2>&1
    rc=$?
    cat "$out/pg_regress.log" >&2
    for name in "$@"; do
        if grep -qE "(^| )$name +\.\.\. ok( |$)" "$out/pg_regress.log"; then ok "pg_regress $name"; else fail "pg_regress $name"; fi
    done
    if [ -f "$out/regression.diffs" ]; then
        cat "$out/regression.diffs" >&2
        echo "# pg_regress results kept in $out" >&2
    else
        rm -rf "$out"
    fi
    return $rc
}
