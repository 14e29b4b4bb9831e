#include <chrono>
#include <vector>

#include "core/dsn.hpp"

extern "C" {
#include "postgres.h"
#include "miscadmin.h"
#include "libpq-fe.h"
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

// libpq messages end with a newline and may span lines; keep one clean line.
std::string clean_message(const char *text) {
    std::string s = text ? text : "";
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    for (char &c : s)
        if (c == '\n') c = ' ';
    return s;
}

void ignore_notice(void *, const PGresult *) {}

// libpq says 'connection to server at "h" (addr), port p failed: FATAL:  why';
// keep the why.
std::string short_reason(const std::string &message) {
    const std::string marker = "failed: ";
    size_t at = message.rfind(marker);
    std::string why = at == std::string::npos ? message : message.substr(at + marker.size());
    for (const char *prefix : {"FATAL:  ", "ERROR:  "})
        if (why.rfind(prefix, 0) == 0) why = why.substr(std::string(prefix).size());
    // Spock blanks an ERROR message after the word "password" (see
    // invoke.cpp); say the same without it. DETAIL keeps libpq's words.
    const std::string pw_failed = "password authentication failed for user ";
    if (why.rfind(pw_failed, 0) == 0) why = "authentication failed for user " + why.substr(pw_failed.size());
    return why;
}

}  // namespace

void PgconnCloser::operator()(PGconn *conn) const { PQfinish(conn); }

LibpqConnection::LibpqConnection(OpenedByOpen, const std::string &node, const std::string &dsn,
                                 std::unique_ptr<PGconn, PgconnCloser> conn)
    : Connection(node), dsn_(dsn), conn_(std::move(conn)) {}

LibpqConnection::~LibpqConnection() {
    // Leaving a statement running would let it go on after we are gone
    // (a long remote wait, a slot creation): cancel it before closing.
    if (busy_) cancel_running();
}

void LibpqConnection::cancel_running() {
    PGcancel *cancel = PQgetCancel(conn_.get());
    if (cancel) {
        char errbuf[256];
        PQcancel(cancel, errbuf, sizeof errbuf);
        PQfreeCancel(cancel);
    }
    busy_ = false;
}

void LibpqConnection::fail(const std::string &action, const std::string &message, const std::string &sqlstate,
                           const std::string &hint) {
    const Secrets &secrets = call_secrets();
    throw RemoteError(node(), action, secrets.scrub(scrub_secrets(message, dsn_)), sqlstate, secrets.scrub(hint));
}

std::unique_ptr<LibpqConnection> LibpqConnection::open(const std::string &node, const std::string &dsn,
                                                       int timeout_ms) {
    const char *keys[] = {"dbname", "fallback_application_name", nullptr};
    const char *values[] = {dsn.c_str(), "zodan", nullptr};
    std::unique_ptr<PGconn, PgconnCloser> conn(PQconnectStartParams(keys, values, 1));
    // The message names the node and libpq's reason; where it connected
    // (host, port: unstable in tests, noisy in logs) goes to DETAIL.
    auto fail_connect = [&](const std::string &why) -> void {
        std::string clean = call_secrets().scrub(scrub_secrets(why, dsn));
        throw RemoteError(node, "connecting", short_reason(clean), "08006",
                          "Check that the node is running and that the DSN's host, port, user and password are right.",
                          "DSN: " + mask_dsn(dsn) + "\nlibpq: " + clean);
    };
    if (!conn) fail_connect("out of memory");
    if (PQstatus(conn.get()) == CONNECTION_BAD) fail_connect(clean_message(PQerrorMessage(conn.get())));

    auto self = std::make_unique<LibpqConnection>(OpenedByOpen{}, node, dsn, std::move(conn));
    const int64_t deadline = steady_ms() + timeout_ms;
    PostgresPollingStatusType state = PGRES_POLLING_WRITING;
    while (state != PGRES_POLLING_OK) {
        if (state == PGRES_POLLING_FAILED) fail_connect(clean_message(PQerrorMessage(self->conn_.get())));
        long left = static_cast<long>(deadline - steady_ms());
        if (left <= 0) fail_connect("timed out after " + std::to_string(timeout_ms / 1000) + " s");
        if (self->wait_socket(state == PGRES_POLLING_WRITING, left)) state = PQconnectPoll(self->conn_.get());
    }
    PQsetNoticeReceiver(self->conn_.get(), ignore_notice, nullptr);
    if (PQsetnonblocking(self->conn_.get(), 1) != 0) fail_connect("cannot switch to non-blocking mode");
    return self;
}

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

void LibpqConnection::send(const Query &query) {
    if (busy_) fail(query.name, "connection is still busy with \"" + current_.name + "\"");
    std::vector<const char *> values;
    values.reserve(query.params.size());
    for (const Value &v : query.params) values.push_back(v ? v->c_str() : nullptr);
    if (!PQsendQueryParams(conn_.get(), query.sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(),
                           nullptr, nullptr, 0))
        fail(query.name, clean_message(PQerrorMessage(conn_.get())));
    current_ = query;
    busy_ = true;
    // Push the whole statement out; in non-blocking mode that may take waits.
    int pending;
    while ((pending = PQflush(conn_.get())) == 1) wait_socket(true, 1000);
    if (pending < 0) fail(query.name, clean_message(PQerrorMessage(conn_.get())));
}

QueryResult LibpqConnection::receive() {
    if (!busy_) fail("receive", "no statement was sent");
    const int64_t deadline = steady_ms() + statement_limit_ms_;
    while (PQisBusy(conn_.get())) {
        long left = static_cast<long>(deadline - steady_ms());
        if (left <= 0) {
            cancel_running();
            fail(current_.name, "no answer within " + std::to_string(statement_limit_ms_ / 1000) +
                                    " s (zodan.sync_timeout); the statement was cancelled");
        }
        if (wait_socket(false, left) && !PQconsumeInput(conn_.get())) {
            busy_ = false;
            fail(current_.name, clean_message(PQerrorMessage(conn_.get())));
        }
    }
    busy_ = false;

    std::vector<std::string> columns;
    std::vector<std::vector<Value>> rows;
    std::string error, sqlstate, hint;
    while (PGresult *res = PQgetResult(conn_.get())) {
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
            error = primary ? primary : clean_message(PQresultErrorMessage(res));
            if (detail) error += " (" + std::string(detail) + ")";
            sqlstate = state ? state : "";
            hint = h ? h : "";
        }
    }
    if (!error.empty()) fail(current_.name, error, sqlstate, hint);
    if (PQstatus(conn_.get()) == CONNECTION_BAD) fail(current_.name, clean_message(PQerrorMessage(conn_.get())));
    return QueryResult(std::move(columns), std::move(rows));
}

}  // namespace zodan::pg
