#!/usr/bin/env bash
# spock5: yes
# pg_regress suite of the two-node case: n2 joins single-node n1.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../inventory.sh"
ensure_zodan
cluster_start 2
inventory_cluster 1
q 2 "CREATE EXTENSION zodan" >/dev/null || die "CREATE EXTENSION zodan on n2 failed"
run_pg_regress 2 add_node_two_node
report_counts
