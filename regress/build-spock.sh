#!/usr/bin/env bash
# Builds the real Spock the tests run on: PostgreSQL 15 patched with the
# patches Spock ships, contrib/dblink (the published zodan.sql needs it) and
# Spock itself, into a prefix keyed by its inputs, so a second run with the
# same inputs reuses it. Prints the prefix's pg_config path on stdout, last.
#
#   regress/build-spock.sh 6|5         (Spock 6.0.0-devel or 5.0.9)
#
# Inputs (tarballs or unpacked directories):
#   SPOCK_SRC                Spock source for the version asked for (or, per
#   SPOCK6_SRC / SPOCK5_SRC  version, these); default: ../shared/spock/spock-*.tar.gz,
#                            else downloaded from github (pgEdge/spock at the
#                            pinned commit / tag)
#   PG_SRC                   PostgreSQL 15 source; default: ../shared/spock/
#                            postgresql-15.18.tar.bz2, else downloaded
#   ZODAN_SPOCK_CACHE        where prefixes live (default /opt/zodan-spock as
#                            root, ~/.cache/zodan-spock otherwise)
# A PG_CONFIG whose server already has Spock (a pgEdge install) skips the
# build: that pg_config is printed as it is.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
SHARED=${ZODAN_SHARED:-$(cd "$ROOT/.." && pwd)/shared/spock}

say() { echo "[build-spock] $*" >&2; }
die() { say "ERROR: $*"; exit 1; }

major=${1:-6}
case "$major" in
    6) src_var=SPOCK6_SRC; pattern='spock-6.0.0-devel-*.tar.gz'
       url=https://github.com/pgEdge/spock/archive/fd2c484adc5f0fb94bd058da6ab07d0c8d69dc3b.tar.gz ;;
    5) src_var=SPOCK5_SRC; pattern='spock-5.0.9.tar.gz'
       url=https://github.com/pgEdge/spock/archive/refs/tags/v5.0.9.tar.gz ;;
    *) die "usage: build-spock.sh 6|5" ;;
esac
pg_url=https://ftp.postgresql.org/pub/source/v15.18/postgresql-15.18.tar.bz2
if [ -n "${SPOCK_SRC:-}" ] && [ -z "${!src_var:-}" ]; then printf -v "$src_var" '%s' "$SPOCK_SRC"; fi

if [ -n "${PG_CONFIG:-}" ] && [ -f "$("$PG_CONFIG" --sharedir)/extension/spock.control" ] \
   && [ -f "$("$PG_CONFIG" --pkglibdir)/spock.so" ]; then
    say "using the Spock already installed for $PG_CONFIG"
    echo "$PG_CONFIG"; exit 0
fi

if [ "$(id -u)" = 0 ]; then CACHE=${ZODAN_SPOCK_CACHE:-/opt/zodan-spock}
else CACHE=${ZODAN_SPOCK_CACHE:-$HOME/.cache/zodan-spock}; fi
mkdir -p "$CACHE/downloads"

# resolve VAR PATTERN URL -> a tarball or directory path
resolve() {
    local given=${!1:-} found
    if [ -n "$given" ]; then [ -e "$given" ] || die "$1=$given does not exist"; echo "$given"; return; fi
    found=$(ls "$SHARED"/$2 2>/dev/null | head -n1 || true)
    if [ -n "$found" ]; then echo "$found"; return; fi
    found="$CACHE/downloads/$(basename "$3")"
    if [ ! -s "$found" ]; then
        say "downloading $3"
        curl -fsSL -o "$found.part" "$3" || die "download of $3 failed; set $1 to a local tarball"
        mv "$found.part" "$found"
    fi
    echo "$found"
}
spock_src=$(resolve "$src_var" "$pattern" "$url")
pg_src=$(resolve PG_SRC 'postgresql-15.18.tar.bz2' "$pg_url")

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
    local need=()
    for p in bison flex gcc make patch bzip2 libreadline-dev zlib1g-dev libssl-dev libjansson-dev pkg-config; do
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
[ -d "$WORK/spock/patches/15" ] || die "$spock_src has no patches/15: not a Spock source tree"

# The patched server depends on the PostgreSQL source and Spock's patches
# only, so both Spock versions share it when their patches agree.
pg_key=$({ fingerprint "$pg_src"; cat "$WORK"/spock/patches/15/*; } | sha256sum | cut -c1-12)
spock_key=$({ echo "$pg_key"; fingerprint "$spock_src"; } | sha256sum | cut -c1-12)
server="$CACHE/pg15-$pg_key"
prefix="$CACHE/spock$major-$spock_key"

if [ -x "$prefix/bin/pg_config" ] && [ -f "$prefix/.complete" ]; then
    say "reusing $prefix"
    echo "$prefix/bin/pg_config"; exit 0
fi

build_deps
jobs=$(nproc)
if ! [ -f "$server/.complete" ]; then
    say "building PostgreSQL 15 with Spock's patches into $server (about 2 minutes on 2 cores)"
    unpack "$pg_src" "$WORK/pg"
    for p in "$WORK"/spock/patches/15/*; do
        say "  patch $(basename "$p")"
        patch -d "$WORK/pg" -p1 -s <"$p" || die "patch $(basename "$p") does not apply"
    done
    rm -rf "$server"
    ( cd "$WORK/pg" && ./configure -q --prefix="$server" --with-openssl --without-icu \
        && make -s -j"$jobs" && make -s install && make -s -C contrib/dblink install ) \
        >"$WORK/pg.log" 2>&1 || { tail -n 40 "$WORK/pg.log" >&2; die "PostgreSQL build failed"; }
    touch "$server/.complete"
fi

say "building Spock $major ($(basename "$spock_src")) into $prefix"
rm -rf "$prefix"
cp -a "$server" "$prefix.tmp"   # an installation is relocatable
rm -f "$prefix.tmp/.complete"
( cd "$WORK/spock" && PATH="$prefix.tmp/bin:$PATH" make -s USE_PGXS=1 PG_CONFIG="$prefix.tmp/bin/pg_config" -j"$jobs" \
    && PATH="$prefix.tmp/bin:$PATH" make -s USE_PGXS=1 PG_CONFIG="$prefix.tmp/bin/pg_config" install ) \
    >"$WORK/spock.log" 2>&1 || { tail -n 40 "$WORK/spock.log" >&2; die "Spock build failed"; }
mv "$prefix.tmp" "$prefix"
touch "$prefix/.complete"
say "done: $prefix"
echo "$prefix/bin/pg_config"
