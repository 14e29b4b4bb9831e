// Step confirm: the cluster is a full mesh with N in it, N's own changes
// reach every node, and the operator reads every subscription's state.
#include "core/plan/add_run.hpp"
#include "core/cluster/checks.hpp"
#include "core/waits/replication_waits.hpp"
#include "core/statements/spock_sql.hpp"
#include "core/util.hpp"

namespace zodan {

void confirm(AddRun &run, Figures &figures) {
    Runtime &rt = run.rt;
    const AddNodeArgs &args = run.args;
    std::vector<Member *> existing = run.view.existing();
    std::vector<Member *> all = existing;
    all.push_back(&run.new_node());
    // N's own changes reach every node: N's slots were made before the
    // paths out of it (create_reverse_subscriptions), so they keep this
    // event whenever those paths' workers start.
    Lsn n_event = lsn_of(run.new_node().db().exec(sql::sync_event()).scalar());
    wait_applied(rt, existing, {{args.new_name, n_event}});
    figures.add(args.new_name, format_lsn(n_event));

    // Then every subscription replicating, and the membership as every
    // member sees it in the same read: a full mesh, and no member this run
    // did not take part with. The subscriptions' status the operator reads
    // below is the one that check read.
    std::vector<QueryResult> statuses;
    require_all(check_full_mesh(all, wait_mesh_replicating(rt, all), &statuses));

    size_t total = 0;
    for (size_t i = 0; i < all.size(); ++i) {
        std::vector<std::string> items;
        for (size_t r = 0; r < statuses[i].size(); ++r)
            items.push_back(statuses[i].text(r, "subscription_name") + " " + statuses[i].text(r, "status"));
        total += statuses[i].size();
        rt.report(Level::Notice, "node " + all[i]->name + ": " + (items.empty() ? "no subscriptions" : join(items)));
    }
    QueryResult lag = run.new_node().db().exec(sql::lag_from(args.src_name));
    std::string lag_text =
        lag.empty() ? "unknown" : lag.text(0, "bytes", "?") + " bytes (" + lag.text(0, "lag", "?") + ")";
    rt.report(Level::Notice,
              "add_node: node " + args.new_name + " joined through " + args.src_name + ": " +
                  std::to_string(all.size()) + " nodes, " + std::to_string(total) + " subscriptions replicating",
              "lag " + args.src_name + " -> " + args.new_name + ": " + lag_text + "; took " +
                  std::to_string(rt.now_ms() - run.started_ms) + " ms");
    figures.add("nodes", static_cast<long long>(all.size())).add("subscriptions", static_cast<long long>(total));
}

}  // namespace zodan
