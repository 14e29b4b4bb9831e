#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>

#include "core/text/secrets.hpp"

extern "C" {
#include "postgres.h"
#include "access/xact.h"
#include "miscadmin.h"
#include "tcop/tcopprot.h"
#include "utils/backend_status.h"
#include "utils/elog.h"
#include "utils/memutils.h"
}

#include "pg/call_secrets.hpp"
#include "pg/guard.hpp"
#include "pg/statement_log.hpp"

namespace zodan::pg {

namespace {

bool call_in_progress = false;
// The masked copy debug_query_string was last pointed at (mask_statement).
const char *masked_statement = nullptr;
emit_log_hook_type previous_emit_log_hook = nullptr;

enum class Masking { Unchanged, Masked, Failed };

// `text` as it may be shown: the secrets in its quoted pieces masked
// (mask_secrets_in_sql), and while a call runs every secret the call has
// seen (a DSN pieced together from several literals). Failed: it may hold
// a secret that could not be masked (out of memory). Runs inside error
// reporting: never throws, never calls into PostgreSQL.
Masking mask_for_log(const char *text, std::string &masked) noexcept {
    if (!text) return Masking::Unchanged;
    return cpp_noexcept(
        [&] {
            const bool known = call_in_progress && !call_secrets().empty();
            if (!known && !may_hold_secrets(text)) return Masking::Unchanged;
            const std::string original(text);
            masked = mask_secrets_in_sql(original);
            if (known) masked = call_secrets().replace_known(masked);
            return masked == original ? Masking::Unchanged : Masking::Masked;
        },
        Masking::Failed);
}

// A copy of `text` in `context`, or nullptr. MCXT_ALLOC_NO_OOM: no ereport
// from inside error reporting (HUGE: any length a string may have).
char *copy_to(MemoryContext context, const std::string &text, size_t size) noexcept {
    char *copy = static_cast<char *>(
        MemoryContextAllocExtended(context, size, MCXT_ALLOC_NO_OOM | MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO));
    if (copy) std::memcpy(copy, text.data(), std::min(text.size(), size - 1));
    return copy;
}

// A text of the entry (message, DETAIL, CONTEXT, ...), masked in place. The
// texts are palloc'd in the entry's context, and freed with it after a
// NOTICE or a LOG (FreeErrorDataContents): the copy is made there too, and
// the old text freed now, or a session logging many statements would keep
// them all until its next error. An entry that cannot be masked is kept out
// of the server log.
void mask_field(ErrorData *edata, char **field) noexcept {
    std::string masked;
    switch (mask_for_log(*field, masked)) {
    case Masking::Unchanged:
        return;
    case Masking::Masked:
        if (char *copy = copy_to(edata->assoc_context, masked, masked.size() + 1)) {
            char *old = *field;
            *field = copy;
            pfree(old);
            return;
        }
        break;
    case Masking::Failed:
        break;
    }
    edata->output_to_server = false;
}

// Cuts `text` to at most `size` bytes, never inside a multibyte character
// (any byte >= 0x80 at the cut goes too: right for every server encoding).
void fit(std::string &text, size_t size) {
    if (text.size() <= size) return;
    text.resize(size);
    while (!text.empty() && static_cast<unsigned char>(text.back()) >= 0x80) text.pop_back();
}

// The statement the server prints after the entry (STATEMENT:, and the
// query field of csvlog and jsonlog) is debug_query_string: pointed at a
// masked copy, it is masked there and for the rest of the statement, at
// every level. The caller's own text (which the server executes) is left
// alone.
//  - The copy lives in MessageContext, as long as the statement's own text:
//    code that saved debug_query_string and restores it later (Spock does
//    around a replicated DDL) never finds it freed. Only client backends
//    reset MessageContext between statements, after debug_query_string;
//    elsewhere the statement is left out of the log instead.
//  - It is never longer than the original, zero-padded to its length:
//    PostgreSQL's parallel index builds and parallel VACUUM measure
//    debug_query_string and copy that many bytes of it later. A mask longer
//    than a short password shortens the statement's tail.
void mask_statement(ErrorData *edata) noexcept {
    const char *statement = debug_query_string;
    std::string masked;
    switch (mask_for_log(statement, masked)) {
    case Masking::Unchanged:
        return;
    case Masking::Masked:
        if (MyBackendType == B_BACKEND && MessageContext) {
            const size_t size = std::strlen(statement) + 1;
            if (cpp_noexcept([&] { fit(masked, size - 1); return true; }, false))
                if (char *copy = copy_to(MessageContext, masked, size)) {
                    debug_query_string = masked_statement = copy;
                    return;
                }
        }
        break;
    case Masking::Failed:
        break;
    }
    edata->hide_stmt = true;
}

// The entry's texts and statement, masked. C++ work inside error reporting,
// a crossing of its own: nothing may be raised from it (it would escape into
// errfinish), and it calls into PostgreSQL only where that cannot raise an
// error (allocations with MCXT_ALLOC_NO_OOM, pfree) -- never through
// pg_call, whose catch would flush the error being reported. Should anything
// fail, the entry stays out of the server log rather than leak a secret.
void mask_entry(ErrorData *edata) noexcept {
    const bool masked = cpp_noexcept(
        [&] {
            // The call's final error is raised after it has forgotten its
            // secrets: its statement is left out rather than masked by its
            // literals alone.
            if (call_in_progress && edata->elevel >= ERROR) edata->hide_stmt = true;
            // Statement logging (log_statement, log_min_duration_statement,
            // the "parameters:" DETAIL of a prepared statement, a deadlock's
            // DETAIL quoting the other sessions' queries) writes statements
            // into the entry's own texts: all of them are masked, for any
            // statement. Needs zodan loaded before the statement arrives
            // (shared_preload_libraries).
            for (char **field : {&edata->message, &edata->detail, &edata->detail_log, &edata->hint,
                                 &edata->context, &edata->internalquery})
                mask_field(edata, field);
            mask_statement(edata);
            return true;
        },
        false);
    if (!masked) edata->output_to_server = false;
}

// The hook itself: C-facing, its frame holds plain data only. The C++ work
// is done and its frames gone before the next hook runs, which may raise an
// error (a longjmp) with nothing of ours left to skip.
void guard_log_entry(ErrorData *edata) {
    mask_entry(edata);
    if (previous_emit_log_hook) previous_emit_log_hook(edata);
}

// The error of a failed call is logged before the abort; after it, the
// session's next statements are logged as usual again.
void end_call_on_abort(XactEvent event, void *) noexcept {
    if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT) call_in_progress = false;
}

// A malloc'd masked copy of `text`, or nullptr when nothing is masked.
char *masked_copy(const char *text) noexcept {
    std::string masked;
    if (mask_for_log(text, masked) != Masking::Masked) return nullptr;
    return strdup(masked.c_str());
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
    char *masked = masked_copy(debug_query_string);
    if (masked) {
        pgstat_report_activity(STATE_RUNNING, masked);
        free(masked);
    } else if (debug_query_string && debug_query_string == masked_statement) {
        // Masked already, by a log entry of this statement (log_statement
        // logs it before it runs): pg_stat_activity still has it as sent.
        pgstat_report_activity(STATE_RUNNING, debug_query_string);
    }
}

void end_call() { call_in_progress = false; }

}  // namespace zodan::pg
