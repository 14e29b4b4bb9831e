// The Runtime of the step logic when it runs inside a PostgreSQL backend:
// libpq connections, latch-based sleeps, NOTICEs, the GUCs.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/remote.hpp"

namespace zodan::pg {

// GUC storage (defined in gucs.cpp, registered by _PG_init).
extern int guc_sync_timeout_ms;
extern int guc_connect_timeout_ms;
extern int guc_progress_interval_ms;
#ifdef ZODAN_TEST_HOOKS
extern char *guc_fail_at_step;
extern char *guc_pause_at_step;
extern bool guc_skip_fence;
#endif
extern int guc_copy_streams;
extern int guc_verify_data;  // GucVerifyData
extern int guc_copy_method;  // GucCopyMethod
enum GucCopyMethod { kCopyAuto, kCopyLogical, kCopyPhysical };
extern int guc_structure_dump;  // GucStructureDump
enum GucStructureDump { kDumpAuto, kDumpLocal, kDumpSource };
enum GucVerifyData { kVerifyAuto, kVerifyOn, kVerifyOff };

void define_gucs();

// The bound of every wait and remote statement of a call: zodan.sync_timeout
// where it is set (postgresql.conf, ALTER SYSTEM/DATABASE/ROLE, SET, ...),
// else spock.sync_timeout where it is above 0 (Spock 6's setting, which
// pgEdge's tutorial tells users to SET), else zodan.sync_timeout's default.
// A UserError for a spock.sync_timeout that is not a duration.
int effective_sync_timeout_ms();

class LibpqConnection;

class BackendRuntime : public Runtime {
public:
    // `nonatomic`: called by a CALL that may commit (not inside BEGIN).
    // `label` names the call in every session it opens (application_name
    // "zodan: <label>"), so a node can tell who holds what.
    explicit BackendRuntime(bool nonatomic = false, std::string label = "");
    // Call once the work has succeeded (an error's abort cleans up instead).
    void finish();
    void between_steps() override;

    std::unique_ptr<Connection> connect(const std::string &node, const std::string &dsn) override;
    std::vector<OpenedSession> open_sessions(const std::vector<SessionRequest> &wanted) override;
    std::unique_ptr<Connection> connect_replication(const std::string &node, const std::string &dsn) override;
    std::vector<std::optional<QueryResult>> exec_all_until(const std::vector<std::pair<Connection *, Query>> &work,
                                                           int64_t deadline_ms) override;
    std::string run_program(const Program &program) override;
    std::unique_ptr<ScratchDir> scratch_dir() override;
    void copy_jobs(const std::vector<CopyLane> &lanes, const std::vector<CopyJob> &jobs,
                   const std::function<void(const CopyState &)> &progress) override;
    void wake_local_process(int pid) override;
    bool caller_is_superuser() override;
    int copy_streams() override;
    zodan::VerifySetting verify_data() override;
    zodan::CopyMethodSetting copy_method() override;
    zodan::StructureDumpSetting structure_dump() override;  // gucs.cpp
    std::string library_version() override;                 // dump_structure.cpp
    bool in_recovery() override;
    void sleep_ms(int ms) override;
    int64_t now_ms() override;
    void report(Level level, const std::string &message, const std::string &detail) override;
    std::pair<std::string, std::string> local_identity() override;
    int sync_timeout_ms() override;
    int progress_interval_ms() override { return guc_progress_interval_ms; }
    int backend_pid() override;
    QueryResult read_local(const Query &query) override;
#ifdef ZODAN_TEST_HOOKS
    // The test hooks' settings; without them the Runtime's no-ops stand.
    void maybe_fail_at(const std::string &point) override;
    bool pause_requested(const std::string &step) override;
    bool skip_fence() override;
#endif

private:
    std::unique_ptr<LibpqConnection> start_connection(const std::string &node, const std::string &dsn, bool replication);
    // Once connected: the credentials rule, and the session's settings
    // (LibpqConnection::begin_set_up): sent now with their answer read
    // before the first statement, or sent with (or just before) it.
    void begin_session(LibpqConnection &conn, bool first_statement_follows);

    bool spi_connected_ = false;  // non-atomic SPI connection, for commits
    int sync_timeout_ms_;         // read once: a call's settings do not change under it
    std::string application_name_;
};

}  // namespace zodan::pg
