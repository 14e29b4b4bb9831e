#!/usr/bin/env bash
# For every step of add_node on a quiet cluster (no writes anywhere, so every
# wait depends on sync events alone): the caller's backend terminated while
# it waits at that step, then add_node again completes with all four nodes
# identical.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../inventory.sh"
source "$(dirname "$0")/../load.sh"
source "$(dirname "$0")/../faults.sh"
FAULT_LOAD=quiet run_fault_suite kill resume
