#include "core/cluster/join_lock.hpp"

#include "core/util.hpp"

#include <algorithm>

namespace zodan {

namespace {

// Two-int advisory key (hashtext('zodan'), 1): pg_locks shows it as
// classid = hashtext('zodan')::oid, objid = 1, objsubid = 2.
Query try_lock() {
    return {Stmt::JoinLockTake, "take the join lock", "SELECT pg_catalog.pg_try_advisory_lock(pg_catalog.hashtext('zodan'), 1)::text AS got",
            {}};
}

Query unlock() {
    return {Stmt::JoinLockRelease, "release the join lock", "SELECT pg_catalog.pg_advisory_unlock(pg_catalog.hashtext('zodan'), 1)", {}};
}

Query holder() {
    return {Stmt::JoinLockHolder, "find who holds the join lock",
            "SELECT l.pid::text AS pid, coalesce(nullif(a.application_name, ''), 'a session') AS who, "
            "  coalesce(pg_catalog.floor(extract(epoch FROM pg_catalog.clock_timestamp() - a.backend_start))::bigint::text, "
            "  '?') AS seconds "
            "FROM pg_catalog.pg_locks l LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = pg_catalog.hashtext('zodan')::oid "
            "AND l.objid = 1 AND l.objsubid = 2 AND l.pid <> pg_catalog.pg_backend_pid() LIMIT 1",
            {}};
}

}  // namespace

void take_join_lock(Runtime &rt, const std::vector<Member *> &cluster_members, const std::string &operation,
                    Member *new_node, ReadOnceLocked *once_gated) {
    // The lowest-named member is the gate, locked alone first: two runs
    // started at once both try it first, so one of them wins the whole
    // cluster rather than each getting half of it and both being refused.
    std::vector<Member *> order = cluster_members;
    std::sort(order.begin(), order.end(), [](const Member *a, const Member *b) { return a->name < b->name; });
    if (new_node) order.push_back(new_node);
    std::vector<Member *> taken, busy;
    auto try_take = [&](const std::vector<Member *> &some, ReadOnceLocked *along) {
        std::vector<std::pair<Connection *, Query>> work = same_query(some, try_lock());
        if (along) work.emplace_back(&along->on->db(), along->query);
        std::vector<QueryResult> got = rt.exec_all(work);
        for (size_t i = 0; i < some.size(); ++i) (got[i].text(0, "got") == "true" ? taken : busy).push_back(some[i]);
        if (along) along->result = std::move(got.back());
    };
    if (!order.empty()) try_take({order.front()}, nullptr);
    const bool read_along = once_gated && !order.empty() && once_gated->on == order.front();
    if (busy.empty() && order.size() > 1)
        try_take(std::vector<Member *>(order.begin() + 1, order.end()), read_along ? once_gated : nullptr);
    if (busy.empty()) return;
    // Let go of what we got, so that the other run is not held up by us.
    if (!taken.empty()) rt.exec_all(same_query(taken, unlock()));
    Member &where = *busy.front();
    QueryResult h = where.db().exec(holder());
    std::string who = "another run";
    std::string pid;
    if (!h.empty()) {
        who = h.text(0, "who");
        pid = h.text(0, "pid");
    }
    std::vector<std::string> names;
    for (Member *m : busy) names.push_back(m->name);
    throw UserError("another change of the cluster's membership is running: " + who + " holds the join lock on node \"" +
                        where.name + "\"" + (pid.empty() ? "" : " (process " + pid + ")"),
                    "Held on " + join(names) + ". Only one add_node or remove_node may run in a cluster at a time; " +
                        operation + " changed nothing.",
                    "Wait for it to finish (its progress is in spock.zodan_add_node_status on the node it adds), "
                    "then call again.",
                    Cause::LockHeld);
}

}  // namespace zodan
