#!/usr/bin/env bash
# The whole test suite, on every supported server and Spock version:
#  1. the Catch2 unit tests (CTest);
#  2. real Spock built for each combination (regress/build-spock.sh, cached);
#  3. the TAP tests regress/t/*.pl with prove: all of them on the main
#     combination, those marked "# matrix: every combination" on the others,
#     and the pg_regress suites on Spock 5.0.9 (the oldest supported).
#  4. the release: `make dist`'s tarball, unpacked in an empty directory,
#     built and installed with PGXS as a plain `make` builds it, and its
#     pg_regress suites passed there (050 run from the unpacked tree).
# Ends with one line "N passed, N failed" counting every unit test case and
# every TAP test of every combination; exits non-zero on any failure.
#
#   TESTS="060 075"   only the TAP tests whose file names start so ("dist":
#                     the release tarball's check)
#   MATRIX="15:6"     only these combinations (server:spock[:what[:delay]],
#                     blank-separated; delay: every node behind a proxy that
#                     delays each direction by that many ms, Zodan::Delay)
#   PG_CONFIG=...     a server that already has Spock: every test on it alone
#   RESULTS_DIR=none  a whole run (none of the three above) appends its rows
#                     to figures/tests.tsv unless so (or another folder)
#
# As root it first installs the Debian packages it needs (apt-get); the
# servers run as the OS user postgres.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
suite_start=$(date +%s)
passed=0 failed=0
failures=()
LOGDIR=$(mktemp -d "${TMPDIR:-/tmp}/zodan-tests.XXXXXX")
chmod 755 "$LOGDIR"
RESULTS="$LOGDIR/results.tsv"
# The rows of figures/tests.tsv: the columns every figures file starts with
# (regress/lib/Zodan/Results.pm), then part, files, passed, failed, seconds, note.
FIGURES="$LOGDIR/figures.tsv"
run_columns=$(perl -I"$HERE/lib" -MZodan::Results -e 'print Zodan::Results::run_columns()')
figure() { # figure SERVER PART FILES PASSED FAILED SECONDS NOTE
    local IFS=$'\t'
    echo "$run_columns${IFS}$*" >>"$FIGURES"
}

bash "$HERE/install-deps.sh" || { echo "installing the build and test packages failed"; exit 1; }

# --- unit tests ------------------------------------------------------------
echo "== unit tests (Catch2 via CTest)"
if cmake -S "$ROOT" -B "$ROOT/build" -DCMAKE_BUILD_TYPE=Debug >"$LOGDIR/cmake.log" 2>&1 &&
   cmake --build "$ROOT/build" -j2 >>"$LOGDIR/cmake.log" 2>&1; then
    (cd "$ROOT/build" && ctest --output-on-failure) >"$LOGDIR/ctest.log" 2>&1
    rc=$?
    "$ROOT/build/zodan_unit_tests" >"$LOGDIR/catch.log" 2>&1
    # Catch2's closing line: "All tests passed (A assertions in N test cases)"
    # or "test cases: N | P passed | F failed".
    cp=$(sed -nE 's/^All tests passed \([0-9]+ assertions? in ([0-9]+) test cases?\).*/\1/p' "$LOGDIR/catch.log")
    if [ -n "$cp" ] && [ $rc = 0 ]; then
        passed=$((passed + cp))
        echo "unit tests: $cp test cases passed"
        printf 'unit\tCatch2\t%s\t0\t-\n' "$cp" >>"$RESULTS"
        figure - "unit tests (Catch2)" - "$cp" 0 - -
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

# --- TAP tests on real Spock -----------------------------------------------
# tap_files FILTER: the test files to run (all, or those marked for every combination).
tap_files() {
    local t name want
    for t in "$HERE"/t/*.pl; do
        name=$(basename "$t" .pl)
        if [ -n "${TESTS:-}" ]; then
            want=0
            for w in $TESTS; do case "$name" in "$w"*) want=1 ;; esac; done
            [ $want = 1 ] || continue
        fi
        case "$1" in
            all) ;;
            matrix) grep -q '^# matrix: every combination' "$t" || continue ;;
            regress) case "$name" in 05[01]_regress*) ;; *) continue ;; esac ;;
            delayed) grep -q '^# delayed: ' "$t" || continue ;;
        esac
        echo "$t"
    done
}

# install_zodan PG_CONFIG: builds zodan for that server out of tree (each
# server its own objects), with the test hooks the tests use, and installs
# it there.
install_zodan() {
    local pgc=$1 dir="$LOGDIR/build-$(echo "$1" | md5sum | cut -c1-8)"
    mkdir -p "$dir"
    cp -a "$ROOT/Makefile" "$ROOT/zodan.control" "$ROOT/src" "$ROOT/sql" "$dir/"
    # Objects of an in-tree build (another server's, perhaps) must not be
    # taken for this server's.
    find "$dir/src" \( -name '*.o' -o -name '*.d' -o -name '*.bc' -o -name '*.so' \) -delete
    # Scripts another build left in the server's extension directory (a
    # zodan--X.sql this version does not ship) would give CREATE EXTENSION
    # a shorter path than ours: only this build's are there.
    rm -f "$("$pgc" --sharedir)"/extension/zodan--*.sql
    make -s -C "$dir" PG_CONFIG="$pgc" ZODAN_TEST_HOOKS=1 -j2 >"$dir/build.log" 2>&1 &&
        make -s -C "$dir" PG_CONFIG="$pgc" ZODAN_TEST_HOOKS=1 install >>"$dir/build.log" 2>&1 ||
        { cat "$dir/build.log"; return 1; }
}

# prove_counts LOG: "PASSED FAILED" from a prove log. prove's summary:
# "Files=F, Tests=T, ..." and, per failing file, "... Tests: T Failed: F"
# (or a file that died before its plan).
prove_counts() {
    local tests f p
    tests=$(sed -nE 's/^Files=[0-9]+, Tests=([0-9]+),.*/\1/p' "$1" | tail -n1)
    # Every failing file: its failed tests, or 1 when it died without any.
    f=$(awk '/\(Wstat: [0-9]+/ { n = 0; if (match($0, /Failed: [0-9]+/)) n = substr($0, RSTART + 8, RLENGTH - 8) + 0;
                                  s += (n > 0 ? n : 1) } END { print s + 0 }' "$1")
    [ -n "$tests" ] || { tests=0; f=$((f + 1)); }
    p=$((tests - f)); [ $p -ge 0 ] || p=0
    echo "$p $f"
}

# tally LABEL WHAT LOG START FAILURE: LOG's counts added to the totals (a
# log without a passing result counts as one failure at least, named
# FAILURE), and LABEL's row in the results. Sets the caller's p and f.
tally() {
    local label=$1 what=$2 log=$3 start=$4 failure=$5
    read -r p f < <(prove_counts "$log")
    passed=$((passed + p)); failed=$((failed + f))
    if ! grep -q '^Result: PASS' "$log"; then
        failures+=("$failure")
        [ "$f" -gt 0 ] || failed=$((failed + 1))
    fi
    printf '%s\t%s\t%s\t%s\t%s s\n' "$label" "$what" "$p" "$f" "$(( $(date +%s) - start ))" >>"$RESULTS"
}

# server_of PG_CONFIG: "PostgreSQL 15.18, Spock 6.0.0-devel", as the figures files name a server.
server_of() { perl -I"$HERE/lib" -MZodan::Results -e 'print Zodan::Results::server(shift)' "$1"; }

# run_combination LABEL PG_CONFIG FILTER [DELAY_MS]
declare -A installed_for
run_combination() {
    local label=$1 pgc=$2 filter=$3 delay=${4:-0} files start log p f tests
    mapfile -t files < <(tap_files "$filter")
    [ ${#files[@]} -gt 0 ] || return 0
    echo "== $label: ${#files[@]} TAP test(s) (started $(date +%H:%M:%S))"
    if [ -z "${installed_for[$pgc]:-}" ] && ! install_zodan "$pgc"; then
        failed=$((failed + 1)); failures+=("building zodan for $label"); return
    fi
    installed_for[$pgc]=1
    start=$(date +%s)
    log="$LOGDIR/prove-$(echo "$label" | tr ' /+.' '____').log"
    # Each test's result line shows as it happens; the nodes run as postgres.
    (cd "$ROOT" && PG_CONFIG=$pgc ZODAN_INSTALLED=1 ZODAN_DELAY_MS=$delay prove --timer "${files[@]}") 2>&1 | tee "$log" |
        grep --line-buffered -E '^\[|^regress/t/|ok$|^Result|^Files=|Failed|not ok|^ *#'
    tally "$label" "${#files[@]} files" "$log" "$start" "$label"
    # The adversarial suite's closing line, where it ran.
    adv=$(sed -nE 's/^# (adversarial: .*)$/\1/p' "$log" | tail -n1)
    figure "$(server_of "$pgc")" "TAP: $filter" "${#files[@]}" "$p" "$f" "$(( $(date +%s) - start ))" "${adv:--}"
    echo "   ($label: $p passed, $f failed, $(( $(date +%s) - start )) s)"
}

if [ -n "${PG_CONFIG:-}" ]; then
    run_combination "given server" "$PG_CONFIG" all
else
    # server:spock:what[:delay] — the main combination runs everything;
    # the tests marked "# delayed:" run again across a 100 ms round trip.
    combos=${MATRIX:-"18:6:all 15:6:matrix 15:5.0.11:matrix 18:5.0.11:matrix 15:5.0.9:regress 18:6:delayed:50"}
    for combo in $combos; do
        IFS=: read -r pg spock what delay <<<"$combo"
        what=${what:-all} delay=${delay:-0}
        label="PostgreSQL $pg + Spock $spock"
        [ "$delay" = 0 ] || label="$label, $((2 * delay)) ms round trip"
        echo "== building (or reusing) $label"
        if pgc=$(bash "$HERE/build-spock.sh" "$spock" "$pg"); then
            run_combination "$label" "$pgc" "$what" "$delay"
        else
            failed=$((failed + 1)); failures+=("building $label")
        fi
    done
fi

# --- the release tarball ----------------------------------------------------
# What an operator downloads: `make dist` (git archive of HEAD), unpacked in
# an empty directory, built and installed with PGXS as a plain `make` builds
# it (ZODAN_TEST_HOOKS=0: no test hooks) into a copy of the server's
# installation of its own (ZODAN_PRIVATE_INSTALL), and its pg_regress suites
# run there: 050 from the unpacked tree, which Zodan::Env then takes for the
# project (it builds and installs from there). 050 also checks that this
# build has no test hooks.
check_dist() {
    local pgc=$1 dir log tarball start p f
    start=$(date +%s)
    dir=$(mktemp -d "$LOGDIR/dist.XXXXXX") && chmod 755 "$dir"
    log="$LOGDIR/dist.log"
    echo "== the release tarball (make dist), built and tested on its own"
    if ! make -s -C "$ROOT" PG_CONFIG="$pgc" dist >"$log" 2>&1; then
        cat "$log"; failed=$((failed + 1)); failures+=("make dist"); return
    fi
    tarball=$(cd "$ROOT" && ls -t zodan-*.tar.gz | head -n1)
    mv "$ROOT/$tarball" "$dir/" && tar -xzf "$dir/$tarball" -C "$dir" ||
        { failed=$((failed + 1)); failures+=("unpacking $tarball"); return; }
    (cd "$dir/${tarball%.tar.gz}" && env -u ZODAN_INSTALLED PG_CONFIG="$pgc" ZODAN_PRIVATE_INSTALL=1 ZODAN_TEST_HOOKS=0 \
        prove --timer regress/t/050_regress.pl) >>"$log" 2>&1
    grep -E '^\[|^regress/t/|^Result|^Files=|not ok' "$log"
    tally "release tarball" "$tarball" "$log" "$start" "the release tarball (see $log)"
    figure "$(server_of "$pgc")" "release tarball" 1 "$p" "$f" "$(( $(date +%s) - start ))" "$tarball"
}

want_dist=1
if [ -n "${TESTS:-}" ]; then
    want_dist=0
    for w in $TESTS; do [ "$w" = dist ] && want_dist=1; done
fi
if [ $want_dist = 1 ]; then
    if [ -n "${PG_CONFIG:-}" ]; then
        check_dist "$PG_CONFIG"
    elif pgc=$(bash "$HERE/build-spock.sh" 6 18); then
        check_dist "$pgc"
    else
        failed=$((failed + 1)); failures+=("building PostgreSQL 18 + Spock 6 for the release tarball")
    fi
fi

echo
echo "== results"
column -t -s $'\t' "$RESULTS" 2>/dev/null || cat "$RESULTS"
[ ${#failures[@]} -gt 0 ] && echo "== failed: ${failures[*]}"
echo "logs: $LOGDIR"
echo "suite took $(( $(date +%s) - suite_start )) s"
figure - total - "$passed" "$failed" "$(( $(date +%s) - suite_start ))" -
if [ -z "${TESTS:-}${MATRIX:-}${PG_CONFIG:-}" ] && [ "${RESULTS_DIR:-}" != none ]; then
    cat "$FIGURES" >>"${RESULTS_DIR:-$ROOT/figures}/tests.tsv" && echo "figures: ${RESULTS_DIR:-$ROOT/figures}/tests.tsv"
fi
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
