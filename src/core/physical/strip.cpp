#include "core/physical/physical.hpp"
#include "core/physical/physical_sql.hpp"
#include "core/physical/window_sql.hpp"
#include "core/util.hpp"

namespace zodan::physical {

void drop_copied_journal(AddRun &run) { run.new_node().db().exec(stmt::drop_other_runs(run.journal.run_id())); }

void strip_source_identity(AddRun &run, Figures &figures) {
    Connection &n = run.new_node().db();
    const std::string &S = run.args.src_name, &N = run.args.new_name;
    QueryResult local = n.exec(stmt::local_node());
    const std::string is = local.empty() ? "" : local.text(0, "node_name");
    if (is == N) return;  // stripped and registered by an earlier call of this run
    if (!is.empty() && is != S)
        throw UserError("this node is Spock node \"" + is + "\", neither the source \"" + S + "\" it was a copy of nor \"" +
                            N + "\"",
                        "", "Roll the run back with spock.remove_node and rebuild this node from a standby of \"" +
                                S + "\".");
    // Slots copied or synchronised from S and S's origins first (each a
    // function call of its own), then the catalog rows in one transaction.
    QueryResult slots = n.exec(stmt::drop_logical_slots());
    QueryResult origins = n.exec(stmt::drop_spock_origins());
    if (!is.empty()) n.exec(stmt::strip_spock_catalog());
    // Ignored once promoted, but a standby.signal put back later must not
    // have it follow S again. (ALTER SYSTEM may be turned off: then only said.)
    std::vector<std::string> kept;
    for (const char *setting : {"primary_conninfo", "primary_slot_name"}) {
        try {
            n.exec(stmt::reset_standby_setting(setting));
        } catch (const RemoteError &e) {
            kept.push_back(std::string(setting) + " (" + e.server_message() + ")");
        }
    }
    if (kept.size() < 2) n.exec(stmt::reload_configuration());
    if (!kept.empty())
        run.rt.report(Level::Notice, "add_node: could not reset " + join(kept) + " on this node",
                      "Promoted, it no longer follows " + S + "; remove them from its configuration by hand.");
    // N's slot on S, which S would otherwise keep WAL for forever.
    PhysicalState &ps = state_of(run);
    if (!ps.standby_slot.empty()) {
        QueryResult dropped;
        for (int attempt = 0; attempt < 50 && dropped.empty(); ++attempt) {
            dropped = run.source().db().exec(stmt::drop_physical_slot(ps.standby_slot));
            if (dropped.empty()) run.rt.sleep_ms(100);  // its walsender is on its way out
        }
        if (dropped.empty())
            run.rt.report(Level::Warning, "add_node: the standby's slot \"" + ps.standby_slot + "\" on " + S +
                                              " is still in use; drop it there once it is not");
        figures.add("standby_slot_dropped", ps.standby_slot);
    }
    figures.add("slots_dropped", static_cast<long long>(slots.size()))
        .add("origins_dropped", static_cast<long long>(origins.size()));
    run.detail("the identity of " + S + " stripped from this node",
               std::to_string(slots.size()) + " slot(s), " + std::to_string(origins.size()) +
                   " origin(s), and its node, subscriptions and sets in the catalog");
}

}  // namespace zodan::physical
