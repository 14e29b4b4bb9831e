// The C-facing side of the extension: PostgreSQL calls these entry points;
// each turns its arguments into plain C++ values and runs the C++ work
// through invoke_cpp, raising any failure as an ERROR only after every C++
// frame has unwound.
#include <string>

#include "core/plan/add_node.hpp"
#include "core/plan/plan.hpp"
#include "core/cluster/names.hpp"
#include "core/remove/remove_node.hpp"
#include "core/cluster/health_check.hpp"

extern "C" {
#include "postgres.h"
#include "fmgr.h"
#include "access/xact.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "replication/origin.h"
#include "utils/array.h"
#include "utils/timestamp.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/tuplestore.h"
}

#include "pg/backend_runtime.hpp"
#include "pg/call_secrets.hpp"
#include "pg/guard.hpp"
#include "pg/invoke.hpp"
#include "pg/statement_log.hpp"

extern "C" {
PG_MODULE_MAGIC;

void _PG_init(void);
PG_FUNCTION_INFO_V1(zodan_add_node);
PG_FUNCTION_INFO_V1(zodan_health_check);
PG_FUNCTION_INFO_V1(zodan_health_check_report);
PG_FUNCTION_INFO_V1(zodan_remove_node);
PG_FUNCTION_INFO_V1(zodan_restamp);
PG_FUNCTION_INFO_V1(zodan_plan_json);
}

void _PG_init(void) {
    zodan::pg::define_gucs();
    zodan::pg::install_statement_log_guard();
}

namespace {

// Text argument `n`, or NULL; C strings only, so nothing here needs unwinding.
const char *text_arg(FunctionCallInfo fcinfo, int n) {
    if (PG_NARGS() <= n || PG_ARGISNULL(n)) return nullptr;
    return text_to_cstring(PG_GETARG_TEXT_PP(n));
}

bool bool_arg(FunctionCallInfo fcinfo, int n, bool fallback) {
    if (PG_NARGS() <= n || PG_ARGISNULL(n)) return fallback;
    return PG_GETARG_BOOL(n);
}

const char *jsonb_arg(FunctionCallInfo fcinfo, int n) {
    if (PG_NARGS() <= n || PG_ARGISNULL(n)) return nullptr;
    Jsonb *j = PG_GETARG_JSONB_P(n);
    return JsonbToCString(nullptr, &j->root, VARSIZE(j));
}

// The other nodes create slots on this one; slot creation waits for every
// transaction here that holds an xid. If the caller's own transaction holds
// one, the add would wait on itself until zodan.sync_timeout.
void require_no_writes_in_caller(const char *procedure) {
    if (TransactionIdIsValid(GetTopTransactionIdIfAny()))
        ereport(ERROR, (errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
                        errmsg("%s cannot run in a transaction that has already written data", procedure),
                        errhint("Call it on its own, outside BEGIN ... COMMIT, or commit the earlier work first.")));
}

// A CALL outside a transaction block may commit between steps.
bool call_may_commit(FunctionCallInfo fcinfo) {
    return fcinfo->context && IsA(fcinfo->context, CallContext) && !castNode(CallContext, fcinfo->context)->atomic;
}

void require_arg(const char *value, const char *name) {
    if (!value || !*value)
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("%s must not be NULL or empty", name)));
}

}  // namespace

Datum zodan_add_node(PG_FUNCTION_ARGS) {
    zodan::pg::begin_call();  // from the first check on: its errors too keep the DSNs out of the log
    const char *src_name = text_arg(fcinfo, 0), *src_dsn = text_arg(fcinfo, 1);
    const char *new_name = text_arg(fcinfo, 2), *new_dsn = text_arg(fcinfo, 3);
    require_arg(src_name, "src_node_name");
    require_arg(src_dsn, "src_dsn");
    require_arg(new_name, "new_node_name");
    require_arg(new_dsn, "new_node_dsn");
    require_no_writes_in_caller("spock.add_node");
    const bool verbose = bool_arg(fcinfo, 4, false);
    const char *location = text_arg(fcinfo, 5), *country = text_arg(fcinfo, 6), *info = jsonb_arg(fcinfo, 7);
    const bool may_commit = call_may_commit(fcinfo);

    zodan::pg::run_or_raise([&] {
        zodan::pg::remember_dsn_secrets(src_dsn);
        zodan::pg::remember_dsn_secrets(new_dsn);
        zodan::require_node_name_argument("src_node_name", src_name);
        zodan::require_node_name_argument("new_node_name", new_name);
        zodan::AddNodeArgs args;
        args.src_name = src_name;
        args.src_dsn = src_dsn;
        args.new_name = new_name;
        args.new_dsn = new_dsn;
        args.verbose = verbose;
        if (location) args.location = std::string(location);
        if (country) args.country = std::string(country);
        if (info) args.info_json = info;
        zodan::pg::BackendRuntime rt(may_commit, "add_node " + args.new_name);
        zodan::AddNode(rt, std::move(args)).run();
        rt.finish();
    });
    PG_RETURN_VOID();
}

namespace {

// The nodes spock.health_check and spock.health_check_report are given:
// their secrets remembered for masking before anything can quote them, the
// names checked. Inside the guard: a bad name is a C++ exception.
zodan::AddNodeArgs health_check_args(const char *src_name, const char *src_dsn, const char *new_name,
                                     const char *new_dsn) {
    zodan::pg::remember_dsn_secrets(src_dsn);
    if (new_dsn) zodan::pg::remember_dsn_secrets(new_dsn);
    zodan::require_node_name_argument("src_node_name", src_name);
    if (new_name) zodan::require_node_name_argument("new_node_name", new_name);
    zodan::AddNodeArgs args;
    args.src_name = src_name;
    args.src_dsn = src_dsn;
    args.new_name = new_name ? new_name : "";
    args.new_dsn = new_dsn ? new_dsn : "";
    return args;
}

}  // namespace

Datum zodan_health_check(PG_FUNCTION_ARGS) {
    zodan::pg::begin_call();  // from the first check on: its errors too keep the DSNs out of the log
    const char *src_name = text_arg(fcinfo, 0), *src_dsn = text_arg(fcinfo, 1);
    const char *new_name = text_arg(fcinfo, 2), *new_dsn = text_arg(fcinfo, 3);
    const char *check_type = text_arg(fcinfo, 4);
    require_arg(src_name, "src_node_name");
    require_arg(src_dsn, "src_dsn");
    const bool verbose = bool_arg(fcinfo, 5, false);

    zodan::pg::run_or_raise([&] {
        zodan::AddNodeArgs args = health_check_args(src_name, src_dsn, new_name, new_dsn);
        args.verbose = verbose;
        zodan::pg::BackendRuntime rt(false, "health_check");
        zodan::health_check(rt, args, check_type ? check_type : "pre");
    });
    PG_RETURN_VOID();
}

// The checks of spock.health_check as rows (node_name, check_name, passed,
// message, hint): a failed check is a row, not an ERROR; only checks that
// cannot run (a bad argument, a node not reached) raise one.
Datum zodan_health_check_report(PG_FUNCTION_ARGS) {
    zodan::pg::begin_call();  // from the first check on: its errors too keep the DSNs out of the log
    const char *src_name = text_arg(fcinfo, 0), *src_dsn = text_arg(fcinfo, 1);
    const char *new_name = text_arg(fcinfo, 2), *new_dsn = text_arg(fcinfo, 3);
    const char *check_type = text_arg(fcinfo, 4);
    require_arg(src_name, "src_node_name");
    require_arg(src_dsn, "src_dsn");
    InitMaterializedSRF(fcinfo, 0);
    ReturnSetInfo *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);

    zodan::pg::run_or_raise([&] {
        zodan::AddNodeArgs args = health_check_args(src_name, src_dsn, new_name, new_dsn);
        zodan::pg::BackendRuntime rt(false, "health_check");
        for (const zodan::HealthRow &row : zodan::health_check_rows(rt, args, check_type ? check_type : "pre")) {
            // Masked like every text that leaves a call (a message may quote a DSN).
            const zodan::Secrets &secrets = zodan::pg::call_secrets();
            const std::string message = secrets.scrub(row.message), hint = secrets.scrub(row.hint);
            zodan::pg::pg_call([&] {
                Datum values[5];
                bool nulls[5] = {row.node.empty(), false, false, row.passed, row.passed || hint.empty()};
                values[0] = nulls[0] ? Datum(0) : CStringGetTextDatum(row.node.c_str());
                values[1] = CStringGetTextDatum(row.check.c_str());
                values[2] = BoolGetDatum(row.passed);
                values[3] = nulls[3] ? Datum(0) : CStringGetTextDatum(message.c_str());
                values[4] = nulls[4] ? Datum(0) : CStringGetTextDatum(hint.c_str());
                tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
            });
        }
    });
    return (Datum)0;
}

Datum zodan_remove_node(PG_FUNCTION_ARGS) {
    zodan::pg::begin_call();  // from the first check on: its errors too keep the DSNs out of the log
    const char *target_name = text_arg(fcinfo, 0), *target_dsn = text_arg(fcinfo, 1);
    require_arg(target_name, "target_node_name");
    require_arg(target_dsn, "target_node_dsn");
    const bool verbose = bool_arg(fcinfo, 2, true);
    const bool force = bool_arg(fcinfo, 3, false);

    zodan::pg::run_or_raise([&] {
        zodan::pg::remember_dsn_secrets(target_dsn);
        zodan::require_node_name_argument("target_node_name", target_name);
        zodan::RemoveNodeArgs args;
        args.target_name = target_name;
        args.target_dsn = target_dsn;
        args.verbose = verbose;
        args.force = force;
        zodan::pg::BackendRuntime rt(false, "remove_node " + args.target_name);
        zodan::RemoveNode(rt, std::move(args)).run();
    });
    PG_RETURN_VOID();
}

namespace {

// The elements of a one-dimensional array argument without NULLs, or an
// ERROR naming it. (Only C calls here: nothing to unwind when ereport leaves.)
int array_arg(FunctionCallInfo fcinfo, int n, const char *name, Oid type, int16 len, bool byval, char align,
              Datum **values) {
    if (PG_ARGISNULL(n))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("%s must not be NULL", name)));
    ArrayType *array = PG_GETARG_ARRAYTYPE_P_COPY(n);  // in the call's memory, which outlives our commits
    if (ARR_NDIM(array) > 1 || ARR_ELEMTYPE(array) != type)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("%s must be a one-dimensional array", name)));
    bool *nulls = nullptr;
    int count = 0;
    deconstruct_array(array, type, len, byval, align, values, &nulls, &count);
    for (int i = 0; i < count; ++i)
        if (nulls[i])
            ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("%s must not contain NULL", name)));
    return count;
}

}  // namespace

// The copy's rewriting of the join window (docs/protocol.md, "Late
// conflicts"): each transaction commits with a Spock node id as its origin
// and a given commit timestamp, which is what Spock's apply records for a
// transaction it applies from that node (it sets the session's origin to
// the node id its provider sent) and what its conflict resolution reads
// back from a row's xmin. SQL can only name an origin that exists on this
// node, and Spock's node ids are not those. Only in a session that has set
// up a replication origin (PostgreSQL keeps that origin's progress apart
// from the value recorded with the commit). One prepared plan per table and
// the commits done here: a round trip, or a plan, per transaction costs a
// busy node milliseconds each. No C++ objects here: ereport may leave at
// any point.
Datum zodan_restamp(PG_FUNCTION_ARGS) {
    if (!superuser())
        ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE), errmsg("only a superuser may rewrite rows' origins")));
    if (!call_may_commit(fcinfo))
        ereport(ERROR, (errcode(ERRCODE_INVALID_TRANSACTION_TERMINATION),
                        errmsg("spock.zodan_restamp must be called on its own, outside a transaction block")));
    // Only pg_replication_origin_session_setup() makes it valid, and only its
    // reset makes it invalid again: the session's origin is set up.
    if (replorigin_session_origin == InvalidRepOriginId)
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                        errmsg("no replication origin is set up in this session"),
                        errhint("Call pg_replication_origin_session_setup() first.")));
    Datum *statements, *origins, *stamps, *entry_xact, *entry_table, *entry_keys;
    const int nstatements = array_arg(fcinfo, 0, "statements", TEXTOID, -1, false, TYPALIGN_INT, &statements);
    const int nxacts = array_arg(fcinfo, 1, "origins", OIDOID, sizeof(Oid), true, TYPALIGN_INT, &origins);
    if (array_arg(fcinfo, 2, "stamps", TIMESTAMPTZOID, sizeof(TimestampTz), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
                  &stamps) != nxacts)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("origins and stamps differ in length")));
    const int nentries = array_arg(fcinfo, 3, "entry_xact", INT4OID, sizeof(int32), true, TYPALIGN_INT, &entry_xact);
    if (array_arg(fcinfo, 4, "entry_table", INT4OID, sizeof(int32), true, TYPALIGN_INT, &entry_table) != nentries ||
        array_arg(fcinfo, 5, "entry_keys", JSONBOID, -1, false, TYPALIGN_INT, &entry_keys) != nentries)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("entry_xact, entry_table and entry_keys differ in length")));
    for (int x = 0; x < nxacts; ++x) {
        const Oid origin = DatumGetObjectId(origins[x]);
        // 0 means no origin, and PostgreSQL records neither for DoNotReplicateId.
        if (origin == InvalidRepOriginId || origin >= DoNotReplicateId)
            ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                            errmsg("%u cannot be recorded as a commit's origin", origin)));
        if (TIMESTAMP_NOT_FINITE(DatumGetTimestampTz(stamps[x])))
            ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("stamps must be finite")));
    }
    for (int e = 0; e < nentries; ++e) {
        const int32 x = DatumGetInt32(entry_xact[e]), t = DatumGetInt32(entry_table[e]);
        if (x < 1 || x > nxacts || (e > 0 && x < DatumGetInt32(entry_xact[e - 1])) || t < 1 || t > nstatements)
            ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                            errmsg("entry %d names no transaction or statement, or is out of order", e + 1)));
    }
    const RepOriginId session_origin = replorigin_session_origin;
    SPIPlanPtr *plans = static_cast<SPIPlanPtr *>(palloc0(sizeof(SPIPlanPtr) * (nstatements > 0 ? nstatements : 1)));

    SPI_connect_ext(SPI_OPT_NONATOMIC);
    Oid key_type = JSONBOID;
    for (int t = 0; t < nstatements; ++t) {
        // Generic: the keys differ each time, the plan (an index lookup per key) does not.
        plans[t] = SPI_prepare_cursor(TextDatumGetCString(statements[t]), 1, &key_type, CURSOR_OPT_GENERIC_PLAN);
        if (!plans[t])
            ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("could not prepare statement %d: %s", t + 1,
                                                                     SPI_result_code_string(SPI_result))));
        SPI_keepplan(plans[t]);
    }
    int64 rewritten = 0;
    for (int e = 0; e < nentries;) {
        const int32 x = DatumGetInt32(entry_xact[e]);
        replorigin_session_origin = static_cast<RepOriginId>(DatumGetObjectId(origins[x - 1]));
        replorigin_session_origin_lsn = InvalidXLogRecPtr;
        replorigin_session_origin_timestamp = DatumGetTimestampTz(stamps[x - 1]);
        for (; e < nentries && DatumGetInt32(entry_xact[e]) == x; ++e) {
            Datum keys = entry_keys[e];
            const int rc = SPI_execute_plan(plans[DatumGetInt32(entry_table[e]) - 1], &keys, nullptr, false, 0);
            if (rc != SPI_OK_UPDATE)
                ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
                                errmsg("rewriting rows failed: %s", SPI_result_code_string(rc))));
            rewritten += static_cast<int64>(SPI_processed);
        }
        SPI_commit();
    }
    replorigin_session_origin = session_origin;
    replorigin_session_origin_timestamp = 0;
    for (int t = 0; t < nstatements; ++t) SPI_freeplan(plans[t]);
    SPI_finish();

    TupleDesc desc;
    if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE)
        ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("spock.zodan_restamp must return a record")));
    desc = BlessTupleDesc(desc);
    Datum result = Int64GetDatum(rewritten);
    bool isnull = false;
    PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, &result, &isnull)));
}

// The steps of spock.add_node as the running library has them, for the
// view spock.zodan_add_node_steps: tests and tools read the plan from the
// extension instead of keeping a list of their own.
Datum zodan_plan_json(PG_FUNCTION_ARGS) {
    text *out = nullptr;
    zodan::pg::run_or_raise([&] {
        const std::string json = zodan::plan_json();
        out = zodan::pg::pg_call([&] { return cstring_to_text_with_len(json.data(), static_cast<int>(json.size())); });
    });
    PG_RETURN_TEXT_P(out);
}
