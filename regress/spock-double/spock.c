/*-------------------------------------------------------------------------
 *
 * spock.c
 *		C helpers of the zodan Spock test double: the sync worker (a dynamic
 *		background worker that runs spock._sync_step() step by step, each step
 *		in its own transaction) and small functions PL/pgSQL cannot express.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/elog.h"
#include "utils/snapmgr.h"

PG_MODULE_MAGIC;

typedef struct SyncWorkerArgs
{
	Oid			dboid;
	int64		creator_xid;	/* transaction that asked for the worker */
} SyncWorkerArgs;

PGDLLEXPORT void spock_sync_worker_main(Datum main_arg);
PGDLLEXPORT void spock_pause_watchdog_main(Datum main_arg);

void		_PG_init(void);

/*
 * Native subscriptions are made with disable_on_error so that an apply error
 * (a conflict, a change delivered twice) leaves them disabled: status "down"
 * for good. But PG15 also disables them when the provider connection drops,
 * where Spock's apply worker simply reconnects. So in logical replication
 * workers a connection error (class 08) is noted when it is reported, and the
 * "disable the subscription" commit that follows is refused: the worker then
 * exits with that error and the launcher starts it again later.
 */
static emit_log_hook_type prev_emit_log_hook = NULL;
static bool connection_lost = false;

static bool
in_logical_replication_worker(void)
{
	return MyBackendType == B_BG_WORKER && MyBgworkerEntry != NULL &&
		strcmp(MyBgworkerEntry->bgw_type, "logical replication worker") == 0;
}

static void
spock_emit_log_hook(ErrorData *edata)
{
	if (prev_emit_log_hook)
		prev_emit_log_hook(edata);
	if (edata->elevel == ERROR &&
		ERRCODE_TO_CATEGORY(edata->sqlerrcode) == ERRCODE_CONNECTION_EXCEPTION &&
		in_logical_replication_worker())
		connection_lost = true;
}

static void
spock_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_PRE_COMMIT && connection_lost &&
		in_logical_replication_worker())
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("spock: lost the connection to the provider; the subscription stays enabled and will reconnect")));
}

void
_PG_init(void)
{
	prev_emit_log_hook = emit_log_hook;
	emit_log_hook = spock_emit_log_hook;
	RegisterXactCallback(spock_xact_callback, NULL);
}

/*
 * Fills in a dynamic worker of this library that connects to the current
 * database; the caller names it (bgw_name).
 */
static void
init_worker(BackgroundWorker *worker, const char *main_fn, const char *type,
			Datum main_arg, int64 creator_xid)
{
	SyncWorkerArgs args;

	memset(worker, 0, sizeof(*worker));
	worker->bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker->bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker->bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker->bgw_library_name, BGW_MAXLEN, "spock");
	snprintf(worker->bgw_function_name, BGW_MAXLEN, "%s", main_fn);
	snprintf(worker->bgw_type, BGW_MAXLEN, "%s", type);
	worker->bgw_main_arg = main_arg;
	args.dboid = MyDatabaseId;
	args.creator_xid = creator_xid;
	memcpy(worker->bgw_extra, &args, sizeof(args));
}

/*
 * spock._start_sync_worker(subid oid, creator_xid int8, subname text)
 * RETURNS int: starts the sync worker of a subscription and returns its pid.
 */
PG_FUNCTION_INFO_V1(spock_start_sync_worker);
Datum
spock_start_sync_worker(PG_FUNCTION_ARGS)
{
	Oid			subid = PG_GETARG_OID(0);
	int64		xid = PG_GETARG_INT64(1);
	char	   *subname = text_to_cstring(PG_GETARG_TEXT_PP(2));
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	BgwHandleStatus status;
	pid_t		pid = 0;

	init_worker(&worker, "spock_sync_worker_main", "spock sync", ObjectIdGetDatum(subid), xid);
	snprintf(worker.bgw_name, BGW_MAXLEN, "spock sync %s", subname);
	worker.bgw_notify_pid = MyProcPid;

	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("could not register spock sync worker"),
				 errhint("Raise max_worker_processes.")));

	status = WaitForBackgroundWorkerStartup(handle, &pid);
	if (status == BGWH_POSTMASTER_DIED)
		ereport(ERROR, (errmsg("postmaster died")));
	if (status != BGWH_STARTED)
		pid = 0;

	PG_RETURN_INT32((int32) pid);
}

/*
 * spock._start_pause_watchdog(pauser_pid int) RETURNS void: starts a worker
 * that resumes the subscriptions paused by that backend once it is gone,
 * should it die before resuming them itself.
 */
PG_FUNCTION_INFO_V1(spock_start_pause_watchdog);
Datum
spock_start_pause_watchdog(PG_FUNCTION_ARGS)
{
	int32		pauser = PG_GETARG_INT32(0);
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;

	init_worker(&worker, "spock_pause_watchdog_main", "spock pause watchdog", Int32GetDatum(pauser), 0);
	snprintf(worker.bgw_name, BGW_MAXLEN, "spock pause watchdog %d", pauser);
	worker.bgw_notify_pid = 0;

	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("could not register spock pause watchdog"),
				 errhint("Raise max_worker_processes.")));
	PG_RETURN_VOID();
}

/* spock._pid_alive(pid int) RETURNS bool */
PG_FUNCTION_INFO_V1(spock_pid_alive);
Datum
spock_pid_alive(PG_FUNCTION_ARGS)
{
	int32		pid = PG_GETARG_INT32(0);

	PG_RETURN_BOOL(pid > 0 && kill((pid_t) pid, 0) == 0);
}

/* spock._bindir() RETURNS text: directory of the server's executables */
PG_FUNCTION_INFO_V1(spock_bindir);
Datum
spock_bindir(PG_FUNCTION_ARGS)
{
	char		path[MAXPGPATH];

	strlcpy(path, my_exec_path, MAXPGPATH);
	get_parent_directory(path);
	PG_RETURN_TEXT_P(cstring_to_text(path));
}

/*
 * spock._pair_hash(id oid, name name) RETURNS oid: Spock's id rule for
 * interfaces and replication sets, hash_any({id, hash_any(name)}).
 */
PG_FUNCTION_INFO_V1(spock_pair_hash);
Datum
spock_pair_hash(PG_FUNCTION_ARGS)
{
	Oid			id = PG_GETARG_OID(0);
	Name		name = PG_GETARG_NAME(1);
	uint32		hashinput[2];

	hashinput[0] = id;
	hashinput[1] = DatumGetUInt32(hash_any((const unsigned char *) NameStr(*name),
										   strlen(NameStr(*name))));
	PG_RETURN_OID(DatumGetUInt32(hash_any((const unsigned char *) hashinput,
										  (int) sizeof(hashinput))));
}

/*
 * Main of the sync worker: runs spock._sync_step(subid, step, xid) until it
 * returns 0, one transaction per step, so that a step that creates a slot on
 * the provider never holds a transaction id here (slot creation waits for all
 * running transactions of the provider, and this node may be one's provider).
 */
void
spock_sync_worker_main(Datum main_arg)
{
	Oid			subid = DatumGetObjectId(main_arg);
	SyncWorkerArgs args;
	int			step = 1;

	memcpy(&args, MyBgworkerEntry->bgw_extra, sizeof(args));

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(args.dboid, InvalidOid, 0);

	while (step > 0)
	{
		Oid			argtypes[3] = {OIDOID, INT4OID, INT8OID};
		Datum		values[3];
		bool		isnull;
		int			ret;

		values[0] = ObjectIdGetDatum(subid);
		values[1] = Int32GetDatum(step);
		values[2] = Int64GetDatum(args.creator_xid);

		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		SPI_connect();
		PushActiveSnapshot(GetTransactionSnapshot());
		pgstat_report_activity(STATE_RUNNING, "spock sync step");

		ret = SPI_execute_with_args("SELECT spock._sync_step($1, $2, $3)",
									3, argtypes, values, NULL, false, 1);
		if (ret != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "spock._sync_step failed");
		step = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
										   SPI_tuptable->tupdesc, 1, &isnull));
		if (isnull)
			step = 0;

		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
		pgstat_report_activity(STATE_IDLE, NULL);
	}

	proc_exit(0);
}

/* Main of the pause watchdog: runs spock._pause_watchdog(pauser_pid). */
void
spock_pause_watchdog_main(Datum main_arg)
{
	int32		pauser = DatumGetInt32(main_arg);
	SyncWorkerArgs args;
	Oid			argtypes[1] = {INT4OID};
	Datum		values[1];

	memcpy(&args, MyBgworkerEntry->bgw_extra, sizeof(args));

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(args.dboid, InvalidOid, 0);

	values[0] = Int32GetDatum(pauser);
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "spock pause watchdog");
	if (SPI_execute_with_args("SELECT spock._pause_watchdog($1)",
							  1, argtypes, values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "spock._pause_watchdog failed");
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
	proc_exit(0);
}
