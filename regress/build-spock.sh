#!/usr/bin/env bash
# Builds the real Spock the tests run on: a PostgreSQL server patched with the
# patches that Spock ships for its major, built with TAP test support (the
# multi-node tests use PostgreSQL::Test::Cluster), contrib/dblink (the
# published zodan.sql needs it), then Spock itself, into a prefix keyed by
# its inputs, so a second run with the same inputs reuses it. Prints the
# prefix's pg_config path on stdout, last.
#
#   regress/build-spock.sh SPOCK [PG]
#     SPOCK  6 (6.0.0-devel), 5.0.11 (the latest release; also "5"), 5.0.9,
#            pr545 (6.0.0-devel with Spock's in-core attach_node, for the
#            benchmark)
#     PG     15 (default) or 18
#
# Inputs (tarballs or unpacked directories):
#   SPOCK_SRC           the Spock source; default ../shared/spock/spock-<v>*.tar.gz,
#                       else downloaded from github (pgEdge/spock, pinned)
#   PG_SRC              the PostgreSQL source of that major; default
#                       ../shared/spock/postgresql-<15.18|18.6>.tar.bz2, else downloaded
#   ZODAN_SPOCK_CACHE   where prefixes live (default /opt/zodan-spock as root,
#                       ~/.cache/zodan-spock otherwise)
# A PG_CONFIG whose server already has Spock (a pgEdge install) skips the
# build: that pg_config is printed as it is.
#
# As root it installs the Debian packages the build needs (apt-get).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
SHARED=${ZODAN_SHARED:-$(cd "$ROOT/.." && pwd)/shared/spock}
# Bump when the server recipe below changes, so cached servers are rebuilt;
# SPOCK_RECIPE when only the way Spock is built on top of one changes.
RECIPE=2
SPOCK_RECIPE=2

say() { echo "[build-spock] $*" >&2; }
die() { say "ERROR: $*"; exit 1; }

spock=${1:-6}
pg_major=${2:-15}
case "$spock" in
    6) pattern='spock-6.0.0-devel-*.tar.gz'
       url=https://github.com/pgEdge/spock/archive/fd2c484adc5f0fb94bd058da6ab07d0c8d69dc3b.tar.gz ;;
    5|5.0.11) spock=5.0.11; pattern='spock-5.0.11.tar.gz'
       url=https://github.com/pgEdge/spock/archive/refs/tags/v5.0.11.tar.gz ;;
    5.0.9) pattern='spock-5.0.9.tar.gz'
       url=https://github.com/pgEdge/spock/archive/refs/tags/v5.0.9.tar.gz ;;
    pr545) pattern='spock-attach-node-pr545-*.tar.gz'
       url=https://github.com/pgEdge/spock/archive/7fab77ed.tar.gz ;;
    *) die "usage: build-spock.sh 6|5.0.11|5.0.9|pr545 [15|18]" ;;
esac
case "$pg_major" in
    15) pg_version=15.18 ;;
    18) pg_version=18.6 ;;
    *) die "usage: build-spock.sh SPOCK [15|18]" ;;
esac
pg_url=https://ftp.postgresql.org/pub/source/v$pg_version/postgresql-$pg_version.tar.bz2

if [ -n "${PG_CONFIG:-}" ] && [ -f "$("$PG_CONFIG" --sharedir)/extension/spock.control" ] \
   && [ -f "$("$PG_CONFIG" --pkglibdir)/spock.so" ]; then
    say "using the Spock already installed for $PG_CONFIG"
    echo "$PG_CONFIG"; exit 0
fi

if [ "$(id -u)" = 0 ]; then CACHE=${ZODAN_SPOCK_CACHE:-/opt/zodan-spock}
else CACHE=${ZODAN_SPOCK_CACHE:-$HOME/.cache/zodan-spock}; fi
mkdir -p "$CACHE/downloads"

# resolve GIVEN PATTERN URL -> a tarball or directory path
resolve() {
    local given=$1 found
    if [ -n "$given" ]; then [ -e "$given" ] || die "$given does not exist"; echo "$given"; return; fi
    found=$(ls "$SHARED"/$2 2>/dev/null | head -n1 || true)
    if [ -n "$found" ]; then echo "$found"; return; fi
    found="$CACHE/downloads/$(basename "$3")"
    if [ ! -s "$found" ]; then
        say "downloading $3"
        curl -fsSL -o "$found.part" "$3" || die "download of $3 failed; set SPOCK_SRC / PG_SRC to a local tarball"
        mv "$found.part" "$found"
    fi
    echo "$found"
}
spock_src=$(resolve "${SPOCK_SRC:-}" "$pattern" "$url")
pg_src=$(resolve "${PG_SRC:-}" "postgresql-$pg_version.tar.bz2" "$pg_url")

# A fingerprint of a tarball or a directory's contents.
fingerprint() {
    if [ -d "$1" ]; then (cd "$1" && find . -type f ! -path './.git/*' -print0 | sort -z | xargs -0 sha256sum) | sha256sum
    else sha256sum <"$1"; fi
}
# unpack SRC DEST: DEST gets the source tree (one top folder of a tarball).
unpack() {
    mkdir -p "$2"
    if [ -d "$1" ]; then cp -a "$1/." "$2/"
    else tar -xaf "$1" -C "$2" --strip-components=1; fi
}

build_deps() {
    local need=() p
    for p in bison flex gcc make patch bzip2 curl libreadline-dev zlib1g-dev libssl-dev libjansson-dev pkg-config \
             perl libipc-run-perl; do
        dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
    done
    [ ${#need[@]} = 0 ] && return
    [ "$(id -u)" = 0 ] || die "missing build packages: ${need[*]} (install them, or run as root)"
    say "installing build packages: ${need[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/zodan-spock-build.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
unpack "$spock_src" "$WORK/spock"
[ -d "$WORK/spock/patches/$pg_major" ] || die "$spock_src has no patches/$pg_major: not a Spock source tree for PostgreSQL $pg_major"

# The patched server depends on the PostgreSQL source, the recipe and the
# patches only, so Spock versions whose patches agree share it.
pg_key=$({ echo "recipe $RECIPE"; fingerprint "$pg_src"; cat "$WORK"/spock/patches/"$pg_major"/*.diff; } | sha256sum | cut -c1-12)
spock_key=$({ echo "$pg_key spock-recipe $SPOCK_RECIPE"; fingerprint "$spock_src"; } | sha256sum | cut -c1-12)
server="$CACHE/pg$pg_major-$pg_key"
prefix="$CACHE/pg$pg_major-spock$spock-$spock_key"

if [ -x "$prefix/bin/pg_config" ] && [ -f "$prefix/.complete" ]; then
    say "reusing $prefix"
    echo "$prefix/bin/pg_config"; exit 0
fi

# Two builds of the same server at once (parallel callers) would clobber
# each other: one at a time per cache.
exec 9>"$CACHE/.lock"
flock 9
if [ -x "$prefix/bin/pg_config" ] && [ -f "$prefix/.complete" ]; then
    say "reusing $prefix"
    echo "$prefix/bin/pg_config"; exit 0
fi

build_deps
jobs=$(nproc)
if ! [ -f "$server/.complete" ]; then
    say "building PostgreSQL $pg_version with Spock's patches/$pg_major into $server (2-3 minutes on 2 cores)"
    unpack "$pg_src" "$WORK/pg"
    for p in "$WORK"/spock/patches/"$pg_major"/*.diff; do
        say "  patch $(basename "$p")"
        patch -d "$WORK/pg" -p1 -s <"$p" || die "patch $(basename "$p") does not apply"
    done
    rm -rf "$server"
    ( cd "$WORK/pg" && ./configure -q --prefix="$server" --with-openssl --without-icu --enable-tap-tests \
        && make -s -j"$jobs" && make -s install && make -s -C contrib/dblink install \
        && make -s -C src/test/perl install ) \
        >"$WORK/pg.log" 2>&1 || { tail -n 40 "$WORK/pg.log" >&2; die "PostgreSQL build failed"; }
    touch "$server/.complete"
fi

say "building Spock $spock ($(basename "$spock_src")) for PostgreSQL $pg_major into $prefix"
# Built where it stays: a module linked against libpq records its build
# prefix's lib folder as RUNPATH, and a folder renamed afterwards would make
# the backend load whatever libpq the system has instead of this server's.
# The prefix counts as built only once .complete is written.
rm -rf "$prefix" "$prefix.tmp"
cp -a "$server" "$prefix"   # an installation is relocatable
rm -f "$prefix/.complete"
( cd "$WORK/spock" && PATH="$prefix/bin:$PATH" make -s USE_PGXS=1 PG_CONFIG="$prefix/bin/pg_config" -j"$jobs" \
    && PATH="$prefix/bin:$PATH" make -s USE_PGXS=1 PG_CONFIG="$prefix/bin/pg_config" install ) \
    >"$WORK/spock.log" 2>&1 || { tail -n 40 "$WORK/spock.log" >&2; die "Spock build failed"; }
touch "$prefix/.complete"
say "done: $prefix"
echo "$prefix/bin/pg_config"
