// Step create_reverse_subscriptions: the paths out of N. As for the paths
// into N, each X's sub_N_X is made disabled (Spock then marks it
// synchronized and leaves its slot to us) and its slot is made on N by us;
// here N's slots come first, so that each X makes its subscription and
// enables it in one statement. (Created enabled, Spock's worker on X would
// pause N's apply workers and make the slot itself, waiting each time for
// the WAL writer of a node that commits nothing.)
#include <set>

#include "core/plan/add_run.hpp"
#include "core/cluster/names.hpp"
#include "core/waits/slots.hpp"
#include "core/waits/waiter.hpp"
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
    // N's slots first, one after another on one session: on N, which
    // commits nothing of its own, each takes a few milliseconds, and one
    // look for long transactions serves them all. N's own session flushes
    // N's WAL meanwhile when needed. A slot made by an earlier call of
    // this run is left as it is.
    QueryResult have = n.exec(sql::slots_named(slots));
    std::set<std::string> present;
    for (size_t i = 0; i < have.size(); ++i) present.insert(have.text(i, "slot_name"));
    std::vector<std::string> missing;
    for (const std::string &slot : slots)
        if (!present.count(slot)) missing.push_back(slot);
    if (!missing.empty()) {
        const int64_t looked_ms = wait_for_long_transactions(run.rt, {&run.new_node()}, Waiter(run.rt).deadline(),
                                                             "a replication slot there cannot start before");
        for (const std::string &slot : missing)
            create_slots(run.rt, {{&run.new_node(), slot, &run.second_new_node_session()}},
                         [](Member &m) { m.db().exec(sql::sync_event()); }, looked_ms);
    }
    // Then on every X at once, in one statement each: sub_N_X made (each
    // sub_create there connects to N twice; one made by an earlier call of
    // this run is left as it is) and enabled. Its worker starts after the
    // commit, when its slot on N exists.
    std::vector<std::pair<Connection *, Query>> creates;
    for (size_t i = 0; i < existing.size(); ++i)
        creates.emplace_back(existing[i]->conn.get(), sql::sub_create_then_enable(subs[i], args.new_dsn, sets));
    run.rt.exec_all(creates);
    figures.add("sets", join(sets)).add("slots", join(slots));
}

}  // namespace zodan
