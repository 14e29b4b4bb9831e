// Step check_versions: every node runs a Spock this version of zodan knows.
#include "core/plan/add_run.hpp"
#include "core/cluster/checks.hpp"

namespace zodan {

void check_versions(AddRun &run, Figures &figures) {
    std::vector<CheckResult> results = check_versions(run.rt, run.view);
    require_all(results);
    figures.add("nodes", static_cast<long long>(results.size()));
}

}  // namespace zodan
