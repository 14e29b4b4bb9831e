# Shared shell library of the multi-node test harness. Source it; do not run it.
#
# It starts PostgreSQL 15 nodes n1..nN of the real Spock that
# regress/build-spock.sh builds (or of PG_CONFIG's server when that has
# Spock), each with its own data directory and a loopback port it picks, as
# the unprivileged OS user `postgres` when run as root. Node i gets a database
# (`inventory`, or $DB_N<i> when set: a test can give the new node another
# name), a superuser role `pgedge` with a password of its own (clients always
# connect over TCP with it) and `CREATE EXTENSION spock`.
#
# Variables after cluster_start (also written to $CLUSTER_DIR/cluster.env):
#   NNODES, N<i>_PORT, N<i>_DB, N<i>_PASSWORD, N<i>_DSN (DSN includes the
#   password, on purpose: the product must mask it), PGBIN, CLUSTER_DIR.

HARNESS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PROJECT_DIR=$(cd "$HARNESS_DIR/.." && pwd)
if [ -z "${PG_CONFIG:-}" ]; then
    PG_CONFIG=$(bash "$HARNESS_DIR/build-spock.sh" "${SPOCK_MAJOR:-6}") || { echo "[harness] building Spock failed" >&2; exit 1; }
fi
export PG_CONFIG
PGBIN=$("$PG_CONFIG" --bindir)
TEST_DB=inventory
TEST_USER=pgedge
# Each node's password differs (and never appears in expected output): a
# message that leaks one node's password cannot hide behind another's.
PASSWORD_SALT=${PASSWORD_SALT:-$RANDOM$RANDOM}

export PGCONNECT_TIMEOUT=10

is_root() { [ "$(id -u)" = 0 ]; }

# Runs a command as the OS user that owns the servers.
as_pg() {
    if is_root; then runuser -u postgres -- "$@"; else "$@"; fi
}

log() { echo "[harness] $*" >&2; }
die() { echo "[harness] ERROR: $*" >&2; exit 1; }

# Spock must be the real one, installed in PG_CONFIG's server.
ensure_spock() {
    [ -f "$("$PG_CONFIG" --sharedir)/extension/spock.control" ] && [ -f "$("$PG_CONFIG" --pkglibdir)/spock.so" ] \
        || die "no Spock in $PG_CONFIG's server: run regress/build-spock.sh, or point PG_CONFIG at a server with Spock"
    SPOCK_VERSION=$(sed -nE "s/^default_version *= *'([^']*)'.*/\1/p" "$("$PG_CONFIG" --sharedir)/extension/spock.control")
}

# Builds and installs the zodan extension itself into PG_CONFIG's server.
# Objects built for another server are cleaned first.
ensure_zodan() {
    local stamp="$PROJECT_DIR/.built-for"
    if [ "$(cat "$stamp" 2>/dev/null)" != "$PG_CONFIG" ]; then
        make -s -C "$PROJECT_DIR" PG_CONFIG="$PG_CONFIG" clean >/dev/null 2>&1
        echo "$PG_CONFIG" >"$stamp"
    fi
    make -s -C "$PROJECT_DIR" PG_CONFIG="$PG_CONFIG" -j2 >/dev/null || die "building zodan failed"
    make -s -C "$PROJECT_DIR" PG_CONFIG="$PG_CONFIG" install >/dev/null || die "installing zodan failed"
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pick_port() {
    local p tries=0
    while :; do
        p=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
        port_in_use "$p" || { echo "$p"; return; }
        tries=$((tries + 1)); [ $tries -lt 50 ] || die "no free port found"
    done
}

node_db() { local v="DB_N$1"; echo "${!v:-$TEST_DB}"; }
node_password() { echo "Zodan-pw-n$1-$PASSWORD_SALT"; }

node_dsn() { # node_dsn I -> libpq DSN of node I
    local v="N$1_PORT"
    echo "host=127.0.0.1 port=${!v} dbname=$(node_db "$1") user=$TEST_USER password=$(node_password "$1")"
}

# psql_n I SQL...: runs SQL on node I, unaligned, tuples only, stops on error.
psql_n() {
    local i=$1; shift
    local v="N${i}_PORT"
    PGPASSWORD=$(node_password "$i") "$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "${!v}" \
        -U "$TEST_USER" -d "$(node_db "$i")" "$@"
}
q() { local i=$1; shift; psql_n "$i" -c "$*"; }

start_node() { # start_node I
    local i=$1 dir="$CLUSTER_DIR/n$1" port attempt
    as_pg "$PGBIN/initdb" -D "$dir" -U postgres --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C >"$CLUSTER_DIR/n$i.initdb.log" 2>&1 \
        || die "initdb for n$i failed (see $CLUSTER_DIR/n$i.initdb.log)"
    cat >>"$dir/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
wal_level = logical
track_commit_timestamp = on
shared_preload_libraries = 'spock'
max_replication_slots = 32
max_wal_senders = 32
max_worker_processes = 48
max_logical_replication_workers = 24
wal_retrieve_retry_interval = '500ms'
wal_sender_timeout = '30s'
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = '64MB'
log_min_messages = warning
log_line_prefix = '%m [%p] %b '
EOF
    # Some builds gate logical decoding plugins by a trusted list (this GUC is
    # not in stock PostgreSQL); Spock's plugin must be on it.
    if "$PGBIN/postgres" --describe-config 2>/dev/null | grep -q '^output_plugin_libraries'; then
        echo "output_plugin_libraries = 'pgoutput, test_decoding, spock_output'" >>"$dir/postgresql.conf"
    fi
    for attempt in 1 2 3 4 5; do
        port=$(pick_port)
        sed -i "/^port = /d" "$dir/postgresql.conf"
        echo "port = $port" >>"$dir/postgresql.conf"
        if as_pg "$PGBIN/pg_ctl" -D "$dir" -l "$CLUSTER_DIR/n$i.log" -w -t 60 start >/dev/null 2>&1; then
            eval "N${i}_PORT=$port"
            as_pg "$PGBIN/psql" -X -q -h "$dir" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 \
                -c "CREATE ROLE $TEST_USER LOGIN SUPERUSER PASSWORD '$(node_password "$i")'" \
                -c "CREATE DATABASE $(node_db "$i") OWNER $TEST_USER" >/dev/null || die "setting up n$i failed"
            q "$i" "SET client_min_messages = warning; CREATE EXTENSION IF NOT EXISTS spock CASCADE" >/dev/null || die "CREATE EXTENSION spock on n$i failed"
            return 0
        fi
    done
    die "n$i did not start (see $CLUSTER_DIR/n$i.log)"
}

write_env() {
    local i
    {
        echo "CLUSTER_DIR=$CLUSTER_DIR"; echo "NNODES=$NNODES"; echo "PGBIN=$PGBIN"
        for i in $(seq 1 "$NNODES"); do
            local v="N${i}_PORT"
            echo "N${i}_PORT=${!v}"
            echo "N${i}_DB=$(node_db "$i")"
            echo "N${i}_PASSWORD='$(node_password "$i")'"
            echo "N${i}_DSN='$(node_dsn "$i")'"
        done
    } >"$CLUSTER_DIR/cluster.env"
}

# cluster_start N: starts n1..nN (bare: spock created, no node yet).
# Registers cluster_stop to run on exit, so servers never outlive the test.
cluster_start() {
    NNODES=$1
    ensure_spock
    CLUSTER_DIR=$(mktemp -d "${TMPDIR:-/tmp}/zodan-cluster.XXXXXX")
    chmod 755 "$CLUSTER_DIR"
    is_root && chown postgres: "$CLUSTER_DIR"
    trap cluster_stop EXIT
    trap "exit 130" INT   # a signal becomes an exit, so the EXIT trap stops the servers
    trap "exit 143" TERM
    local i
    for i in $(seq 1 "$NNODES"); do start_node "$i"; done
    for i in $(seq 1 "$NNODES"); do
        export "N${i}_PORT" "N${i}_DSN=$(node_dsn "$i")" "N${i}_DB=$(node_db "$i")" "N${i}_PASSWORD=$(node_password "$i")"
    done
    write_env
    log "started $NNODES node(s) of Spock $SPOCK_VERSION in $CLUSTER_DIR"
}

# cluster_stop: stops every node this harness started and removes their data
# (kept when KEEP_CLUSTER=1, for post-mortems).
cluster_stop() {
    [ -n "${CLUSTER_DIR:-}" ] && [ -d "$CLUSTER_DIR" ] || return 0
    local d
    for d in "$CLUSTER_DIR"/n*/; do
        [ -f "$d/postmaster.pid" ] && as_pg "$PGBIN/pg_ctl" -D "$d" -m immediate -w stop >/dev/null 2>&1
    done
    if [ "${KEEP_CLUSTER:-0}" = 1 ]; then log "kept $CLUSTER_DIR"; else rm -rf "$CLUSTER_DIR"; fi
    CLUSTER_DIR=
}

# node_create_all K: registers n1..nK as Spock nodes.
node_create_all() {
    local i
    for i in $(seq 1 "$1"); do
        q "$i" "SELECT spock.node_create('n$i', '$(node_dsn "$i")')" >/dev/null || die "node_create on n$i failed"
    done
}

# mesh_subscriptions K [SETS]: a full mesh of subscriptions sub_<p>_<s>
# (forward_origins '{}') among the nodes n1..nK, which must be Spock nodes
# already; waits until every one is replicating. SETS is a SQL text[] literal.
mesh_subscriptions() {
    local k=$1 sets=${2:-"'{default,default_insert_only,ddl_sql}'"} p s
    for s in $(seq 1 "$k"); do
        for p in $(seq 1 "$k"); do
            [ "$p" = "$s" ] && continue
            q "$s" "SELECT spock.sub_create('sub_n${p}_n${s}', '$(node_dsn "$p")', $sets, false, false, '{}')" >/dev/null \
                || die "sub_create sub_n${p}_n${s} failed"
        done
    done
    for s in $(seq 1 "$k"); do wait_replicating "$s" 60 || die "mesh on n$s did not reach replicating"; done
}

# cluster_mesh K [SETS]: node_create on n1..nK, then mesh_subscriptions.
cluster_mesh() {
    node_create_all "$1"
    mesh_subscriptions "$@"
}

# wait_replicating I [SECONDS]: waits until every subscription on node I is replicating.
wait_replicating() {
    local i=$1 limit=${2:-60} t=0 bad
    while :; do
        bad=$(q "$i" "SELECT count(*) FROM spock.sub_show_status() WHERE status <> 'replicating'")
        [ "$bad" = 0 ] && return 0
        t=$((t + 1)); [ $t -le $((limit * 5)) ] || { q "$i" "SELECT * FROM spock.sub_show_status()" >&2; return 1; }
        sleep 0.2
    done
}

# wait_sync FROM TO [SECONDS]: a sync_event on node FROM, waited for on node TO.
wait_sync() {
    local from=$1 to=$2 limit=${3:-60} lsn
    lsn=$(q "$from" "SELECT spock.sync_event()")
    [ "$(q "$to" "CALL spock.wait_for_sync_event(NULL, 'n$from', '$lsn'::pg_lsn, $limit)")" = t ]
}

# table_digest I TABLE: "count md5" of TABLE's rows in primary-key order on node I.
table_digest() {
    q "$1" "SELECT count(*) || ' ' || coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)), '-') FROM $2 t"
}

# --- assertions: each prints one result line and counts it -----------------
TESTS_PASSED=${TESTS_PASSED:-0}
TESTS_FAILED=${TESTS_FAILED:-0}

ok()   { TESTS_PASSED=$((TESTS_PASSED + 1)); echo "ok - $*"; }
fail() { TESTS_FAILED=$((TESTS_FAILED + 1)); echo "not ok - $*"; return 1; }

# check_eq NAME EXPECTED ACTUAL
check_eq() {
    if [ "$2" = "$3" ]; then ok "$1"; else fail "$1 (expected '$2', got '$3')"; fi
}

# check_cmd NAME COMMAND...: passes when COMMAND succeeds.
check_cmd() {
    local name=$1; shift
    if "$@"; then ok "$name"; else fail "$name"; fi
}

# check_fails NAME COMMAND...: passes when COMMAND fails (its output is dropped).
check_fails() {
    local name=$1; shift
    if "$@" >/dev/null 2>&1; then fail "$name (it succeeded)"; else ok "$name"; fi
}

# No node's password in what a client session (ours included) made a server
# log, nor in any node's journal tables. Spock's own apply workers log a
# provider's DSN, password included, when they cannot reach it ("dsn was:");
# that is Spock's, outside what zodan can change, and not counted here.
# (Passwords all start "Zodan-pw-"; test-all.sh greps client output too.)
check_no_password_leaked() {
    [ -n "${CLUSTER_DIR:-}" ] && [ -d "$CLUSTER_DIR" ] || return 0
    local hits="" leaked="" i n f lines
    for f in "$CLUSTER_DIR"/n*.log; do
        [ -f "$f" ] || continue
        # A client backend's entry with its continuation lines (DETAIL, STATEMENT, ...).
        lines=$(awk '/^[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9] / { client = ($0 ~ /\] client backend /) } client && /Zodan-pw-/' "$f")
        [ -z "$lines" ] || { hits+="$(basename "$f") "; leaked+="$lines"$'\n'; }
    done
    for i in $(seq 1 "$NNODES"); do
        [ "$(q "$i" "SELECT to_regclass('spock.zodan_runs') IS NOT NULL" 2>/dev/null)" = t ] || continue
        n=$(q "$i" "SELECT (SELECT count(*) FROM spock.zodan_runs r WHERE strpos(r::text, 'Zodan' || '-pw-') > 0)
                 + (SELECT count(*) FROM spock.zodan_steps s WHERE strpos(s::text, 'Zodan' || '-pw-') > 0)" 2>/dev/null)
        [ "${n:-0}" = 0 ] || hits+="journal of n$i ($n rows) "
    done
    if [ -z "$hits" ]; then ok "no password in any server log entry of a client session, nor in any journal"
    else
        fail "a password shows in: $hits"
        printf '%s' "$leaked" | head -5 | sed 's/Zodan-pw-[^ ]*/<password>/g; s/^/#   /'
    fi
}

# Prints the closing count for one test file; the suite runner adds them up.
report_counts() {
    check_no_password_leaked
    echo "# counts: $TESTS_PASSED passed, $TESTS_FAILED failed"
}
