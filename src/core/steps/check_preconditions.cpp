// Step check_preconditions: everything the add needs holds on every node,
// checked before anything changes anywhere (checks.hpp, headroom.hpp).
#include "core/plan/add_run.hpp"
#include "core/cluster/checks.hpp"
#include "core/cluster/headroom.hpp"
#include "core/util.hpp"

namespace zodan {

void check_preconditions(AddRun &run, Figures &figures) {
    require_all(check_preconditions(run.rt, run.view));
    run.detail("the database of " + run.args.src_name + " is " + human_bytes(run.view.source_database_bytes));
    figures.add("others", join(run.view.other_names())).add("source_bytes", run.view.source_database_bytes);
}

}  // namespace zodan
