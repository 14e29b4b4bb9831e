// spock.health_check: the add-node checks ('pre') or the post-join checks
// ('post'), reported one by one, changing nothing.
#pragma once

#include "core/cluster/cluster_view.hpp"

namespace zodan {

// Reports each check as passed or failed; throws UserError when any failed.
void health_check(Runtime &rt, const AddNodeArgs &args, const std::string &check_type);

}  // namespace zodan
