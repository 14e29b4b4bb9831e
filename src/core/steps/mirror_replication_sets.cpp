// Step mirror_replication_sets: N's replication sets made as S has them
// (mirror_sets.hpp). A relation N lacks, created after the copy point and
// still on its way through the paths into N, is left for confirm_inbound.
#include "core/plan/add_run.hpp"
#include "core/steps/mirror_sets.hpp"
#include "core/util.hpp"
#include "core/text/text_array.hpp"

namespace zodan {

void mirror_replication_sets(AddRun &run, Figures &figures) {
    MirrorOutcome m = mirror_replication_sets(run.rt, run.source(), run.new_node());
    run.record.sets = MirroredSets{m.deferred};
    figures.add("sets", static_cast<long long>(m.sets))
        .add("tables", static_cast<long long>(m.tables))
        .add("sequences", static_cast<long long>(m.sequences))
        .add("changes", m.changes);
    run.detail("replication sets mirrored from " + run.args.src_name,
               std::to_string(m.sets) + " sets, " + std::to_string(m.tables) + " table memberships, " +
                   std::to_string(m.changes) + " changes" +
                   (m.deferred.empty() ? "" : "; created after the copy point, mirrored once they arrive: " + join(m.deferred)));
}

}  // namespace zodan
