// Step check_preconditions of a physical run (docs/physical.md): the new
// node is a streaming hot standby of the source, the call runs on it, and
// what the cluster must hold for the add (physical.hpp), checked before
// anything changes; then a change of the source's is seen replayed here.
#include "core/physical/physical.hpp"
#include "core/util.hpp"

namespace zodan {

std::string registered_by_the_seed(const AddRun &run) {
    return run.record.copy_method == CopyMethod::Physical ? "a standby is registered once promoted (copy_source)" : "";
}

void check_standby(AddRun &run, Figures &figures) {
    require_all(physical::check_standby_of_source(run));
    physical::prove_replay(run, figures);
    figures.add("others", join(run.view.other_names())).add("source_bytes", run.view.source_database_bytes);
}

}  // namespace zodan
