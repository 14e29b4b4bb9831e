// Step check_versions: every node runs a Spock this version of zodan knows,
// and the copy method is chosen, once, for the whole run (physical.hpp).
#include "core/physical/physical.hpp"
#include "core/plan/add_run.hpp"
#include "core/cluster/checks.hpp"

namespace zodan {

void check_versions(AddRun &run, Figures &figures) {
    std::vector<CheckResult> results = check_versions(run.rt, run.view);
    require_all(results);
    run.record.copy_method = physical::choose_copy_method(run.rt.copy_method(), run.standby);
    figures.add("nodes", static_cast<long long>(results.size()));
}

}  // namespace zodan
