#!/usr/bin/env bash
# What one connection costs on this machine, in CPU: pgbench opening a new
# session for every transaction (SELECT 1) against one fresh server with
# Spock preloaded, over TCP on 127.0.0.1, once with scram-sha-256 (as the
# test clusters, and most real ones, authenticate) and once with trust.
# The server's share is its ended backends' CPU (the postmaster's reaped
# children), the client's is pgbench's own. docs/benchmark.md sets the
# result against the processes an add starts per existing node. Each run
# appends its rows to figures/connection.tsv (RESULTS_DIR: another folder;
# "none": record nothing).
#
#   SPOCK=pr545 PG=15 bash regress/bench-connection.sh      [SECONDS_EACH=5]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
results=${RESULTS_DIR:-$HERE/../figures}
[ "$results" = none ] || results="$results/connection.tsv"
pgc=$(bash "$HERE/build-spock.sh" "${SPOCK:-6}" "${PG:-15}")
bin=$("$pgc" --bindir)
seconds=${SECONDS_EACH:-5}
user=postgres
[ "$(id -u)" = 0 ] || user=$(id -un)
as_user() { if [ "$(id -u)" = 0 ]; then runuser -u "$user" -- "$@"; else "$@"; fi; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/zodan-conn.XXXXXX")
chmod 755 "$dir"
[ "$(id -u)" = 0 ] && chown "$user" "$dir"
port=$(perl -MIO::Socket::INET -e 'print IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1:0")->sockport')
stop() { as_user "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1 || true; rm -rf "$dir"; }
trap stop EXIT

as_user "$bin/initdb" -D "$dir/data" -A trust -E UTF8 --locale=C >/dev/null
cat >>"$dir/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
shared_preload_libraries = 'spock'
wal_level = logical
track_commit_timestamp = on
shared_buffers = '64MB'
EOF
hba() { printf 'local all all trust\nhost all all 127.0.0.1/32 %s\n' "$1" >"$dir/data/pg_hba.conf"; }
hba scram-sha-256
as_user "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w start >/dev/null
as_user "$bin/psql" -h "$dir" -p "$port" -d postgres -qX \
    -c "CREATE ROLE bench LOGIN SUPERUSER PASSWORD 'bench-connection-cost'" -c "CREATE DATABASE inventory OWNER bench"
as_user "$bin/psql" -h "$dir" -p "$port" -d inventory -qX -c "CREATE EXTENSION spock"
echo "SELECT 1;" >"$dir/select.sql"
chmod 644 "$dir/select.sql"
pm=$(head -1 "$dir/data/postmaster.pid")
hz=$(getconf CLK_TCK)
reaped() { awk '{ print $16 + $17 }' "/proc/$pm/stat"; }

# The columns every figures file starts with (regress/lib/Zodan/Results.pm).
common=$(perl -I"$HERE/lib" -MZodan::Results -e 'print Zodan::Results::run_columns(), "\t", Zodan::Results::server(shift)' "$pgc")
if [ "$results" != none ] && [ ! -s "$results" ]; then
    printf 'date\tcommit\tmachine\tserver\tauth\tconnections\tseconds\tserver_ms\tclient_ms\n' >"$results"
fi
echo "# $(tr '\t' ';' <<<"$common"); figures: $results"
for auth in scram-sha-256 trust; do
    hba "$auth"
    as_user "$bin/pg_ctl" -D "$dir/data" reload >/dev/null
    sleep 1
    before=$(reaped)
    # pgbench's own CPU, as its parent sees it once it ended.
    out=$(as_user env PGPASSWORD=bench-connection-cost perl -e 'system(@ARGV); my @t = times; print "client $t[2] $t[3]\n"' \
        "$bin/pgbench" -h 127.0.0.1 -p "$port" -U bench -C -n -T "$seconds" -c 1 -f "$dir/select.sql" inventory 2>&1)
    after=$(reaped)
    n=$(sed -nE 's/^number of transactions actually processed: ([0-9]+).*/\1/p' <<<"$out")
    read -r cu cs < <(sed -nE 's/^client ([0-9.]+) ([0-9.]+)$/\1 \2/p' <<<"$out")
    read -r srv_ms cli_ms apart < <(awk -v n="$n" -v srv="$(( after - before ))" -v hz="$hz" -v cu="$cu" -v cs="$cs" \
        -v s="$seconds" 'BEGIN { printf "%.2f %.2f %.2f\n", srv * 1000 / hz / n, (cu + cs) * 1000 / n, s * 1000 / n }')
    printf '%-13s %5d connections in %d s: server %s ms CPU each, client %s ms CPU each, %s ms apart\n' \
        "$auth" "$n" "$seconds" "$srv_ms" "$cli_ms" "$apart"
    [ "$results" = none ] ||
        printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$common" "$auth" "$n" "$seconds" "$srv_ms" "$cli_ms" >>"$results"
done
