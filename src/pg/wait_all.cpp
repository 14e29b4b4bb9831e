// Work on several nodes at once waits for all of them in one wait over
// every socket and the latch: connections are opened in parallel, and the
// statements of Runtime::exec_all are collected as they finish, not one
// socket after another.
#include <chrono>
#include <exception>
#include <memory>
#include <vector>

extern "C" {
#include "postgres.h"
#include "miscadmin.h"
#include "storage/latch.h"
}

#include "pg/backend_runtime.hpp"
#include "pg/guard.hpp"
#include "pg/libpq_connection.hpp"
#include "pg/wait_set.hpp"

namespace zodan::pg {

std::vector<OpenedSession> BackendRuntime::open_sessions(const std::vector<SessionRequest> &wanted) {
    std::vector<OpenedSession> out(wanted.size());
    // A session that cannot be opened takes its failure into its place; a
    // cancel or any other error of this backend ends the whole call.
    auto failed_at = [&](size_t i, auto &&attempt) {
        try {
            attempt();
            return false;
        } catch (const RemoteError &) {
            out[i].failure = std::current_exception();
        } catch (const UserError &) {
            out[i].failure = std::current_exception();
        }
        return true;
    };
    std::vector<std::unique_ptr<LibpqConnection>> pending(wanted.size());
    for (size_t i = 0; i < wanted.size(); ++i)
        failed_at(i, [&] {
            pending[i] = start_connection(wanted[i].node, wanted[i].dsn, wanted[i].kind == SessionKind::Replication);
        });
    std::vector<bool> ready(pending.size(), false);
    // The wait is made anew each round: libpq may change a connection's
    // socket while it tries another address, and a finished one is left out.
    for (;;) {
        std::vector<std::pair<int, unsigned>> waiting;
        int64_t deadline = INT64_MAX;
        for (size_t i = 0; i < pending.size(); ++i) {
            if (!pending[i] || ready[i]) continue;
            unsigned events = 0;
            if (failed_at(i, [&] { events = pending[i]->advance(); })) {  // a failure, or past its timeout
                pending[i].reset();
                continue;
            }
            if (events == 0) {
                ready[i] = true;
                continue;
            }
            waiting.emplace_back(pending[i]->socket(), events);
            deadline = std::min(deadline, pending[i]->connect_deadline());
        }
        if (waiting.empty()) break;
        WaitSet waits(static_cast<int>(waiting.size()));
        for (const auto &[fd, events] : waiting) waits.add_socket(fd, events);
        long left = static_cast<long>(deadline - now_ms());
        waits.wait(left > 0 ? std::min(left, 1000L) : 1);
    }
    // Every session's settings on their way, none waited for here: their
    // answers are read before each session's first statement, or they go
    // with it (LibpqConnection::begin_set_up).
    for (size_t i = 0; i < pending.size(); ++i)
        if (pending[i] && !failed_at(i, [&] { begin_session(*pending[i], wanted[i].first_statement_follows); }))
            out[i].conn = std::move(pending[i]);
    return out;
}

std::vector<std::optional<QueryResult>> BackendRuntime::exec_all_until(
    const std::vector<std::pair<Connection *, Query>> &work, int64_t deadline) {
    // Send everything first so the nodes work at the same time, then wait
    // on all their sockets at once, taking each result as it is complete,
    // against one deadline: k stuck nodes cost one wait, not k. After a
    // remote failure the other results are still collected, so no
    // connection is left busy; anything else (a cancel, a timeout of the
    // caller) gives up every statement still in flight, then propagates.
    // A connection that cannot be waited on with the others (no socket) is
    // waited on alone, one after another.
    for (const auto &[conn, query] : work)
        if (conn->wait_socket() < 0) return Runtime::exec_all_until(work, deadline);
    send_each(work);
    std::vector<std::optional<QueryResult>> results(work.size());
    std::vector<bool> done(work.size(), false);
    std::exception_ptr first_failure;
    try {
        size_t left = work.size();
        while (left > 0) {
            for (size_t i = 0; i < work.size(); ++i) {
                if (done[i]) continue;
                Connection &conn = *work[i].first;
                if (conn.finished() || now_ms() >= deadline) {
                    // Complete (or lost, or late): receive() reads it or says why.
                    try {
                        results[i] = conn.receive_before(deadline);
                    } catch (const StatementTimedOut &) {
                        // cancelled on its node; no result
                    } catch (const RemoteError &) {
                        if (!first_failure) first_failure = std::current_exception();
                    }
                    done[i] = true;
                    --left;
                }
            }
            if (left == 0) break;
            // Anew each round, over the sockets still waited for: a lost
            // connection's socket is closed and must not be in the set.
            WaitSet waits(static_cast<int>(left));
            for (size_t i = 0; i < work.size(); ++i)
                if (!done[i] && work[i].first->wait_socket() >= 0)
                    waits.add_socket(work[i].first->wait_socket(), WL_SOCKET_READABLE);
            long wait_ms = static_cast<long>(deadline - now_ms());
            waits.wait(wait_ms > 0 ? std::min(wait_ms, 1000L) : 1);
        }
    } catch (...) {
        for (size_t i = 0; i < work.size(); ++i)
            if (!done[i]) work[i].first->abandon();
        throw;
    }
    if (first_failure) std::rethrow_exception(first_failure);
    return results;
}

}  // namespace zodan::pg
