#include <atomic>
#include <cctype>
#include <cstring>
#include <strings.h>
#include <chrono>
#include <csignal>
#include <system_error>
#include <memory>
#include <thread>
#include <vector>

#include <pthread.h>

#include "core/text/conninfo.hpp"
#include "core/text/libpq_messages.hpp"
#include "core/text/secrets.hpp"

extern "C" {
#include "postgres.h"
#include "miscadmin.h"
#include "libpq-fe.h"
#include "storage/fd.h"
#include "storage/latch.h"
#include "utils/wait_event.h"
}

#include "pg/call_secrets.hpp"
#include "pg/guard.hpp"
#include "pg/libpq_connection.hpp"

namespace zodan::pg {

namespace {

int64_t steady_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

void ignore_notice(void *, const PGresult *) {}

// Where a run's time goes, statement by statement (client_min_messages or
// log_min_messages at debug2): names and timings only, never values.
// Each line says when (ms on the backend's monotonic clock) the statement
// was sent, so that what overlapped shows.
void trace(const std::string &line, int64_t began_ms) {
    if (!message_level_is_interesting(DEBUG2)) return;
    // Labels never hold a secret; masked all the same, as every message.
    const std::string text = call_secrets().scrub(line) + ": " + std::to_string(steady_ms() - began_ms) +
                             " ms from " + std::to_string(began_ms % 1000000);
    pg_call([&] { elog(DEBUG2, "zodan: %s", text.c_str()); });
}

}  // namespace

void PgconnCloser::operator()(PGconn *conn) const { PQfinish(conn); }

bool ExternalFd::acquire() {
    // It may close some of the session's cached files to make room.
    if (!held_) held_ = pg_call([] { return AcquireExternalFD(); });
    return held_;
}

ExternalFd::~ExternalFd() {
    // A counter's decrement: it cannot raise an error.
    if (held_) ReleaseExternalFD();
}

LibpqConnection::LibpqConnection(OpenedByStart, const std::string &node, const std::string &dsn, ExternalFd fd,
                                 std::unique_ptr<PGconn, PgconnCloser> conn)
    : Connection(node), dsn_(dsn), fd_(std::move(fd)), conn_(std::move(conn)) {}

LibpqConnection::~LibpqConnection() {
    // Leaving a statement running would let it go on after we are gone
    // (a long remote wait, a slot creation): cancel it before closing. Not
    // the session's settings, when they are all in flight (a spare no step
    // took): they end at once, and a cancel opens a connection of its own,
    // several round trips across a slow link, for each such session.
    if (set_up_in_flight_) return;
    try {
        cancel_running();
    } catch (...) {
        // Nothing may leave a destructor; the socket closes below regardless.
    }
}

namespace {

constexpr int kCancelWaitMs = 2000;  // bound of a cancel and of draining what it ends

#if PG_VERSION_NUM >= 170000
// libpq's non-blocking cancel: the request travels over a connection of its
// own, advanced without blocking and waited on like every other socket here,
// until `deadline`, so a node that cannot take it costs that bound, not the
// kernel's connect timeout. No latch in the wait and no interrupt check:
// this runs while an interrupt is being handled. False when the request did
// not get through (the drain that follows is bounded all the same).
bool send_cancel(PGconn *conn, int64_t deadline) {
    std::unique_ptr<PGcancelConn, void (*)(PGcancelConn *)> cancel(PQcancelCreate(conn), PQcancelFinish);
    if (!cancel || !PQcancelStart(cancel.get())) return false;
    for (;;) {
        const PostgresPollingStatusType state = PQcancelPoll(cancel.get());
        if (state == PGRES_POLLING_OK) return true;
        if (state != PGRES_POLLING_READING && state != PGRES_POLLING_WRITING) return false;
        const long left = static_cast<long>(deadline - steady_ms());
        const pgsocket sock = PQcancelSocket(cancel.get());
        if (left <= 0 || sock < 0) return false;
        const int events = (state == PGRES_POLLING_READING ? WL_SOCKET_READABLE : WL_SOCKET_WRITEABLE) | WL_TIMEOUT |
                           WL_EXIT_ON_PM_DEATH;
        pg_call([&] { return WaitLatchOrSocket(nullptr, events, sock, left, PG_WAIT_EXTENSION); });
    }
}
#else
// PostgreSQL 15 and 16's PQcancel blocks (it opens a new connection to the
// node), so it runs on a thread of its own, with every signal blocked so
// that the backend's handlers stay on the main thread. The thread owns the
// PGcancel; the caller waits for it a bounded time, and an unreachable host
// costs that bound, not the kernel's connect timeout.
std::shared_ptr<std::atomic<bool>> start_cancel(PGconn *conn) {
    auto done = std::make_shared<std::atomic<bool>>(false);
    PGcancel *cancel = PQgetCancel(conn);
    if (!cancel) {
        done->store(true);
        return done;
    }
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);  // the new thread inherits this mask
    try {
        std::thread([cancel, done] {
            char errbuf[256];
            PQcancel(cancel, errbuf, sizeof errbuf);
            PQfreeCancel(cancel);
            done->store(true);
        }).detach();
    } catch (const std::system_error &) {
        PQfreeCancel(cancel);
        done->store(true);
    }
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    return done;
}
#endif

}  // namespace

void LibpqConnection::settings_taken_back() {
    if (set_up_riding_.empty()) return;
    set_up_unsent_ = std::move(set_up_riding_);
    set_up_riding_.clear();
}

void LibpqConnection::cancel_running() {
    if (!busy_) return;
    busy_ = false;
    // Ended or not, the settings sent with the statement are sent again
    // with the next one (SET twice is harmless; missing once is not).
    settings_taken_back();
    set_up_in_flight_ = false;
    const int64_t deadline = steady_ms() + kCancelWaitMs;
#if PG_VERSION_NUM >= 170000
    send_cancel(conn_.get(), deadline);
#else
    auto done = start_cancel(conn_.get());
#endif
    // Drain what the cancelled statement still sends, so the connection can
    // be used again (the journal is written over it after a failure). No
    // interrupt is checked here: this runs while one is being handled.
    pgsocket sock = PQsocket(conn_.get());
    for (;;) {
        while (PQisBusy(conn_.get())) {
            long left = static_cast<long>(deadline - steady_ms());
            if (left <= 0 || sock < 0) {
                broken_ = true;
                return;
            }
            pg_call([&] {
                return WaitLatchOrSocket(nullptr, WL_SOCKET_READABLE | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, sock, left,
                                         PG_WAIT_EXTENSION);
            });
            if (!PQconsumeInput(conn_.get())) {
                broken_ = true;
                return;
            }
        }
        PGresult *res = PQgetResult(conn_.get());
        if (!res) break;
        PQclear(res);
    }
#if PG_VERSION_NUM < 170000
    while (!done->load() && steady_ms() < deadline)
        pg_call([] { return WaitLatch(nullptr, WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 10, PG_WAIT_EXTENSION); });
#endif
}

void LibpqConnection::abandon_query() { cancel_running(); }

bool LibpqConnection::finished() {
    if (!busy_) return true;
    return !PQconsumeInput(conn_.get()) || !PQisBusy(conn_.get());
}

void LibpqConnection::fail(const std::string &action, const std::string &message, const std::string &sqlstate,
                           const std::string &hint) {
    const Secrets &secrets = call_secrets();
    throw RemoteError(node(), action, secrets.scrub(message), sqlstate, secrets.scrub(hint));
}

void LibpqConnection::fail_connect(const std::string &why) {
    // The message names the node and libpq's reason; where it connected
    // (host, port: unstable in tests, noisy in logs) goes to DETAIL.
    std::string clean = call_secrets().scrub(why);
    // 08001: the connection was never made (08006, a lost one, is what a
    // RemoteError without the node's own SQLSTATE reports).
    throw RemoteError(node(), "connecting", connection_failure_reason(clean), "08001",
                      "Check that the node is running and that the DSN's host, port, user and password are right.",
                      "DSN: " + mask_dsn(dsn_) + "\nlibpq: " + clean);
}

std::unique_ptr<LibpqConnection> LibpqConnection::start(const std::string &node, const std::string &dsn,
                                                        const ConnectOptions &options) {
    // TCP keepalives notice a node that vanished mid-statement (Spock sets
    // them for its own connections too). They come before the DSN, so that
    // what the DSN says wins; our application_name comes after it, so that
    // every node can tell our sessions (and who runs them) from others.
    std::vector<const char *> keys = {"keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count",
                                      "dbname"};
    std::vector<const char *> values = {"1", "20", "5", "3", dsn.c_str()};
    const std::string app = options.application_name.empty() ? "zodan" : options.application_name;
    keys.push_back("application_name");
    values.push_back(app.c_str());
    if (options.replication) {
        keys.push_back("replication");
        values.push_back("database");
    }
    keys.push_back(nullptr);
    values.push_back(nullptr);
    // Past PostgreSQL's bound the session would run out of descriptors for
    // its own files (or another extension's connections) instead. One more
    // must be free for a moment: every wait on the connection takes one
    // (PostgreSQL counts a wait's epoll descriptor among them), and a
    // connection that cannot be waited on would fail later, less clearly.
    ExternalFd fd, wait_room;
    if (!fd.acquire() || !wait_room.acquire())
        throw RemoteError(node, "connecting", "this server has no file descriptor left for another connection",
                          "08001",
                          "Raise the server's max_files_per_process (and the OS limit, ulimit -n), or close other "
                          "connections this session holds (dblink, postgres_fdw).",
                          "A session may hold a third of its file descriptors for connections to other servers.");
    std::unique_ptr<PGconn, PgconnCloser> conn(PQconnectStartParams(keys.data(), values.data(), 1));
    auto self = std::make_unique<LibpqConnection>(OpenedByStart{}, node, dsn, std::move(fd), std::move(conn));
    self->connect_timeout_ms_ = options.timeout_ms;
    self->replication_ = options.replication;
    self->started_at_ms_ = steady_ms();
    self->connect_deadline_ms_ = self->started_at_ms_ + options.timeout_ms;
    if (!self->conn_) self->fail_connect("out of memory");
    if (PQstatus(self->conn_.get()) == CONNECTION_BAD) self->fail_connect(one_line(PQerrorMessage(self->conn_.get())));
    self->poll_state_ = PGRES_POLLING_WRITING;
    return self;
}

unsigned LibpqConnection::advance() {
    if (!connecting_) return 0;
    auto state = static_cast<PostgresPollingStatusType>(poll_state_);
    if (state == PGRES_POLLING_OK) {
        connecting_ = false;
        return 0;
    }
    if (steady_ms() >= connect_deadline_ms_)
        fail_connect("timed out after " + std::to_string(connect_timeout_ms_ / 1000) + " s");
    state = PQconnectPoll(conn_.get());
    poll_state_ = state;
    if (state == PGRES_POLLING_FAILED) fail_connect(one_line(PQerrorMessage(conn_.get())));
    if (state == PGRES_POLLING_OK) {
        connecting_ = false;
        return 0;
    }
    return state == PGRES_POLLING_WRITING ? WL_SOCKET_WRITEABLE : WL_SOCKET_READABLE;
}

void LibpqConnection::begin_set_up(bool with_first_statement) {
    PQsetNoticeReceiver(conn_.get(), ignore_notice, nullptr);
    if (PQsetnonblocking(conn_.get(), 1) != 0) fail_connect("cannot switch to non-blocking mode");
    set_statement_limit(connect_timeout_ms_);
    // - search_path: names resolve in pg_catalog only, never through the
    //   DSN role's own search_path ("$user" schemas could shadow functions);
    // - the parameters of a failed statement (DSNs, passwords) stay out of
    //   the node's log;
    // - should this backend die (pg_terminate_backend, a crash) while a
    //   statement runs there, the node ends that statement within a second
    //   instead of letting it run on unobserved;
    // - values print alike on every node whatever the DSN role's or the
    //   database's settings: the comparison hashes some columns as their
    //   text, and the copy's text format reads back what was written.
    std::string settings =
        "SET search_path = pg_catalog; SET log_parameter_max_length_on_error = 0; "
        "SET client_connection_check_interval = 1000; SET DateStyle = ISO; SET TimeZone = 'UTC'; "
        "SET IntervalStyle = postgres; SET bytea_output = hex; SET extra_float_digits = 3";
    // DSNs travel as statement parameters; a node that logs statements
    // (log_statement) would log their values, passwords included. Only a
    // superuser may change it. All in one statement: across a slow link
    // each costs a round trip before the session's first real one.
    const char *su = PQparameterStatus(conn_.get(), "is_superuser");
    if (su && std::string(su) == "on") settings += "; SET log_parameter_max_length = 0";
    if (with_first_statement && !replication_) {
        set_up_unsent_ = settings;
        return;
    }
    send({Stmt::SessionSetUp, "set up the session", settings, {}, true});
    set_up_in_flight_ = true;
    set_up_riding_ = settings;  // sent again should a cancel end them
}

void LibpqConnection::finish_set_up() {
    if (set_up_in_flight_) {
        set_up_in_flight_ = false;
        receive();
    }
    if (!set_up_unsent_.empty()) {
        const std::string settings = std::move(set_up_unsent_);
        set_up_unsent_.clear();
        try {
            exec({Stmt::SessionSetUp, "set up the session", settings, {}, true});
        } catch (...) {
            // Failed, timed out or cancelled: still to be sent.
            if (set_up_unsent_.empty()) set_up_unsent_ = settings;
            throw;
        }
    }
}

bool LibpqConnection::can_carry_set_up(const Query &query) const {
    if (replication_ || query.simple || !query.params.empty()) return false;
    size_t at = query.sql.find_first_not_of(" \t\n");
    if (at == std::string::npos) return false;
    auto starts = [&](const char *word) {
        const size_t n = std::strlen(word);
        return query.sql.size() >= at + n + 1 && strncasecmp(query.sql.c_str() + at, word, n) == 0 &&
               std::isspace(static_cast<unsigned char>(query.sql[at + n]));
    };
    return starts("SELECT") || starts("WITH");
}

void LibpqConnection::trace_opened() const {
    trace("connected to " + node(), started_at_ms_);
}

int LibpqConnection::socket() const { return PQsocket(conn_.get()); }

bool LibpqConnection::used_password() const { return PQconnectionUsedPassword(conn_.get()) == 1; }

bool LibpqConnection::wait_socket(bool for_write, long timeout_ms) {
    int events = WL_LATCH_SET | WL_EXIT_ON_PM_DEATH | WL_TIMEOUT |
                 (for_write ? WL_SOCKET_WRITEABLE : WL_SOCKET_READABLE);
    pgsocket sock = PQsocket(conn_.get());
    if (sock < 0) fail("waiting", "connection has no socket");
    int rc = pg_call([&] { return WaitLatchOrSocket(MyLatch, events, sock, timeout_ms, PG_WAIT_EXTENSION); });
    if (rc & WL_LATCH_SET) ResetLatch(MyLatch);
    check_for_interrupts();
    return (rc & (WL_SOCKET_READABLE | WL_SOCKET_WRITEABLE)) != 0;
}

void LibpqConnection::send_query(const Query &query) {
    if (broken_)
        fail(query.name, "the node stopped answering: a cancelled statement (" + current_.name +
                             ") could not be ended there within 2 s");
    if (busy_ && !set_up_in_flight_) fail(query.name, "connection is still busy with \"" + current_.name + "\"");
    if (query.id != Stmt::SessionSetUp) {
        if (!set_up_unsent_.empty() && can_carry_set_up(query)) {
            // One round trip for both; as one string they run in one
            // transaction, which a failure of the statement takes back.
            set_up_riding_ = std::move(set_up_unsent_);
            set_up_unsent_.clear();
        } else {
            finish_set_up();
        }
    }
    std::vector<const char *> values;
    values.reserve(query.params.size());
    for (const Value &v : query.params) values.push_back(v ? v->c_str() : nullptr);
    const int sent = !set_up_riding_.empty() ? PQsendQuery(conn_.get(), (set_up_riding_ + "; " + query.sql).c_str())
                     : query.simple          ? PQsendQuery(conn_.get(), query.sql.c_str())
                                             : PQsendQueryParams(conn_.get(), query.sql.c_str(),
                                                                 static_cast<int>(values.size()), nullptr,
                                                                 values.data(), nullptr, nullptr, 0);
    if (!sent) {
        settings_taken_back();
        fail(query.name, one_line(PQerrorMessage(conn_.get())));
    }
    current_ = query;
    busy_ = true;
    sent_at_ms_ = steady_ms();
    // Push the whole statement out; in non-blocking mode that may take waits.
    int pending;
    while ((pending = PQflush(conn_.get())) == 1) wait_socket(true, 1000);
    if (pending < 0) fail(query.name, one_line(PQerrorMessage(conn_.get())));
}

QueryResult LibpqConnection::receive_result() { return receive_result_before(steady_ms() + statement_limit_ms_); }

void LibpqConnection::wait_result(int64_t deadline) {
    try {
        while (PQisBusy(conn_.get())) {
            long left = static_cast<long>(deadline - steady_ms());
            if (left <= 0) {
                cancel_running();
                throw StatementTimedOut(node(), current_.name,
                                        "no answer within " + std::to_string(statement_limit_ms_ / 1000) +
                                            " s (zodan.sync_timeout); the statement was cancelled",
                                        "57014");
            }
            if (wait_socket(false, left) && !PQconsumeInput(conn_.get())) {
                busy_ = false;
                broken_ = true;
                fail(current_.name, one_line(PQerrorMessage(conn_.get())));
            }
        }
    } catch (const RemoteError &) {
        throw;
    } catch (...) {
        // A cancel, statement_timeout or terminate of the caller: the remote
        // statement must not go on without us.
        cancel_running();
        throw;
    }
}

QueryResult LibpqConnection::receive_result_before(int64_t deadline) {
    if (!busy_) fail("receive", "no statement was sent");
    std::vector<std::string> columns;
    std::vector<std::vector<Value>> rows;
    std::string error, sqlstate, hint;
    for (;;) {
        // Every result is waited for on the latch: PQgetResult would block.
        wait_result(deadline);
        PGresult *res = PQgetResult(conn_.get());
        if (!res) break;
        std::unique_ptr<PGresult, void (*)(PGresult *)> guard(res, PQclear);
        ExecStatusType status = PQresultStatus(res);
        if (status == PGRES_TUPLES_OK) {
            columns.clear();
            rows.clear();
            for (int c = 0; c < PQnfields(res); ++c) columns.emplace_back(PQfname(res, c));
            for (int r = 0; r < PQntuples(res); ++r) {
                std::vector<Value> row;
                for (int c = 0; c < PQnfields(res); ++c)
                    row.push_back(PQgetisnull(res, r, c) ? Value() : Value(PQgetvalue(res, r, c)));
                rows.push_back(std::move(row));
            }
        } else if (status != PGRES_COMMAND_OK && error.empty()) {
            const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
            const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
            const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
            const char *h = PQresultErrorField(res, PG_DIAG_MESSAGE_HINT);
            error = primary ? primary : one_line(PQresultErrorMessage(res));
            if (detail) error += " (" + std::string(detail) + ")";
            sqlstate = state ? state : "";
            hint = h ? h : "";
        }
    }
    busy_ = false;
    trace("\"" + current_.name + "\" on " + node(), sent_at_ms_);
    if (!error.empty()) settings_taken_back();
    set_up_riding_.clear();
    if (!error.empty()) fail(current_.name, error, sqlstate, hint);
    if (PQstatus(conn_.get()) == CONNECTION_BAD) fail(current_.name, one_line(PQerrorMessage(conn_.get())));
    return QueryResult(std::move(columns), std::move(rows));
}

}  // namespace zodan::pg
