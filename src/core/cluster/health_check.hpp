// spock.health_check: the add-node checks ('pre') or the post-join checks
// ('post'), reported one by one, changing nothing; the same checks as rows
// for spock.health_check_report.
#pragma once

#include <string>
#include <vector>

#include "core/cluster/cluster_view.hpp"

namespace zodan {

// One check's outcome as a row: the node it is about ("" for a check of
// the cluster as a whole).
struct HealthRow {
    std::string node, check;
    bool passed = true;
    std::string message, hint;  // empty when passed
};

// Runs the checks of `check_type` ('pre' or 'post'); throws only when they
// cannot run (a bad argument, a node that cannot be reached).
std::vector<HealthRow> health_check_rows(Runtime &rt, const AddNodeArgs &args, const std::string &check_type);

// Reports each check as passed or failed; throws UserError when any failed.
void health_check(Runtime &rt, const AddNodeArgs &args, const std::string &check_type);

}  // namespace zodan
