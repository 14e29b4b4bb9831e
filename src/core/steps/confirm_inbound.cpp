// Step confirm_inbound: every path into N delivers, and what
// mirror_replication_sets left for later (relations created after the copy
// point, which arrived through those paths) is mirrored.
#include "core/plan/add_run.hpp"
#include "core/steps/mirror_sets.hpp"
#include "core/waits/replication_waits.hpp"
#include "core/util.hpp"
#include "core/text/text_array.hpp"

namespace zodan {

namespace {

// Relations made after the copy point (Spock's DDL replication) have
// arrived by now: every path into N delivered a sync event written after
// mirror_replication_sets read the source's sets.
void mirror_deferred_sets(AddRun &run, Figures &figures) {
    const std::vector<std::string> &deferred = run.record.sets->deferred;
    if (deferred.empty()) return;
    MirrorOutcome m = mirror_replication_sets(run.rt, run.source(), run.new_node());
    if (!m.deferred.empty())
        throw UserError("relations in the replication sets of \"" + run.args.src_name + "\" have not reached node \"" +
                            run.args.new_name + "\": " + join(m.deferred),
                        "They were created after the copy point; their DDL should have arrived through the new "
                        "node's subscriptions, which have delivered everything written before this step.",
                        "Check that DDL replication (spock.enable_ddl_replication) is on for every node, or create "
                        "them on \"" + run.args.new_name + "\" by hand, then call spock.add_node again to resume.");
    figures.add("sets_mirrored_late", text_array_literal(deferred));
    run.detail("replication sets mirrored for what arrived after the copy point", join(deferred));
}

}  // namespace

void confirm_inbound(AddRun &run, Figures &figures) {
    // Every path into N delivers: the e_O of prepare_other_nodes first (the
    // protocol's own check), then a fresh event on S and each O. (Sync
    // events are written before the paths out of N open: each existing
    // node's manager then holds Spock's local_node lock for a second while
    // it starts sub_N_X's worker, and a sync event waits for that lock.)
    std::map<std::string, Lsn> prepared_events;
    for (const Member &o : run.view.others) prepared_events[o.name] = run.path(o.name).sync_lsn;
    wait_replicating(run.rt, {&run.new_node()}, {});
    wait_applied(run.rt, {&run.new_node()}, prepared_events);
    for (const auto &[name, lsn] : sync_and_wait(run.rt, run.view.existing(), run.new_node()))
        figures.add(name, format_lsn(lsn));
    mirror_deferred_sets(run, figures);
}

}  // namespace zodan
