#include "core/protocol/cleanup.hpp"

#include "core/protocol/spock_sql.hpp"
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

void stop_and_drop_subscription(Runtime &rt, Connection &node, const std::string &sub) {
    node.exec(sql::sub_disable(sub));
    const int64_t give_up = rt.now_ms() + 5000;
    wait_until(rt, "the worker of " + sub + " on node \"" + node.node() + "\" to stop", [&] {
        if (node.exec(sql::subscription_workers(sub)).text(0, "n") == "0") return true;
        // A worker that does not notice the disable (stuck on a lock) is
        // ended: its subscription is going anyway.
        if (rt.now_ms() >= give_up) node.exec(sql::terminate_subscription_workers(sub));
        return false;
    });
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
