#include "core/waits/in_flight.hpp"

#include <exception>
#include <utility>

namespace zodan {

InFlight::~InFlight() {
    for (Connection *c : sent_) c->abandon();
}

void InFlight::send(Connection &conn, const Query &query) {
    conn.send(query);
    sent_.push_back(&conn);
}

std::vector<QueryResult> InFlight::collect() {
    std::vector<Connection *> sent = std::move(sent_);
    sent_.clear();
    const int64_t deadline = rt_.now_ms() + rt_.sync_timeout_ms();
    std::vector<QueryResult> results;
    std::exception_ptr first_failure;
    for (size_t i = 0; i < sent.size(); ++i) {
        try {
            results.push_back(sent[i]->receive_before(deadline));
        } catch (const RemoteError &) {
            // A timeout is one too: the statement was cancelled on its node.
            if (!first_failure) first_failure = std::current_exception();
            results.emplace_back();
        } catch (...) {
            for (size_t j = i + 1; j < sent.size(); ++j) sent[j]->abandon();
            throw;
        }
    }
    if (first_failure) std::rethrow_exception(first_failure);
    return results;
}

}  // namespace zodan
