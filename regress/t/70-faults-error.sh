#!/usr/bin/env bash
# For every step of add_node: an error injected right after the step's work
# (before it is recorded), then (a) add_node again completes with all four
# nodes identical, or (b) remove_node on n4 leaves nothing behind and n1..n3
# still replicate. n1..n3 take writes throughout.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../inventory.sh"
source "$(dirname "$0")/../load.sh"
source "$(dirname "$0")/../faults.sh"
run_fault_suite error
