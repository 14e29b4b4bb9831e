/*-------------------------------------------------------------------------
 *
 * spock_output.c
 *		Output plugin "spock_output" of the zodan Spock test double.
 *
 * It is pgoutput with one change: only changes that originated on this node
 * (no replication origin) are sent, which is Spock's forward_origins = '{}'.
 * Native subscriptions stream from whatever plugin their slot was created
 * with, so slots made with this plugin give a loop-free multi-master mesh.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "replication/logical.h"
#include "replication/origin.h"
#include "replication/output_plugin.h"

PG_MODULE_MAGIC;

extern PGDLLEXPORT void _PG_output_plugin_init(OutputPluginCallbacks *cb);

static bool
spock_output_filter_by_origin(LogicalDecodingContext *ctx, RepOriginId origin_id)
{
	/* true means "filter out": keep local changes only */
	return origin_id != InvalidRepOriginId;
}

void
_PG_output_plugin_init(OutputPluginCallbacks *cb)
{
	LogicalOutputPluginInit pgoutput_init;

	pgoutput_init = (LogicalOutputPluginInit)
		load_external_function("$libdir/pgoutput", "_PG_output_plugin_init",
							   true, NULL);
	pgoutput_init(cb);
	cb->filter_by_origin_cb = spock_output_filter_by_origin;
}
