// The Runtime of the step logic when it runs inside a PostgreSQL backend:
// libpq connections, latch-based sleeps, NOTICEs, the GUCs.
#pragma once

#include "core/remote.hpp"

namespace zodan::pg {

// GUC storage (defined in gucs.cpp, registered by _PG_init).
extern int guc_sync_timeout_ms;
extern int guc_connect_timeout_ms;
extern int guc_progress_interval_ms;
extern char *guc_fail_at_step;
extern char *guc_pause_at_step;

void define_gucs();

class BackendRuntime : public Runtime {
public:
    // `nonatomic`: called by a CALL that may commit (not inside BEGIN).
    explicit BackendRuntime(bool nonatomic = false);
    // Call once the work has succeeded (an error's abort cleans up instead).
    void finish();
    void between_steps() override;

    std::unique_ptr<Connection> connect(const std::string &node, const std::string &dsn) override;
    void sleep_ms(int ms) override;
    int64_t now_ms() override;
    void report(Level level, const std::string &message, const std::string &detail) override;
    std::pair<std::string, std::string> local_identity() override;
    int sync_timeout_ms() override;
    int progress_interval_ms() override { return guc_progress_interval_ms; }
    int backend_pid() override;
    QueryResult read_local(const Query &query) override;
    void maybe_fail_at(const std::string &point) override;
    bool pause_requested(const std::string &step) override;

private:
    bool spi_connected_ = false;  // non-atomic SPI connection, for commits
};

}  // namespace zodan::pg
