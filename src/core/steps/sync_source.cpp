// Step sync_source: a sync event of every other node applied on S, so that
// the copy point finds S holding everything the others' slots skip.
#include "core/plan/add_run.hpp"
#include "core/waits/replication_waits.hpp"
#include "core/waits/wal_retention.hpp"

namespace zodan {

std::string no_other_nodes(const AddRun &run) { return run.view.others.empty() ? "no other nodes" : ""; }

void sync_source(AddRun &run, Figures &figures) {
    // prepare_other_nodes wrote each O's event after O's slot started and
    // waited for S to apply it: S holds every change the slots skip. So
    // those events are the ones waited for (S's progress never goes back:
    // one read, none where that wait was this call's); only a record
    // without them (an older version's) writes new ones.
    // The join's slots looked at, due or not (where a node limits their
    // WAL): the last look before the copy, which a slot at risk must not
    // reach.
    SlotWatch::look_now();
    std::map<std::string, Lsn> events;
    for (Member *o : run.others())
        if (Lsn lsn = run.path(o->name).sync_lsn) events[o->name] = lsn;
    if (events.size() == run.others().size()) {
        if (!run.source_applied_events) wait_applied(run.rt, {&run.source()}, events);
    } else
        events = sync_and_wait(run.rt, run.others(), run.source());
    for (const auto &[name, lsn] : events) figures.add(name, format_lsn(lsn));
}

}  // namespace zodan
