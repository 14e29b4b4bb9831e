// Step advance_slots: each O's slot for N, and N's origin for sub_O_N,
// moved to P_O, how far the copy holds O's changes (the copy point proved
// it): sub_O_N then delivers exactly what the copy lacks.
#include "core/plan/add_run.hpp"
#include "core/cluster/names.hpp"
#include "core/statements/spock_sql.hpp"

namespace zodan {

void advance_slots(AddRun &run, Figures &figures) {
    const SourceCopy &copy = *run.record.copy;
    std::vector<std::pair<Connection *, Query>> advances;
    std::vector<std::string> origins;
    std::vector<Lsn> positions;
    for (Member *o : run.others()) {
        auto p = copy.positions.find(o->name);
        if (p == copy.positions.end())
            throw UserError("the copy recorded no position for origin \"" + o->name + "\" on node \"" +
                                run.args.new_name + "\"",
                            "Without it the slot for " + subscription_name(o->name, run.args.new_name) +
                                " cannot be advanced exactly; guessing would lose or repeat changes.",
                            "Run spock.remove_node for the new node and try again.");
        const std::string &slot = run.path(o->name).slot;
        advances.emplace_back(o->conn.get(), sql::advance_slot(slot, p->second));
        origins.push_back(slot);
        positions.push_back(p->second);
    }
    // N's origins meanwhile, in one statement.
    advances.emplace_back(run.new_node().conn.get(), sql::advance_origins(origins, positions));
    run.rt.exec_all(advances);
    for (size_t i = 0; i < origins.size(); ++i) {
        const std::string &name = run.view.others[i].name;
        figures.add(name, format_lsn(positions[i]));
        run.detail(name + ": slot and origin " + origins[i] + " advanced", "to " + format_lsn(positions[i]));
    }
}

}  // namespace zodan
