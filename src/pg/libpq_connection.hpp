// A Connection backed by libpq's asynchronous API. Every wait goes through
// the backend's latch, so a cancel or statement_timeout interrupts it at once;
// a statement still running when the connection is destroyed is cancelled on
// the remote node first.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/remote.hpp"

typedef struct pg_conn PGconn;

namespace zodan::pg {

struct PgconnCloser {
    void operator()(PGconn *conn) const;
};

class LibpqConnection : public Connection {
    struct OpenedByOpen {};  // only open() constructs, yet std::make_unique works

public:
    // Connects (non-blocking, latch-aware); throws RemoteError with the
    // masked DSN in the message. `timeout_ms` bounds the whole attempt.
    static std::unique_ptr<LibpqConnection> open(const std::string &node, const std::string &dsn, int timeout_ms);
    ~LibpqConnection() override;

    void send(const Query &query) override;
    QueryResult receive() override;
    QueryResult receive_before(int64_t deadline_ms) override;
    void abandon() override;

    // Whether the server asked for the password (and so it authenticated
    // the connection, not trust, peer or the server's own ~/.pgpass).
    bool used_password() const;

    // Bound for each statement (ms); the statement is cancelled past it.
    void set_statement_limit(int ms) { statement_limit_ms_ = ms; }

    LibpqConnection(OpenedByOpen, const std::string &node, const std::string &dsn,
                    std::unique_ptr<PGconn, PgconnCloser> conn);

private:
    // Waits until the socket is readable (or writable); false on timeout.
    bool wait_socket(bool for_write, long timeout_ms);
    // Waits (on the latch) until the next result can be read without blocking.
    void wait_result(int64_t deadline_ms);
    // Cancels the running statement and drains it, bounded; never checks
    // for interrupts (it runs while one is being handled).
    void cancel_running();
    [[noreturn]] void fail(const std::string &action, const std::string &message, const std::string &sqlstate = "",
                           const std::string &hint = "");

    std::string dsn_;
    std::unique_ptr<PGconn, PgconnCloser> conn_;
    Query current_;
    bool busy_ = false;
    bool broken_ = false;  // a cancelled statement could not be drained
    int statement_limit_ms_ = 600000;
};

}  // namespace zodan::pg
