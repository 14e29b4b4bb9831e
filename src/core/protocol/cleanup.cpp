#include "core/protocol/cleanup.hpp"

#include <algorithm>

#include "core/protocol/spock_sql.hpp"
#include "core/protocol/util.hpp"
#include "core/text/text_array.hpp"
#include "core/protocol/waiter.hpp"

namespace zodan {

bool drop_slot_if_exists(Runtime &rt, Connection &node, const std::string &slot) {
    if (node.exec(sql::slots_named({slot})).empty()) return false;
    // The walsender lets go of the slot a moment after it is told to stop.
    wait_until(rt, "slot " + slot + " on node \"" + node.node() + "\" to be released", [&] {
        node.exec(sql::terminate_slot_user(slot));
        node.exec(sql::drop_slot(slot));
        return node.exec(sql::slots_named({slot})).empty();
    });
    return true;
}

void stop_subscriptions(Runtime &rt, const std::vector<SubscriptionOn> &subs) {
    if (subs.empty()) return;
    // One statement per connection at a time: rounds, each taking the next
    // subscription of every node.
    std::vector<SubscriptionOn> left = subs;
    while (!left.empty()) {
        std::vector<std::pair<Connection *, Query>> round;
        std::vector<SubscriptionOn> later;
        for (const SubscriptionOn &s : left) {
            const bool busy = std::any_of(round.begin(), round.end(), [&](const auto &w) { return w.first == s.node; });
            if (busy) later.push_back(s);
            else round.emplace_back(s.node, sql::sub_disable(s.sub));
        }
        rt.exec_all(round);
        left = std::move(later);
    }
    std::vector<std::string> names;
    for (const SubscriptionOn &s : subs) names.push_back(s.sub + " on node \"" + s.node->node() + "\"");
    const int64_t give_up = rt.now_ms() + 5000;
    std::vector<bool> stopped(subs.size(), false);
    wait_until(rt, "the workers of " + join(names) + " to stop", [&] {
        bool all = true;
        for (size_t i = 0; i < subs.size(); ++i) {
            if (stopped[i]) continue;
            Connection &node = *subs[i].node;
            if (node.exec(sql::subscription_workers(subs[i].sub)).text(0, "n") == "0") {
                stopped[i] = true;
                continue;
            }
            all = false;
            // A worker that does not notice the disable (stuck on a lock) is
            // ended: its subscription is going anyway.
            if (rt.now_ms() >= give_up) node.exec(sql::terminate_subscription_workers(subs[i].sub));
        }
        return all;
    });
}

void stop_and_drop_subscription(Runtime &rt, Connection &node, const std::string &sub) {
    stop_subscriptions(rt, {{&node, sub}});
    node.exec(sql::sub_drop(sub));
}

std::vector<std::string> user_objects_on(Connection &node) {
    QueryResult r = node.exec(sql::user_objects());
    std::vector<std::string> out;
    for (size_t i = 0; i < r.size(); ++i) out.push_back(r.text(i, "obj"));
    return out;
}

std::vector<std::string> drop_copied_objects(Connection &node, const std::vector<std::string> &before_copy,
                                             const std::optional<std::vector<std::string>> &copied) {
    QueryResult drops =
        node.exec(sql::copied_objects_drops(before_copy, copied ? Value(text_array_literal(*copied)) : Value()));
    std::vector<std::string> done;
    for (size_t i = 0; i < drops.size(); ++i) {
        const std::string stmt = drops.text(i, "stmt");
        // The statement text was built by the server with %I quoting.
        node.exec({"drop what the copy brought", stmt, {}});
        done.push_back(stmt);
    }
    return done;
}

}  // namespace zodan
