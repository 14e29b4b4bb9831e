#include <climits>
#include <cstring>
#include <string>

extern "C" {
#include "postgres.h"
#include "utils/guc.h"
#include "utils/guc_tables.h"
}

#include "pg/backend_runtime.hpp"
#include "pg/guard.hpp"

namespace zodan::pg {

int guc_sync_timeout_ms = 10 * 60 * 1000;
int guc_connect_timeout_ms = 30 * 1000;
int guc_progress_interval_ms = 5 * 1000;
#ifdef ZODAN_TEST_HOOKS
char *guc_fail_at_step = nullptr;
char *guc_pause_at_step = nullptr;
bool guc_skip_fence = false;
#endif
int guc_copy_streams = 0;
int guc_verify_data = kVerifyAuto;
int guc_copy_method = kCopyAuto;
int guc_structure_dump = kDumpAuto;

namespace {
// A boolean before 0.4.0: its spellings still mean on and off (hidden, as
// PostgreSQL's own synchronous_commit keeps them).
const struct config_enum_entry kVerifyData[] = {
    {"auto", kVerifyAuto, false}, {"on", kVerifyOn, false},  {"off", kVerifyOff, false},
    {"true", kVerifyOn, true},    {"false", kVerifyOff, true}, {"yes", kVerifyOn, true},
    {"no", kVerifyOff, true},     {"1", kVerifyOn, true},      {"0", kVerifyOff, true},
    {nullptr, 0, false}};
const struct config_enum_entry kCopyMethods[] = {
    {"auto", kCopyAuto, false}, {"logical", kCopyLogical, false}, {"physical", kCopyPhysical, false}, {nullptr, 0, false}};
const struct config_enum_entry kStructureDumps[] = {
    {"auto", kDumpAuto, false}, {"local", kDumpLocal, false}, {"source", kDumpSource, false}, {nullptr, 0, false}};
}

void define_gucs() {
    DefineCustomIntVariable("zodan.sync_timeout",
                            "Upper bound of every wait of spock.add_node and spock.remove_node.",
                            "Each wait for a remote node (replication catching up, a copy finishing, a "
                            "subscription starting) fails with an error after this long.",
                            &guc_sync_timeout_ms, 10 * 60 * 1000, 100, INT_MAX, PGC_USERSET, GUC_UNIT_MS, nullptr,
                            nullptr, nullptr);
    DefineCustomIntVariable("zodan.connect_timeout", "Upper bound of each connection attempt to a node.", nullptr,
                            &guc_connect_timeout_ms, 30 * 1000, 100, INT_MAX, PGC_USERSET, GUC_UNIT_MS, nullptr,
                            nullptr, nullptr);
    DefineCustomIntVariable("zodan.progress_interval",
                            "How often spock.add_node reports the progress of its initial copy; 0 turns it off.",
                            "A copy shorter than this reports nothing.", &guc_progress_interval_ms, 5 * 1000, 0,
                            INT_MAX, PGC_USERSET, GUC_UNIT_MS, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("zodan.copy_streams",
                            "How many tables spock.add_node copies from the source at once; 0: one per CPU of "
                            "the new node, at most 4.",
                            "Each stream is a pair of sessions, one on the source and one on the new node; the "
                            "largest tables go first, and a very large table is split across streams.",
                            &guc_copy_streams, 0, 0, 64, PGC_USERSET, 0, nullptr, nullptr, nullptr);
    DefineCustomEnumVariable("zodan.verify_data",
                             "Whether spock.add_node compares the new node with the source, table by table, "
                             "after the join: auto, on or off.",
                             "auto: after a logical copy, not after a physical one (the source's WAL replayed). "
                             "Hashes over primary-key ranges; ranges that differ are compared again after a round "
                             "of sync events, and what still differs fails the add.",
                             &guc_verify_data, kVerifyAuto, kVerifyData, PGC_USERSET, 0, nullptr, nullptr, nullptr);
    DefineCustomEnumVariable("zodan.copy_method",
                             "How spock.add_node gives the new node the source's data: auto, logical or physical.",
                             "logical: the product's own copy into an empty primary; physical: the new node is a "
                             "hot standby of the source, promoted at a fence (docs/physical.md); auto: physical "
                             "when the new node is in recovery, logical otherwise.",
                             &guc_copy_method, kCopyAuto, kCopyMethods, PGC_USERSET, 0, nullptr, nullptr, nullptr);
    DefineCustomEnumVariable("zodan.structure_dump",
                             "Where spock.add_node dumps the source's structure for its copy: auto, local or source.",
                             "source: on the source, by zodan's library there, in one round trip; local: on the new "
                             "node's host, one round trip to the source per catalog query pg_dump makes; auto: on "
                             "the source where it can, else locally with a NOTICE saying why.",
                             &guc_structure_dump, kDumpAuto, kStructureDumps, PGC_USERSET, 0, nullptr, nullptr,
                             nullptr);
#ifdef ZODAN_TEST_HOOKS
    // The test hooks, only in a test build (Makefile: ZODAN_TEST_HOOKS=1):
    // a shipped library has no setting that makes a join fail or stop.
    // Raise an error when spock.add_node reaches the named step.
    DefineCustomStringVariable("zodan.fail_at_step", "Test only: make spock.add_node fail at this step (\"step\" or \"step:after\").", nullptr,
                               &guc_fail_at_step, "", PGC_SUSET, GUC_NOT_IN_SAMPLE, nullptr, nullptr, nullptr);
    // Make spock.add_node wait at the named step while another
    // session holds the advisory lock hashtext('zodan.pause') on the new node.
    DefineCustomStringVariable("zodan.pause_at_step",
                               "Test only: make spock.add_node wait at this step while the advisory lock "
                               "hashtext('zodan.pause') is held on the new node.",
                               nullptr,
                               &guc_pause_at_step, "", PGC_SUSET, GUC_NOT_IN_SAMPLE, nullptr, nullptr, nullptr);
    // Promote a standby without the fence: only the negative control of
    // regress/t/088 uses it, to show the theft the fence prevents.
    DefineCustomBoolVariable("zodan.skip_fence",
                             "Test only: make a physical spock.add_node promote the standby without its fence.",
                             nullptr, &guc_skip_fence, false, PGC_SUSET, GUC_NOT_IN_SAMPLE, nullptr, nullptr, nullptr);
#endif
    MarkGUCPrefixReserved("zodan");
}

namespace {

// Where zodan.sync_timeout's value comes from: PGC_S_DEFAULT when nobody
// set it. PostgreSQL 15 exports no lookup by name, only the array.
GucSource sync_timeout_source() {
#if PG_VERSION_NUM >= 160000
    return find_option("zodan.sync_timeout", false, true, ERROR)->source;
#else
    struct config_generic **all = get_guc_variables();
    for (int i = 0, n = GetNumConfigOptions(); i < n; ++i)
        if (strcmp(all[i]->name, "zodan.sync_timeout") == 0) return all[i]->source;
    elog(ERROR, "zodan.sync_timeout is not defined");
    return PGC_S_DEFAULT;
#endif
}

}  // namespace

int effective_sync_timeout_ms() {
    const bool explicit_zodan = pg_call([] { return sync_timeout_source() > PGC_S_DEFAULT; });
    if (explicit_zodan) return guc_sync_timeout_ms;
    // Spock 6 defines it (seconds, 0 = each routine's own limit); under
    // Spock 5 a SET of it makes a placeholder holding the text as given.
    // The text lives only until the next lookup: copied at once.
    const char *raw = pg_call([] { return GetConfigOption("spock.sync_timeout", true, false); });
    if (!raw || !*raw) return guc_sync_timeout_ms;
    const std::string spock = raw;
    int seconds = 0;
    const bool parsed = pg_call([&] { return parse_int(spock.c_str(), &seconds, GUC_UNIT_S, nullptr); });
    if (!parsed)
        throw UserError("spock.sync_timeout is \"" + spock + "\", which is not a duration",
                        "spock.add_node, spock.remove_node and spock.health_check bound their waits by it when "
                        "zodan.sync_timeout is not set.",
                        "Set it to a number of seconds or a duration with a unit (SET spock.sync_timeout = '2h'), "
                        "or set zodan.sync_timeout, which takes precedence.",
                        Cause::BadArgument);
    if (seconds <= 0) return guc_sync_timeout_ms;
    return seconds >= INT_MAX / 1000 ? INT_MAX : seconds * 1000;
}

zodan::StructureDumpSetting BackendRuntime::structure_dump() {
    return guc_structure_dump == kDumpLocal    ? zodan::StructureDumpSetting::Local
           : guc_structure_dump == kDumpSource ? zodan::StructureDumpSetting::Source
                                               : zodan::StructureDumpSetting::Auto;
}

}  // namespace zodan::pg
