#include <cctype>
#include <cstdlib>
#include <cstring>
#include <string>

#include "core/text/conninfo.hpp"
#include "core/text/secrets.hpp"

extern "C" {
#include "postgres.h"
#include "access/xact.h"
#include "tcop/tcopprot.h"
#include "utils/backend_status.h"
#include "utils/elog.h"
}

#include "pg/statement_log.hpp"

namespace zodan::pg {

namespace {

bool call_in_progress = false;
emit_log_hook_type previous_emit_log_hook = nullptr;

bool mentions_our_procedure(const std::string &text) {
    std::string lower = text;
    for (char &c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (const char *name : {"add_node", "remove_node", "health_check"})
        if (lower.find(name) != std::string::npos) return true;
    return false;
}

// A malloc'd copy of `text` with the secrets of its literals masked, or
// nullptr when there is nothing to mask. Never throws, never ereports: it
// runs inside error reporting.
char *masked_copy(const char *text, bool only_if_ours) noexcept {
    if (!text) return nullptr;
    try {
        const std::string original(text);
        if (only_if_ours && !mentions_our_procedure(original)) return nullptr;
        const std::string masked = mask_secrets_in_sql(original);
        return masked == original ? nullptr : strdup(masked.c_str());
    } catch (...) {
        return nullptr;
    }
}

// Swaps a palloc'd string of the error for its masked copy (both C strings,
// so an out-of-memory ERROR from pstrdup jumps over no C++ frame).
void replace_masked(char **field, char *masked) {
    if (!masked) return;
    *field = pstrdup(masked);
    free(masked);
}

void guard_log_entry(ErrorData *edata) {
    if (call_in_progress && edata->elevel >= ERROR) edata->hide_stmt = true;
    // Statement logging (log_statement, log_min_duration_statement, the
    // parameters DETAIL of a prepared CALL) writes the caller's statement,
    // DSNs and all: the literals of a statement naming one of our
    // procedures are masked. Needs zodan loaded before the statement
    // arrives (shared_preload_libraries) to cover a session's first call.
    if (edata->message && mentions_our_procedure(edata->message)) {
        replace_masked(&edata->message, masked_copy(edata->message, false));
        replace_masked(&edata->detail, masked_copy(edata->detail, false));
        replace_masked(&edata->detail_log, masked_copy(edata->detail_log, false));
    }
    if (previous_emit_log_hook) previous_emit_log_hook(edata);
}

// The error of a failed call is logged before the abort; after it, the
// session's next statements are logged as usual again.
void end_call_on_abort(XactEvent event, void *) {
    if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT) call_in_progress = false;
}

}  // namespace

void install_statement_log_guard() {
    previous_emit_log_hook = emit_log_hook;
    emit_log_hook = guard_log_entry;
    RegisterXactCallback(end_call_on_abort, nullptr);
}

void begin_call() {
    call_in_progress = true;
    // pg_stat_activity.query shows the statement, DSNs and all, to every
    // member of pg_read_all_stats for the whole call: show it masked.
    char *masked = masked_copy(debug_query_string, true);
    if (masked) {
        pgstat_report_activity(STATE_RUNNING, masked);
        free(masked);
    }
}

void end_call() { call_in_progress = false; }

}  // namespace zodan::pg
