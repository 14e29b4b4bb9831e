// Step create_reverse_subscriptions: the paths out of N. As for the paths
// into N, each X gets sub_N_X disabled, its slot is made on N by us, then
// it is enabled. (Created enabled, Spock's worker on X would pause N's
// apply workers and make the slot itself, waiting each time for the WAL
// writer of a node that commits nothing.)
#include <set>

#include "core/plan/add_run.hpp"
#include "core/waits/in_flight.hpp"
#include "core/cluster/names.hpp"
#include "core/waits/slots.hpp"
#include "core/statements/spock_sql.hpp"
#include "core/util.hpp"
#include "core/steps/paths_in.hpp"

namespace zodan {

void create_reverse_subscriptions(AddRun &run, Figures &figures) {
    const AddNodeArgs &args = run.args;
    std::vector<std::string> sets = local_set_names(run.new_node());
    Connection &n = run.new_node().db();
    std::vector<Member *> existing = run.view.existing();
    std::vector<std::string> subs, slots, dbs, providers;
    for (Member *x : existing) {
        subs.push_back(subscription_name(args.new_name, x->name));
        dbs.push_back(x->dbname());
        providers.push_back(args.new_name);
    }
    // Only the names (Spock's rule, for each X's database): these
    // subscriptions live on the X's, not here.
    QueryResult named = n.exec(sql::subscription_slots(dbs, providers, subs));
    for (size_t i = 0; i < existing.size(); ++i) slots.push_back(named.text(i, "slot"));
    // The existing nodes make theirs (each sub_create there connects to N
    // twice) while N makes the slots; one made by an earlier call of this
    // run is left as it is (the statement looks first, on the node: no
    // round trip of its own).
    InFlight creating(run.rt);
    for (size_t i = 0; i < existing.size(); ++i)
        creating.send(*existing[i]->conn, sql::sub_create_if_absent(subs[i], args.new_dsn, sets));

    QueryResult have = n.exec(sql::slots_named(slots));
    std::set<std::string> present;
    for (size_t i = 0; i < have.size(); ++i) present.insert(have.text(i, "slot_name"));
    // One after another on one session: on N, which commits nothing of its
    // own, each takes a few milliseconds, less than a connection of its own
    // would cost. N's own session flushes N's WAL meanwhile when needed.
    for (const std::string &slot : slots)
        if (!present.count(slot))
            create_slots(run.rt, {{&run.new_node(), slot, &run.second_new_node_session()}},
                         [](Member &m) { m.db().exec(sql::sync_event()); });
    creating.collect();
    std::vector<std::pair<Connection *, Query>> enables;
    for (size_t i = 0; i < existing.size(); ++i)
        enables.emplace_back(existing[i]->conn.get(), sql::enable_disabled({subs[i]}));
    run.rt.exec_all(enables);
    figures.add("sets", join(sets)).add("slots", join(slots));
}

}  // namespace zodan
