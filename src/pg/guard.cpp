extern "C" {
#include "postgres.h"
#include "miscadmin.h"
}

#include "pg/guard.hpp"

namespace zodan::pg {

PgError take_pg_error(MemoryContext ctx) {
    // CopyErrorData must not run in ErrorContext; go back to the caller's.
    // It may itself fail (out of memory): that second error is caught here
    // too, so no longjmp leaves this C++ frame, and reported in words.
    MemoryContextSwitchTo(ctx);
    ErrorData *edata = nullptr;
    PG_TRY();
    {
        edata = CopyErrorData();
    }
    PG_CATCH();
    {
        MemoryContextSwitchTo(ctx);
        edata = nullptr;
    }
    PG_END_TRY();
    FlushErrorState();
    if (!edata) return PgError(ERRCODE_OUT_OF_MEMORY, "out of memory while reading an error", "", "");
    PgError error(edata->sqlerrcode, edata->message ? edata->message : "unknown error",
                  edata->detail ? edata->detail : "", edata->hint ? edata->hint : "");
    FreeErrorData(edata);
    return error;
}

void check_for_interrupts() {
    pg_call([] { CHECK_FOR_INTERRUPTS(); });
}

}  // namespace zodan::pg
