#include <chrono>
#include <cstring>
#include <memory>
#include <string>

#include <unistd.h>

extern "C" {
#include "postgres.h"
#include "libpq-fe.h"
#include "access/xlog.h"
#include "commands/dbcommands.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "utils/wait_event.h"
}

#include "pg/backend_runtime.hpp"
#include "pg/call_secrets.hpp"
#include "pg/guard.hpp"
#include "pg/libpq_connection.hpp"

namespace zodan::pg {

namespace {

// A node keeps NAMEDATALEN - 1 bytes of an application_name; a longer one
// only lengthens the startup packet, which a server refuses beyond 10000
// bytes by closing the connection without a word. Cut, never inside a
// multibyte character.
std::string application_name_for(const std::string &label) {
    std::string name = label.empty() ? "zodan" : "zodan: " + label;
    if (name.size() <= NAMEDATALEN - 1) return name;
    name.resize(NAMEDATALEN - 1);
    while (!name.empty() && static_cast<unsigned char>(name.back()) >= 0x80) name.pop_back();
    return name;
}

}  // namespace

BackendRuntime::BackendRuntime(bool nonatomic, std::string label)
    : sync_timeout_ms_(effective_sync_timeout_ms()), application_name_(application_name_for(label)) {
    if (!nonatomic) return;
    pg_call([] {
        if (SPI_connect_ext(SPI_OPT_NONATOMIC) != SPI_OK_CONNECT) elog(ERROR, "SPI_connect_ext failed");
    });
    spi_connected_ = true;
}

void BackendRuntime::finish() {
    if (!spi_connected_) return;
    spi_connected_ = false;
    pg_call([] { SPI_finish(); });
}

void BackendRuntime::between_steps() {
    // The caller's transaction holds a snapshot, and so an xmin, for as long
    // as it lasts; remote work does not need it. Every step's effects are
    // already committed on the nodes over their own connections.
    if (spi_connected_) pg_call([] { SPI_commit(); });
}

namespace {

// Keywords that let libpq take a secret from this server's own files (a
// password file, a service file, a client certificate and its key, Kerberos
// credentials): a caller who is not a superuser must not use them, as with
// dblink and postgres_fdw.
const char *const kServerSecretKeywords[] = {"passfile", "service", "sslcert", "sslkey", "sslpassword",
                                             "sslrootcert", "sslcrl", "sslcrldir", "krbsrvname", "gsslib",
                                             "gssdelegation", nullptr};

void require_own_credentials(const std::string &node, const std::string &dsn) {
    char *err = nullptr;
    std::unique_ptr<PQconninfoOption, void (*)(PQconninfoOption *)> options(PQconninfoParse(dsn.c_str(), &err),
                                                                              PQconninfoFree);
    if (err) PQfreemem(err);
    if (!options) return;  // connecting says why it does not parse
    bool has_password = false;
    for (PQconninfoOption *o = options.get(); o->keyword; ++o) {
        if (!o->val || !*o->val) continue;
        if (std::strcmp(o->keyword, "password") == 0) has_password = true;
        for (const char *const *k = kServerSecretKeywords; *k; ++k)
            if (std::strcmp(o->keyword, *k) == 0)
                throw PermissionDenied("the DSN of node \"" + node + "\" uses " + o->keyword +
                                           ", which only a superuser may use here",
                                       "It would let this server use credentials of its own on the caller's behalf.",
                                       "Put the password of a role that the node authenticates by password into the "
                                       "DSN, or call the procedure as a superuser.");
    }
    if (!has_password)
        throw PermissionDenied("the DSN of node \"" + node + "\" has no password, which only a superuser may leave out",
                               "Without one, this server would authenticate with its own password file or environment.",
                               "Put the password of a role that the node authenticates by password into the DSN.");
}

}  // namespace

std::unique_ptr<LibpqConnection> BackendRuntime::start_connection(const std::string &node, const std::string &dsn,
                                                                  bool replication) {
    remember_dsn_secrets(dsn);
    if (!caller_is_superuser()) require_own_credentials(node, dsn);
    ConnectOptions options;
    options.timeout_ms = guc_connect_timeout_ms;
    options.replication = replication;
    options.application_name = application_name_;
    return LibpqConnection::start(node, dsn, options);
}

void BackendRuntime::begin_session(LibpqConnection &conn, bool first_statement_follows) {
    // As dblink and postgres_fdw do: a caller who is not a superuser must not
    // borrow the server's own identity (trust, peer, its ~/.pgpass) to reach
    // a node; the connection must have authenticated with a password.
    if (!conn.used_password() && !caller_is_superuser())
        throw PermissionDenied("node \"" + conn.node() + "\" let the connection in without credentials, which only "
                               "a superuser may rely on",
                               "The node authenticated it by trust, peer or a password file of this server's own.",
                               "Put the password of a role that the node authenticates by password into the DSN.");
    conn.trace_opened();
    conn.begin_set_up(first_statement_follows);
    conn.set_statement_limit(sync_timeout_ms_);
}

std::unique_ptr<Connection> BackendRuntime::connect(const std::string &node, const std::string &dsn) {
    return std::move(connect_all({{node, dsn}}).front());
}

std::unique_ptr<Connection> BackendRuntime::connect_replication(const std::string &node, const std::string &dsn) {
    OpenedSession opened = std::move(open_sessions({{node, dsn, SessionKind::Replication}}).front());
    if (opened.failure) std::rethrow_exception(opened.failure);
    return std::move(opened.conn);
}

int BackendRuntime::copy_streams() {
    if (guc_copy_streams > 0) return guc_copy_streams;
    // The new node runs every stream's COPY FROM and the pump of them all:
    // more streams than its CPUs only queue (measured, docs/benchmark.md).
    // At most 4, so that the default needs no more slots, origins and
    // connections than it always did (the headroom check).
    const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    return static_cast<int>(cpus < 1 ? 1 : cpus > 4 ? 4 : cpus);
}

bool BackendRuntime::caller_is_superuser() {
    return pg_call([] { return superuser(); });
}

void BackendRuntime::wake_local_process(int pid) {
    // Only the latch: no signal, nothing logged, nothing else changes.
    pg_call([pid] {
        PGPROC *proc = BackendPidGetProc(pid);
        if (proc) SetLatch(&proc->procLatch);
    });
}

void BackendRuntime::sleep_ms(int ms) {
    int rc = pg_call([&] {
        return WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, ms, PG_WAIT_EXTENSION);
    });
    if (rc & WL_LATCH_SET) ResetLatch(MyLatch);
    check_for_interrupts();
}

int64_t BackendRuntime::now_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

void BackendRuntime::report(Level level, const std::string &raw_message, const std::string &raw_detail) {
    const int elevel = level == Level::Warning ? WARNING
                       : level == Level::Log   ? LOG
                       : level == Level::Debug ? DEBUG1
                                               : NOTICE;
    const std::string message = call_secrets().scrub(raw_message), detail = call_secrets().scrub(raw_detail);
    pg_call([&] {
        if (detail.empty())
            ereport(elevel, (errmsg_internal("%s", message.c_str())));
        else
            ereport(elevel, (errmsg_internal("%s", message.c_str()), errdetail_internal("%s", detail.c_str())));
    });
}

std::pair<std::string, std::string> BackendRuntime::local_identity() {
    return pg_call([] {
        char *db = get_database_name(MyDatabaseId);
        std::pair<std::string, std::string> id{std::to_string(GetSystemIdentifier()), db ? db : ""};
        return id;
    });
}

int BackendRuntime::sync_timeout_ms() { return sync_timeout_ms_; }

zodan::VerifySetting BackendRuntime::verify_data() {
    return guc_verify_data == kVerifyOn    ? zodan::VerifySetting::On
           : guc_verify_data == kVerifyOff ? zodan::VerifySetting::Off
                                           : zodan::VerifySetting::Auto;
}

zodan::CopyMethodSetting BackendRuntime::copy_method() {
    return guc_copy_method == kCopyLogical    ? zodan::CopyMethodSetting::Logical
           : guc_copy_method == kCopyPhysical ? zodan::CopyMethodSetting::Physical
                                              : zodan::CopyMethodSetting::Auto;
}

bool BackendRuntime::in_recovery() {
    return pg_call([] { return RecoveryInProgress(); });
}

int BackendRuntime::backend_pid() { return MyProcPid; }

#ifdef ZODAN_TEST_HOOKS
void BackendRuntime::maybe_fail_at(const std::string &point) {
    if (guc_fail_at_step && point == guc_fail_at_step)
        throw UserError("injected failure at \"" + point + "\" (zodan.fail_at_step)");
}

bool BackendRuntime::pause_requested(const std::string &step) {
    return guc_pause_at_step && step == guc_pause_at_step;
}

bool BackendRuntime::skip_fence() { return guc_skip_fence; }
#endif

}  // namespace zodan::pg
