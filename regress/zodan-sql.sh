# The published PL/pgSQL zodan.sql the benchmarks compare with, on top of
# lib.sh. Source it; do not run it.

# fetch_zodan_sql DEST: the published zodan.sql of the server's Spock major
# version, from the same source tarball build-spock.sh builds from. Sets
# ZODAN_SQL_FROM to where it came from.
fetch_zodan_sql() {
    local dest=$1 major=${SPOCK_VERSION%%.*} var pattern dl src cache
    if [ -n "${ZODAN_SQL:-}" ]; then
        cp "$ZODAN_SQL" "$dest" || die "ZODAN_SQL=$ZODAN_SQL cannot be read"
        ZODAN_SQL_FROM=$ZODAN_SQL
    else
        case $major in
            6) var=SPOCK6_SRC; pattern='spock-6.0.0-devel-*.tar.gz'; dl=fd2c484adc5f0fb94bd058da6ab07d0c8d69dc3b.tar.gz ;;
            5) var=SPOCK5_SRC; pattern='spock-5.0.9.tar.gz'; dl=v5.0.9.tar.gz ;;
            *) die "no published zodan.sql known for Spock $SPOCK_VERSION: set ZODAN_SQL" ;;
        esac
        src=${!var:-}
        [ -n "$src" ] || src=$(ls "${ZODAN_SHARED:-$(cd "$PROJECT_DIR/.." && pwd)/shared/spock}"/$pattern 2>/dev/null | head -n1)
        if [ -z "$src" ]; then   # build-spock.sh's download, when it had to fetch one
            if is_root; then cache=${ZODAN_SPOCK_CACHE:-/opt/zodan-spock}; else cache=${ZODAN_SPOCK_CACHE:-$HOME/.cache/zodan-spock}; fi
            [ -s "$cache/downloads/$dl" ] && src="$cache/downloads/$dl"
        fi
        [ -n "$src" ] || die "no Spock $major source tarball found (set $var, ZODAN_SHARED or ZODAN_SQL)"
        if [ -d "$src" ]; then
            cp "$src/samples/Z0DAN/zodan.sql" "$dest" || die "$src has no samples/Z0DAN/zodan.sql"
        else
            tar -xOf "$src" --wildcards '*/samples/Z0DAN/zodan.sql' >"$dest" 2>/dev/null || die "$src has no samples/Z0DAN/zodan.sql"
        fi
        ZODAN_SQL_FROM="$src (samples/Z0DAN/zodan.sql)"
    fi
    grep -q 'PROCEDURE spock\.add_node(' "$dest" || die "$ZODAN_SQL_FROM defines no spock.add_node"
}
