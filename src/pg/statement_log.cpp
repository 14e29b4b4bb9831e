extern "C" {
#include "postgres.h"
#include "access/xact.h"
#include "utils/elog.h"
}

#include "pg/statement_log.hpp"

namespace zodan::pg {

namespace {

bool call_in_progress = false;
emit_log_hook_type previous_emit_log_hook = nullptr;

void hide_statement_during_call(ErrorData *edata) {
    if (call_in_progress && edata->elevel >= ERROR) edata->hide_stmt = true;
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
    emit_log_hook = hide_statement_during_call;
    RegisterXactCallback(end_call_on_abort, nullptr);
}

void begin_call() { call_in_progress = true; }
void end_call() { call_in_progress = false; }

}  // namespace zodan::pg
