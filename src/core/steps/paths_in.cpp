#include "core/steps/paths_in.hpp"

#include "core/cluster/names.hpp"
#include "core/statements/spock_sql.hpp"
#include "core/util.hpp"

namespace zodan {

std::vector<std::string> local_set_names(Member &node) {
    QueryResult sets = node.db().exec(sql::local_sets());
    return set_names_of(sets);
}

QueryResult subscriptions_on_new_node(AddRun &run, const std::vector<Member *> &providers) {
    // One look on N for all of them: which an earlier call of this run
    // made, the slot each has or will get by Spock's rule, and origins of
    // those names an earlier run left (sub_create would trip over them).
    std::vector<std::string> dbs, names, subs;
    for (Member *p : providers) {
        dbs.push_back(run.new_node().dbname());
        names.push_back(p->name);
        subs.push_back(subscription_name(p->name, run.args.new_name));
    }
    return run.new_node().db().exec(sql::subscription_slots(dbs, names, subs));
}

void subscribe_new_node(AddRun &run, const std::vector<Member *> &providers, InFlight *in_flight) {
    if (providers.empty()) return;
    std::vector<QueryResult> read = run.rt.exec_all(same_query(providers, sql::local_sets()));
    std::vector<std::vector<std::string>> sets;
    for (const QueryResult &r : read) sets.push_back(set_names_of(r));
    subscribe_new_node(run, providers, sets, subscriptions_on_new_node(run, providers), 0, in_flight);
}

std::vector<std::string> set_names_of(const QueryResult &local_sets) {
    std::vector<std::string> names;
    for (size_t r = 0; r < local_sets.size(); ++r) names.push_back(local_sets.text(r, "set_name"));
    return names;
}

void subscribe_new_node(AddRun &run, const std::vector<Member *> &providers,
                        const std::vector<std::vector<std::string>> &sets, const QueryResult &on_n, size_t first_row,
                        InFlight *in_flight) {
    if (providers.empty()) return;
    Connection &n = run.new_node().db();
    std::vector<std::string> names, dsns;
    std::vector<std::vector<std::string>> set_lists;
    Connection *via = &n;
    for (size_t i = 0; i < providers.size(); ++i) {
        Member &p = *providers[i];
        const size_t row = first_row + i;
        const std::string slot = on_n.text(row, "slot");
        run.path(p.name).slot = slot;
        if (on_n.text(row, "present") == "true") continue;  // made by an earlier call of this run
        if (in_flight && names.empty()) via = &run.second_new_node_session();
        if (on_n.text(row, "origin_left") == "true") via->exec(sql::drop_origin_if_exists(slot));
        names.push_back(on_n.text(row, "sub"));
        dsns.push_back(p.dsn.text());
        set_lists.push_back(sets[i]);
    }
    if (names.empty()) return;
    // Spock makes them one at a time anyway (each sub_create holds N's
    // local_node lock while it connects to its provider twice and to N
    // once), so one statement on one session costs no time, only fewer
    // connections.
    const Query create = sql::sub_create_disabled(names, dsns, set_lists);
    if (in_flight)
        in_flight->send(*via, create);
    else
        via->exec(create);
}

}  // namespace zodan
