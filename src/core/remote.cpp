#include "core/remote.hpp"

#include <exception>

namespace zodan {

const char *sqlstate_of(Cause cause) {
    switch (cause) {
        case Cause::Precondition: return "55000";
        case Cause::LockHeld: return "55P03";
        case Cause::TimedOut: return "57014";
        case Cause::Unreachable: return "08001";
        case Cause::ConnectionLost: return "08006";
        case Cause::BadArgument: return "22023";
        case Cause::Privilege: return "42501";
        case Cause::UndefinedNode: return "42704";
        // A class of our own: PostgreSQL uses none starting with Z, and the
        // SQL standard leaves classes starting with I-Z to implementations.
        case Cause::Divergence: return "ZD001";
    }
    return "XX000";
}

std::string sqlstate_for(const std::exception &e) {
    if (const auto *remote = dynamic_cast<const RemoteError *>(&e)) {
        const std::string &own = remote->sqlstate();
        return own.size() == 5 ? own : sqlstate_of(Cause::ConnectionLost);
    }
    if (const auto *user = dynamic_cast<const UserError *>(&e)) return sqlstate_of(user->cause());
    if (dynamic_cast<const InvalidArgument *>(&e)) return sqlstate_of(Cause::BadArgument);
    return "XX000";
}

const Value &QueryResult::at(size_t row, const std::string &column) const {
    for (size_t c = 0; c < columns_.size(); ++c)
        if (columns_[c] == column) return rows_.at(row).at(c);
    throw std::out_of_range("result has no column \"" + column + "\"");
}

std::string QueryResult::text(size_t row, const std::string &column, const std::string &fallback) const {
    const Value &v = at(row, column);
    return v ? *v : fallback;
}

Value QueryResult::scalar() const {
    if (rows_.size() != 1 || columns_.size() != 1)
        throw std::out_of_range("expected one value, got " + std::to_string(rows_.size()) + " row(s) of " +
                                std::to_string(columns_.size()) + " column(s)");
    return rows_[0][0];
}

void send_each(const std::vector<std::pair<Connection *, Query>> &work) {
    for (size_t sent = 0; sent < work.size(); ++sent) {
        try {
            work[sent].first->send(work[sent].second);
        } catch (...) {
            for (size_t i = 0; i < sent; ++i) work[i].first->abandon();
            throw;
        }
    }
}

std::vector<std::optional<QueryResult>> Runtime::exec_all_until(const std::vector<std::pair<Connection *, Query>> &work,
                                                                int64_t deadline) {
    // Send everything first so the nodes work at the same time, then
    // collect. After a remote failure the other results are still collected,
    // so no connection is left busy; anything else (a cancel, a timeout of
    // the caller) gives up every statement still in flight, then propagates.
    send_each(work);
    std::vector<std::optional<QueryResult>> results;
    std::exception_ptr first_failure;
    for (size_t i = 0; i < work.size(); ++i) {
        try {
            results.emplace_back(work[i].first->receive_before(deadline));
        } catch (const StatementTimedOut &) {
            results.emplace_back();
        } catch (const RemoteError &) {
            if (!first_failure) first_failure = std::current_exception();
            results.emplace_back();
        } catch (...) {
            for (size_t j = i + 1; j < work.size(); ++j) work[j].first->abandon();
            throw;
        }
    }
    if (first_failure) std::rethrow_exception(first_failure);
    return results;
}

std::vector<QueryResult> Runtime::exec_all(const std::vector<std::pair<Connection *, Query>> &work) {
    // One deadline for all of them: k stuck nodes cost one
    // zodan.sync_timeout, not k; a statement still running then is an error.
    std::vector<std::optional<QueryResult>> got = exec_all_until(work, now_ms() + sync_timeout_ms());
    std::vector<QueryResult> results;
    for (size_t i = 0; i < got.size(); ++i) {
        if (!got[i])
            throw StatementTimedOut(work[i].first->node(), work[i].second.name,
                                    "no answer within " + std::to_string(sync_timeout_ms() / 1000) +
                                        " s (zodan.sync_timeout); the statement was cancelled",
                                    "57014");
        results.push_back(std::move(*got[i]));
    }
    return results;
}

}  // namespace zodan

namespace zodan {

std::vector<std::unique_ptr<Connection>> Runtime::connect_all(
    const std::vector<std::pair<std::string, std::string>> &node_and_dsn) {
    std::vector<SessionRequest> wanted;
    for (const auto &[node, dsn] : node_and_dsn) wanted.push_back({node, dsn, SessionKind::Regular, true});
    std::vector<OpenedSession> opened = open_sessions(wanted);
    std::vector<std::unique_ptr<Connection>> out;
    for (OpenedSession &o : opened) {
        if (o.failure) std::rethrow_exception(o.failure);
        out.push_back(std::move(o.conn));
    }
    return out;
}

std::vector<OpenedSession> Runtime::open_sessions(const std::vector<SessionRequest> &wanted) {
    // A host that cannot open them together opens them one by one.
    std::vector<OpenedSession> out(wanted.size());
    for (size_t i = 0; i < wanted.size(); ++i) {
        try {
            out[i].conn = wanted[i].kind == SessionKind::Replication ? connect_replication(wanted[i].node, wanted[i].dsn)
                                                                     : connect(wanted[i].node, wanted[i].dsn);
        } catch (const RemoteError &) {
            out[i].failure = std::current_exception();
        } catch (const UserError &) {
            out[i].failure = std::current_exception();
        }
    }
    return out;
}

}  // namespace zodan

namespace zodan {

RoundTripCount RoundTripCount::since(const RoundTripCount &before) const {
    RoundTripCount d;
    d.sequential = sequential - before.sequential;
    for (const auto &[node, n] : per_node) {
        auto was = before.per_node.find(node);
        const long long delta = n - (was == before.per_node.end() ? 0 : was->second);
        if (delta) d.per_node[node] = delta;
    }
    for (const auto &[node, n] : connections) {
        auto was = before.connections.find(node);
        const long long delta = n - (was == before.connections.end() ? 0 : was->second);
        if (delta) d.connections[node] = delta;
    }
    return d;
}

RoundTrips &RoundTrips::tally() {
    static RoundTrips the_tally;
    return the_tally;
}

void RoundTrips::ended(const std::string &node, uint64_t started) {
    // Results end in the order they are taken, so taking each round trip
    // that began after the chain's last one ended gives the longest chain
    // (the earliest-ending choice of interval scheduling).
    const uint64_t now = ++clock_;
    if (started > chain_end_) {
        ++count_.sequential;
        chain_end_ = now;
    }
    uint64_t &node_end = node_chain_end_[node];
    if (started > node_end) {
        ++count_.per_node[node];
        node_end = now;
    }
}

Connection::~Connection() { round_trip_ended(); }

void Connection::round_trip_ended() noexcept {
    if (!started_) return;
    const uint64_t started = started_;
    started_ = 0;
    try {
        RoundTrips::tally().ended(node_, started);
    } catch (...) {
        // Out of memory for a count: the count is a figure, the run matters.
    }
}

}  // namespace zodan
