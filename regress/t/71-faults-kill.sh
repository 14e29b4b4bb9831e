#!/usr/bin/env bash
# For every step of add_node: the caller's backend terminated while it waits
# at that step, then (a) add_node again completes with all four nodes
# identical, or (b) remove_node on n4 leaves nothing behind and n1..n3 still
# replicate. n1..n3 take writes throughout.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../inventory.sh"
source "$(dirname "$0")/../load.sh"
source "$(dirname "$0")/../faults.sh"
ensure_zodan
cluster_start 4
inventory_cluster 3
q 4 "CREATE EXTENSION zodan" >/dev/null
STEPS=${FAULT_STEPS:-"check_versions check_preconditions create_node prepare_other_nodes sync_source copy_source catch_up advance_slots mirror_replication_sets enable_other_subscriptions create_reverse_subscriptions confirm"}
for step in $STEPS; do
    scenario kill "$step" resume
    scenario kill "$step" rollback
done
report_counts
