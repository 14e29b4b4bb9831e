#!/usr/bin/env bash
# The Debian packages the build, the tests, the demo and the benchmarks need,
# installed with apt-get when run as root and something is missing; as
# another user it only says what is missing.
set -euo pipefail
need=()
for p in gcc g++ make cmake catch2 patch bzip2 bison flex pkg-config curl perl libipc-run-perl \
         libreadline-dev zlib1g-dev libssl-dev libjansson-dev libpq-dev iproute2; do
    dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
[ ${#need[@]} = 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "missing Debian packages: ${need[*]} (install them as root, or run this as root)" >&2
    exit 1
fi
echo "[install-deps] installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
