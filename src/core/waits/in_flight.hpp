// Statements sent to some nodes while the step goes on with others: those
// nodes work meanwhile instead of waiting for their turn.
#pragma once

#include <optional>
#include <vector>

#include "core/remote.hpp"

namespace zodan {

class InFlight {
public:
    explicit InFlight(Runtime &rt) : rt_(rt) {}
    InFlight(const InFlight &) = delete;
    InFlight &operator=(const InFlight &) = delete;
    // A statement left uncollected (the step failed meanwhile) is cancelled,
    // so its connection is usable again.
    ~InFlight();

    // The connection must not be used for anything else until collect().
    void send(Connection &conn, const Query &query);
    // Waits for every statement sent, in order, within zodan.sync_timeout;
    // when some failed, the first failure is thrown after all were waited for.
    std::vector<QueryResult> collect();
    // Receives those that have ended and throws the first failure among
    // them at once, so that a long wait meanwhile stops for it (the rest
    // stay in flight until collect(), or are cancelled). Never waits.
    void throw_if_failed();

private:
    Runtime &rt_;
    std::vector<Connection *> sent_;
    std::vector<std::optional<QueryResult>> received_;  // with sent_: what throw_if_failed took
};

}  // namespace zodan
