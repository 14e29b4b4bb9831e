#!/usr/bin/env bash
# spock5: yes
# pg_regress suites of spock.add_node: n4 joins meshed n1..n3 that hold data
# in the built-in sets and in a user-created one; every precondition failure;
# health_check before and after.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../inventory.sh"
ensure_zodan
cluster_start 4
inventory_cluster 3
q 4 "CREATE EXTENSION zodan" >/dev/null || die "CREATE EXTENSION zodan on n4 failed"
run_pg_regress 4 add_node_preconditions add_node health_check remove_node
report_counts
