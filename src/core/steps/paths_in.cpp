#include "core/steps/paths_in.hpp"

#include "core/cluster/names.hpp"
#include "core/statements/spock_sql.hpp"
#include "core/util.hpp"

namespace zodan {

std::vector<std::string> local_set_names(Member &node) {
    QueryResult sets = node.db().exec(sql::local_sets());
    std::vector<std::string> names;
    for (size_t i = 0; i < sets.size(); ++i) names.push_back(sets.text(i, "set_name"));
    return names;
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
    std::vector<QueryResult> sets = run.rt.exec_all(same_query(providers, sql::local_sets()));
    subscribe_new_node(run, providers, sets, subscriptions_on_new_node(run, providers), in_flight);
}

void subscribe_new_node(AddRun &run, const std::vector<Member *> &providers, const std::vector<QueryResult> &sets,
                        const QueryResult &on_n, InFlight *in_flight) {
    if (providers.empty()) return;
    Connection &n = run.new_node().db();
    std::vector<std::string> names, dsns;
    std::vector<std::vector<std::string>> set_lists;
    Connection *via = &n;
    for (size_t i = 0; i < providers.size(); ++i) {
        Member &p = *providers[i];
        const std::string slot = on_n.text(i, "slot");
        run.path(p.name).slot = slot;
        if (on_n.text(i, "present") == "true") continue;  // made by an earlier call of this run
        if (in_flight && names.empty()) via = &run.second_new_node_session();
        if (on_n.text(i, "origin_left") == "true") via->exec(sql::drop_origin_if_exists(slot));
        names.push_back(on_n.text(i, "sub"));
        dsns.push_back(p.dsn.text());
        std::vector<std::string> set_names;
        for (size_t r = 0; r < sets[i].size(); ++r) set_names.push_back(sets[i].text(r, "set_name"));
        set_lists.push_back(std::move(set_names));
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
