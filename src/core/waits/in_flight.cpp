#include "core/waits/in_flight.hpp"

#include <exception>
#include <utility>

namespace zodan {

InFlight::~InFlight() {
    for (size_t i = 0; i < sent_.size(); ++i)
        if (!received_[i]) sent_[i]->abandon();
}

void InFlight::send(Connection &conn, const Query &query) {
    conn.send(query);
    sent_.push_back(&conn);
    received_.emplace_back();
}

void InFlight::throw_if_failed() {
    for (size_t i = 0; i < sent_.size(); ++i) {
        if (received_[i] || !sent_[i]->finished()) continue;
        try {
            received_[i] = sent_[i]->receive_before(rt_.now_ms() + rt_.sync_timeout_ms());
        } catch (...) {
            received_[i] = QueryResult();  // its connection is idle again: nothing to cancel
            throw;
        }
    }
}

std::vector<QueryResult> InFlight::collect() {
    std::vector<Connection *> sent = std::move(sent_);
    std::vector<std::optional<QueryResult>> received = std::move(received_);
    sent_.clear();
    received_.clear();
    const int64_t deadline = rt_.now_ms() + rt_.sync_timeout_ms();
    std::vector<QueryResult> results;
    std::exception_ptr first_failure;
    for (size_t i = 0; i < sent.size(); ++i) {
        if (received[i]) {
            results.push_back(std::move(*received[i]));
            continue;
        }
        try {
            results.push_back(sent[i]->receive_before(deadline));
        } catch (const RemoteError &) {
            // A timeout is one too: the statement was cancelled on its node.
            if (!first_failure) first_failure = std::current_exception();
            results.emplace_back();
        } catch (...) {
            for (size_t j = i + 1; j < sent.size(); ++j)
                if (!received[j]) sent[j]->abandon();
            throw;
        }
    }
    if (first_failure) std::rethrow_exception(first_failure);
    return results;
}

}  // namespace zodan
