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

namespace zodan {

// What the host's engines drive below the statement level (the copy's COPY
// streams, see copy_engine.cpp): a libpq session, reached from any
// Connection through Connection::host_session(), so no engine downcasts.
class HostSession {
public:
    virtual PGconn *raw() = 0;
    virtual int socket() const = 0;
    virtual const std::string &node_name() const = 0;
    // The session was left mid-COPY or otherwise unusable: closed without a
    // cancel.
    virtual void mark_broken() = 0;

protected:
    ~HostSession() = default;
};

}  // namespace zodan

namespace zodan::pg {

struct PgconnCloser {
    void operator()(PGconn *conn) const;
};

// One of the file descriptors PostgreSQL lets a session hold besides its
// own files (fd.c: a third of what max_files_per_process leaves it), taken
// as dblink and postgres_fdw take one for each connection: before the
// connection's socket opens, given back exactly once after it closes.
class ExternalFd {
public:
    ExternalFd() = default;
    ExternalFd(ExternalFd &&other) noexcept : held_(other.held_) { other.held_ = false; }
    ExternalFd &operator=(ExternalFd &&) = delete;
    ~ExternalFd();
    // Whether one was left to take.
    bool acquire();

private:
    bool held_ = false;
};

struct ConnectOptions {
    int timeout_ms = 30000;         // bound of the whole attempt
    bool replication = false;       // a walsender (replication=database)
    std::string application_name;   // how the node's pg_stat_activity shows the session
};

class LibpqConnection : public Connection, public HostSession {
    struct OpenedByStart {};  // only start() constructs, yet std::make_unique works

public:
    // Starts connecting without waiting (see connecting()/advance()).
    // Throws RemoteError with the masked DSN in DETAIL.
    static std::unique_ptr<LibpqConnection> start(const std::string &node, const std::string &dsn,
                                                  const ConnectOptions &options);
    ~LibpqConnection() override;

    // While connecting: the socket events the attempt waits for next
    // (WL_SOCKET_READABLE / WRITEABLE); 0 once connected. Throws on failure
    // or past the attempt's deadline.
    unsigned advance();
    int64_t connect_deadline() const { return connect_deadline_ms_; }
    // Once connected: the session settings every session of ours has,
    // without waiting, so that several sessions are set up in one round
    // trip and none waits for it at its opening: the settings are sent now
    // and their answer read before the session's first statement; or, for
    // a session whose first statement follows at once
    // (`with_first_statement`), sent with that statement where it is a
    // query of its own (docs/protocol.md, "Round trips").
    void begin_set_up(bool with_first_statement = false);
    // A DEBUG2 line: how long the connection took to open (the trace of
    // where a run's time goes across a slow link).
    void trace_opened() const;

    bool finished() override;
    int wait_socket() const override { return socket(); }
    HostSession *host_session() override { return this; }

    // Whether the server asked for the password (and so it authenticated
    // the connection, not trust, peer or the server's own ~/.pgpass).
    bool used_password() const;
    // HostSession: for the copy engine, which drives COPY on the raw connection.
    int socket() const override;
    PGconn *raw() override {
        finish_set_up();
        return conn_.get();
    }
    const std::string &node_name() const override { return node(); }
    void mark_broken() override { broken_ = true; busy_ = false; }

    // Bound for each statement (ms); the statement is cancelled past it.
    void set_statement_limit(int ms) { statement_limit_ms_ = ms; }

    LibpqConnection(OpenedByStart, const std::string &node, const std::string &dsn, ExternalFd fd,
                    std::unique_ptr<PGconn, PgconnCloser> conn);

protected:
    void send_query(const Query &query) override;
    QueryResult receive_result() override;
    QueryResult receive_result_before(int64_t deadline_ms) override;
    void abandon_query() override;

private:
    // The session's settings in place before anything else is sent: their
    // answer read where they are in flight, sent and waited for where they
    // still wait for a first statement.
    void finish_set_up();
    // A statement that carried the settings failed or was cancelled: its
    // transaction took them back, and the next statement sends them again.
    void settings_taken_back();
    // Whether the settings may travel with `query`: a lone SELECT (or
    // WITH) without parameters on a regular session, which the simple
    // protocol takes after them as one string, in one implicit
    // transaction. Replication commands, parameters, utility statements
    // and a raw COPY do not go that way; no first statement of ours calls
    // a function that refuses a transaction block.
    bool can_carry_set_up(const Query &query) const;

    // Waits until the socket is readable (or writable); false on timeout.
    bool wait_socket(bool for_write, long timeout_ms);
    // Waits (on the latch) until the next result can be read without blocking.
    void wait_result(int64_t deadline_ms);
    // Cancels the running statement and drains it, bounded; never checks
    // for interrupts (it runs while one is being handled).
    void cancel_running();
    [[noreturn]] void fail(const std::string &action, const std::string &message, const std::string &sqlstate = "",
                           const std::string &hint = "");
    [[noreturn]] void fail_connect(const std::string &why);

    std::string dsn_;
    ExternalFd fd_;  // before conn_: given back after the connection closes
    std::unique_ptr<PGconn, PgconnCloser> conn_;
    Query current_;
    bool busy_ = false;
    bool broken_ = false;  // a cancelled statement could not be drained
    bool replication_ = false;
    // The session's settings: to send with (or before) the first
    // statement; or sent and their answer not read yet; or sent together
    // with the statement in flight, to send again should it fail (its
    // implicit transaction takes them back).
    std::string set_up_unsent_;
    bool set_up_in_flight_ = false;
    std::string set_up_riding_;
    bool connecting_ = true;
    int statement_limit_ms_ = 600000;
    int connect_timeout_ms_ = 30000;
    int64_t connect_deadline_ms_ = 0;
    int poll_state_ = 0;  // PostgresPollingStatusType of the attempt
    int64_t sent_at_ms_ = 0;      // when the statement in flight was sent (for the trace)
    int64_t started_at_ms_ = 0;   // when the attempt to connect began (for the trace)
};

}  // namespace zodan::pg
