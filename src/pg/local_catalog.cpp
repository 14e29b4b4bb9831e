// Reading this database's own catalogs from the calling session without
// keeping locks: the read runs in a subtransaction that is rolled back, which
// releases every lock it took. Holding even a read lock on Spock's catalogs
// while other sessions (reached through libpq) change them can deadlock.
#include <string>
#include <vector>

#include "core/remote.hpp"

extern "C" {
#include "postgres.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/resowner.h"
}

#include "pg/backend_runtime.hpp"
#include "pg/guard.hpp"

namespace zodan::pg {

namespace {

// Plain C result of one read, palloc'd in the caller's memory context.
struct RawResult {
    int ncols, nrows;
    char **names;   // ncols
    char **values;  // nrows * ncols, NULL for SQL NULL
};

RawResult run_in_rolled_back_subxact(const char *sql, int nargs, const char **args) {
    MemoryContext caller = CurrentMemoryContext;
    ResourceOwner owner = CurrentResourceOwner;
    RawResult out{0, 0, nullptr, nullptr};
    BeginInternalSubTransaction(nullptr);
    PG_TRY();
    {
        // Names resolve in pg_catalog first and never through the caller's or
        // the database's search_path (whose owner could otherwise put an
        // operator of their own in front of a superuser's call); the
        // subtransaction's rollback restores the caller's setting.
        (void)set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_LOCAL,
                                true, 0, false);
        Oid *types = static_cast<Oid *>(palloc(sizeof(Oid) * (nargs + 1)));
        Datum *values = static_cast<Datum *>(palloc(sizeof(Datum) * (nargs + 1)));
        char *nulls = static_cast<char *>(palloc(nargs + 1));
        for (int i = 0; i < nargs; ++i) {
            types[i] = TEXTOID;
            values[i] = args[i] ? CStringGetTextDatum(args[i]) : (Datum)0;
            nulls[i] = args[i] ? ' ' : 'n';
        }
        if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
        int rc = SPI_execute_with_args(sql, nargs, types, values, nulls, true, 0);
        if (rc != SPI_OK_SELECT) elog(ERROR, "reading the local catalog failed: %s", SPI_result_code_string(rc));
        MemoryContext spi = MemoryContextSwitchTo(caller);
        TupleDesc desc = SPI_tuptable->tupdesc;
        out.ncols = desc->natts;
        out.nrows = static_cast<int>(SPI_processed);
        out.names = static_cast<char **>(palloc(sizeof(char *) * (out.ncols + 1)));
        out.values = static_cast<char **>(palloc0(sizeof(char *) * (out.ncols * out.nrows + 1)));
        for (int c = 0; c < out.ncols; ++c) out.names[c] = pstrdup(NameStr(TupleDescAttr(desc, c)->attname));
        for (int r = 0; r < out.nrows; ++r)
            for (int c = 0; c < out.ncols; ++c) {
                char *v = SPI_getvalue(SPI_tuptable->vals[r], desc, c + 1);
                out.values[r * out.ncols + c] = v ? pstrdup(v) : nullptr;
            }
        MemoryContextSwitchTo(spi);
        SPI_finish();
        RollbackAndReleaseCurrentSubTransaction();
        MemoryContextSwitchTo(caller);
        CurrentResourceOwner = owner;
    }
    PG_CATCH();
    {
        MemoryContextSwitchTo(caller);
        RollbackAndReleaseCurrentSubTransaction();
        MemoryContextSwitchTo(caller);
        CurrentResourceOwner = owner;
        PG_RE_THROW();
    }
    PG_END_TRY();
    return out;
}

}  // namespace

QueryResult BackendRuntime::read_local(const Query &query) {
    std::vector<const char *> args;
    for (const Value &v : query.params) args.push_back(v ? v->c_str() : nullptr);
    RawResult raw = pg_call([&] { return run_in_rolled_back_subxact(query.sql.c_str(), int(args.size()), args.data()); });
    std::vector<std::string> columns;
    std::vector<std::vector<Value>> rows;
    for (int c = 0; c < raw.ncols; ++c) columns.emplace_back(raw.names[c]);
    for (int r = 0; r < raw.nrows; ++r) {
        std::vector<Value> row;
        for (int c = 0; c < raw.ncols; ++c) {
            const char *v = raw.values[r * raw.ncols + c];
            row.push_back(v ? Value(v) : Value());
        }
        rows.push_back(std::move(row));
    }
    return QueryResult(std::move(columns), std::move(rows));
}

}  // namespace zodan::pg
