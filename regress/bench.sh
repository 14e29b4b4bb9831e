#!/usr/bin/env bash
# The benchmarks, in one run: regress/bench.pl (adding a node: spock.add_node
# against the published zodan.sql and Spock's in-core attach_node, CALL and
# time to a working mesh, 3 and 6 existing nodes, quiet and busy) on each
# server of SERVERS, then regress/bench-large.pl (1M and 5M rows: our copy
# against Spock's sync and against pg_dump/pg_restore) unless LARGE=0.
# Every figure comes from servers started for it, on real Spock built by
# regress/build-spock.sh; nothing else should run on the machine meanwhile.
#
#   bash regress/bench.sh                 # everything (about 25 min on 2 cores)
#   SERVERS=pr545:15 LARGE=0 bash regress/bench.sh
#
# SERVERS: SPOCK:PG pairs (default "pr545:15 5.0.11:15": Spock 6.0.0-devel
# with the in-core port, so all three tools meet on one server, and the
# latest release, which has no in-core port). The other settings are those
# of bench.pl and bench-large.pl (SIZES, LOADS, RUNS, ROWS, TOOLS, ROWS_LIST,
# STREAMS, RESULTS_DIR). Every run appends its figures to figures/*.tsv
# (docs/benchmark.md). Exits non-zero when any measurement failed.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
SERVERS=${SERVERS:-"pr545:15 5.0.11:15"}
rc=0
for s in $SERVERS; do
    echo "== adding a node on Spock ${s%%:*}, PostgreSQL ${s##*:}"
    SPOCK=${s%%:*} PG=${s##*:} perl "$HERE/bench.pl" || rc=1
    echo
done
if [ "${LARGE:-1}" != 0 ]; then
    echo "== large data on Spock ${LARGE_SERVER:-6:15}"
    s=${LARGE_SERVER:-6:15}
    SPOCK=${s%%:*} PG=${s##*:} perl "$HERE/bench-large.pl" || rc=1
fi
exit $rc
