#!/usr/bin/env bash
# The whole test suite: Catch2 unit tests (CTest), then every harness test in
# regress/t/*.sh (each starts and stops its own cluster; the pg_regress suites
# run inside them) on real Spock 6, then the tests marked "spock5: yes" again
# on Spock 5.0.9. Both Spock builds come from regress/build-spock.sh (cached).
# Ends with one line "N passed, N failed"; exits non-zero on any failure.
#   PG_CONFIG=...   a server that already has Spock: run on it alone
#   TESTS="50 60"   only the harness tests whose names start so
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
suite_start=$(date +%s)
passed=0 failed=0
failures=()

add_counts() { # add_counts NAME LOGFILE RC
    local line p f
    line=$(grep -E '^# counts: [0-9]+ passed, [0-9]+ failed' "$2" | tail -n1)
    if [ -z "$line" ]; then
        failed=$((failed + 1)); failures+=("$1 (no result line, rc=$3)")
        return
    fi
    p=$(sed -E 's/^# counts: ([0-9]+) passed, ([0-9]+) failed.*/\1/' <<<"$line")
    f=$(sed -E 's/^# counts: ([0-9]+) passed, ([0-9]+) failed.*/\2/' <<<"$line")
    passed=$((passed + p)); failed=$((failed + f))
    if [ "$f" != 0 ] || [ "$3" != 0 ]; then
        [ "$f" = 0 ] && failed=$((failed + 1))
        failures+=("$1")
    fi
}

LOGDIR=$(mktemp -d "${TMPDIR:-/tmp}/zodan-tests.XXXXXX")
chmod 755 "$LOGDIR"

echo "== unit tests (Catch2 via CTest)"
if cmake -S "$ROOT" -B "$ROOT/build" -DCMAKE_BUILD_TYPE=Debug >"$LOGDIR/cmake.log" 2>&1 &&
   cmake --build "$ROOT/build" -j2 >>"$LOGDIR/cmake.log" 2>&1; then
    (cd "$ROOT/build" && ctest --output-on-failure) >"$LOGDIR/ctest.log" 2>&1
    rc=$?
    tail -n 3 "$LOGDIR/ctest.log"
    # One CTest test runs a whole Catch2 binary; count its individual test cases.
    "$ROOT/build/zodan_unit_tests" >"$LOGDIR/catch.log" 2>&1
    # Catch2's closing line: "All tests passed (A assertions in N test cases)"
    # or "test cases: N | P passed | F failed".
    cp=$(sed -nE 's/^All tests passed \([0-9]+ assertions? in ([0-9]+) test cases?\).*/\1/p' "$LOGDIR/catch.log")
    if [ -n "$cp" ] && [ $rc = 0 ]; then
        passed=$((passed + cp))
        echo "unit tests: $cp test cases passed"
    else
        cpp=$(sed -nE 's/^test cases: *([0-9]+) \| *([0-9]+) passed \| *([0-9]+) failed.*/\2/p' "$LOGDIR/catch.log")
        cf=$(sed -nE 's/^test cases: *([0-9]+) \| *([0-9]+) passed \| *([0-9]+) failed.*/\3/p' "$LOGDIR/catch.log")
        passed=$((passed + ${cpp:-0})); failed=$((failed + ${cf:-1}))
        failures+=("unit tests (see $LOGDIR/ctest.log)")
        cat "$LOGDIR/ctest.log"
    fi
else
    failed=$((failed + 1)); failures+=("unit test build"); cat "$LOGDIR/cmake.log"
fi

# run_harness_tests LABEL PG_CONFIG FILTER: every regress/t test (FILTER=all)
# or those marked "# spock5: yes", on that server.
run_harness_tests() {
    local label=$1 pgc=$2 filter=$3 t name want start
    for t in "$HERE"/t/*.sh; do
        [ -e "$t" ] || continue
        name=$(basename "$t" .sh)
        if [ -n "${TESTS:-}" ]; then
            want=0
            for w in $TESTS; do case "$name" in "$w"*) want=1 ;; esac; done
            [ $want = 1 ] || continue
        fi
        [ "$filter" = all ] || grep -q '^# spock5: yes' "$t" || continue
        echo "== $name on $label (started $(date +%H:%M:%S))"
        start=$(date +%s)
        # Each result line shows as it happens (a fault suite runs minutes).
        PG_CONFIG=$pgc bash "$t" 2>&1 | tee "$LOGDIR/$name-$label.log" | grep --line-buffered -E '^(ok|not ok) '
        rc=${PIPESTATUS[0]}
        # The client side of the test must never see a password either.
        if grep -q "Zodan-pw-" "$LOGDIR/$name-$label.log"; then
            echo "not ok - client output of $name shows a password"
            failed=$((failed + 1)); failures+=("$name on $label (password in client output)")
        fi
        add_counts "$name on $label" "$LOGDIR/$name-$label.log" "$rc"
        if [ $rc != 0 ] || grep -q '^not ok' "$LOGDIR/$name-$label.log"; then
            echo "-- last lines of $name:"; tail -n 40 "$LOGDIR/$name-$label.log"
        fi
        echo "   ($name took $(( $(date +%s) - start )) s)"
    done
}

if [ -n "${PG_CONFIG:-}" ]; then
    run_harness_tests given "$PG_CONFIG" all
else
    echo "== building (or reusing) real Spock 6.0 and 5.0.9 with their patched PostgreSQL 15"
    if pgc6=$(bash "$HERE/build-spock.sh" 6) && pgc5=$(bash "$HERE/build-spock.sh" 5); then
        run_harness_tests spock6 "$pgc6" all
        run_harness_tests spock5 "$pgc5" spock5
    else
        failed=$((failed + 1)); failures+=("building Spock")
    fi
fi

if [ ${#failures[@]} -gt 0 ]; then
    echo "== failed: ${failures[*]}"
fi
echo "logs: $LOGDIR"
echo "suite took $(( $(date +%s) - suite_start )) s"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
