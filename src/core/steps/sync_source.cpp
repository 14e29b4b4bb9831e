// Step sync_source: a sync event of every other node applied on S, so that
// the copy point finds S holding everything the others' slots skip.
#include "core/plan/add_run.hpp"
#include "core/waits/replication_waits.hpp"

namespace zodan {

std::string no_other_nodes(const AddRun &run) { return run.view.others.empty() ? "no other nodes" : ""; }

void sync_source(AddRun &run, Figures &figures) {
    for (const auto &[name, lsn] : sync_and_wait(run.rt, run.others(), run.source())) figures.add(name, format_lsn(lsn));
}

}  // namespace zodan
