extern "C" {
#include "postgres.h"
#include "miscadmin.h"
}

#include "pg/guard.hpp"

namespace zodan::pg {

PgError take_pg_error(MemoryContext ctx) {
    // CopyErrorData must not run in ErrorContext; go back to the caller's.
    MemoryContextSwitchTo(ctx);
    ErrorData *edata = CopyErrorData();
    FlushErrorState();
    PgError error(edata->sqlerrcode, edata->message ? edata->message : "unknown error",
                  edata->detail ? edata->detail : "", edata->hint ? edata->hint : "");
    FreeErrorData(edata);
    return error;
}

void check_for_interrupts() {
    pg_call([] { CHECK_FOR_INTERRUPTS(); });
}

}  // namespace zodan::pg
