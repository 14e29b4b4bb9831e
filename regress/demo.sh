#!/usr/bin/env bash
# Demo: a local three-node cluster under write load on all three nodes; n4
# joins with spock.add_node while the writes go on; then each node's row
# counts and checksums are printed (all four identical) with the add's wall
# time. The cluster is the tests' own harness (regress/demo.pl on
# regress/lib/Zodan/). As root it first installs the Debian packages it
# needs (apt-get).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
bash "$HERE/install-deps.sh" || exit 1
exec perl "$HERE/demo.pl"
