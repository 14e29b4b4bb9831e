// The structure dump made next to the source (docs/protocol.md, "The
// structure copy across the link"): run in a backend of the source S, on
// behalf of a new node's add, this runs S's own pg_dump against S itself
// and returns the archive, so that the dump's catalog queries stay on S's
// host and only the archive crosses the link. The new node makes the
// function for its session alone (sql::create_dump_function): S needs
// zodan's library, not CREATE EXTENSION zodan.
//
// pg_dump connects to this server over its first Unix socket (127.0.0.1
// where it has none) as the caller's role, with no password: none is ever
// sent to S for this (a parameter would show in S's log). S must let its
// superuser in locally by peer, trust or a password file of S's OS user.
#include <cctype>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/copy/structure_dump.hpp"

extern "C" {
#include "postgres.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "postmaster/postmaster.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/varlena.h"
}

#include "pg/backend_runtime.hpp"
#include "pg/guard.hpp"
#include "pg/invoke.hpp"
#include "pg/statement_log.hpp"

#ifndef ZODAN_LIBRARY_VERSION
#error "ZODAN_LIBRARY_VERSION (zodan.control's default_version) is set by the Makefile"
#endif

extern "C" {
PG_FUNCTION_INFO_V1(zodan_dump_structure_v1);
}

namespace zodan::pg {

std::string BackendRuntime::library_version() { return ZODAN_LIBRARY_VERSION; }

namespace {

// The largest archive that can leave: a bytea result travels as text, two
// hex digits a byte after "\x", and no value of the server may pass
// MaxAllocSize (1 GB) in memory.
constexpr long long kMaxArchiveBytes = (static_cast<long long>(MaxAllocSize) - 3) / 2;

// A name pg_export_snapshot() gives: hex digits and dashes
// ("00000003-00000002-1"). Anything else would be an option of pg_dump.
bool is_snapshot_name(const std::string &s) {
    if (s.empty() || s.size() > 64) return false;
    for (char c : s)
        if (!(std::isxdigit(static_cast<unsigned char>(c)) || c == '-')) return false;
    return true;
}

std::string conninfo_quoted(const std::string &value) {
    std::string out = "'";
    for (char c : value) {
        if (c == '\'' || c == '\\') out += '\\';
        out += c;
    }
    return out + "'";
}

// This server, as a client on its own host reaches it: the first Unix
// socket directory (127.0.0.1 where there is none), its port, the current
// database and role. No password.
std::string this_server_conninfo() {
    return pg_call([] {
        std::string host = "127.0.0.1";
        if (Unix_socket_directories && *Unix_socket_directories) {
            char *raw = pstrdup(Unix_socket_directories);
            List *dirs = nullptr;
            if (SplitDirectoriesString(raw, ',', &dirs) && dirs != NIL)
                host = static_cast<const char *>(linitial(dirs));
        }
        const char *db = get_database_name(MyDatabaseId);
        if (!db) elog(ERROR, "the current database has no name");
        const char *user = GetUserNameFromId(GetUserId(), false);
        return "host=" + conninfo_quoted(host) + " port=" + conninfo_quoted(std::to_string(PostPortNumber)) +
               " dbname=" + conninfo_quoted(db) + " user=" + conninfo_quoted(user);
    });
}

std::vector<std::string> text_array(ArrayType *array) {
    return pg_call([array] {
        Datum *items = nullptr;
        bool *nulls = nullptr;
        int n = 0;
        deconstruct_array(array, TEXTOID, -1, false, TYPALIGN_INT, &items, &nulls, &n);
        std::vector<std::string> out;
        for (int i = 0; i < n; ++i)
            if (!nulls[i]) out.push_back(TextDatumGetCString(items[i]));
        return out;
    });
}

// The file's bytes as a bytea, or a UserError when it is too large.
bytea *read_archive(const std::string &path) {
    struct stat st;
    if (stat(path.c_str(), &st) != 0) throw UserError("cannot read the dump " + path + ": " + strerror(errno));
    const long long size = st.st_size;
    if (size > kMaxArchiveBytes)
        throw UserError("the structure dump is " + std::to_string(size) + " bytes, more than the " +
                            std::to_string(kMaxArchiveBytes) + " one result can carry",
                        "", "Set zodan.structure_dump = local on the new node: its pg_dump then reads the structure "
                            "across the link.");
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw UserError("cannot read the dump " + path + ": " + strerror(errno));
    struct Closer {
        int fd;
        ~Closer() { close(fd); }
    } closer{fd};
    bytea *out = pg_call([size] {
        bytea *b = static_cast<bytea *>(palloc(static_cast<Size>(size) + VARHDRSZ));
        SET_VARSIZE(b, static_cast<Size>(size) + VARHDRSZ);
        return b;
    });
    char *data = VARDATA(out);
    for (long long done = 0; done < size;) {
        const ssize_t n = read(fd, data + done, static_cast<size_t>(size - done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) throw UserError("cannot read the dump " + path + ": " + (n < 0 ? strerror(errno) : "it shrank"));
        done += n;
    }
    return out;
}

bytea *dump_structure(const std::string &snapshot, const std::vector<std::string> &skip_schema,
                      const std::string &caller_version, int max_server_major) {
    BackendRuntime rt(false, "dump the structure");
    if (!rt.caller_is_superuser())
        throw PermissionDenied("only a superuser may dump the structure of the source",
                               "pg_dump connects to this server as the caller's role without a password, which "
                               "only a superuser may rely on.");
    if (caller_version != ZODAN_LIBRARY_VERSION)
        throw UserError("zodan's library is version " + std::string(ZODAN_LIBRARY_VERSION) +
                            " on the source and " + caller_version + " on the new node",
                        "The source dumps the structure only for the same version.");
    const int major = PG_VERSION_NUM / 10000;
    if (major > max_server_major)
        throw UserError("the source is PostgreSQL " + std::to_string(major) + ", newer than the new node's " +
                            std::to_string(max_server_major) + ": its pg_dump writes archives the new node's "
                            "pg_restore may not read");
    if (!is_snapshot_name(snapshot))
        throw UserError("\"" + snapshot + "\" is not the name of an exported snapshot", "", "", Cause::BadArgument);
    std::unique_ptr<ScratchDir> scratch = rt.scratch_dir();
    const std::string file = scratch->path() + "/structure.dump";
    Program pg_dump{"dump the structure of the source", "pg_dump",
                    {"--format=custom", "--schema-only", "--snapshot=" + snapshot, "--no-publications",
                     "--no-subscriptions", "--exclude-schema=spock", "--file=" + file},
                    this_server_conninfo(), {}};
    for (const std::string &s : skip_schema) pg_dump.args.push_back("--exclude-schema=" + literal_pattern(s));
    try {
        rt.run_program(pg_dump);
    } catch (const UserError &e) {
        // The new node quotes the message (and DETAIL) in its NOTICE: a
        // DETAIL of pg_dump's one line would say it twice.
        const bool one_line = e.detail().find('\n') == std::string::npos &&
                              std::string(e.what()).find(e.detail()) != std::string::npos;
        if (!one_line) throw;
        throw UserError(e.what());
    }
    return read_archive(file);
}

}  // namespace

}  // namespace zodan::pg

// zodan_dump_structure_v1(snapshot text, skip_schema text[],
// library_version text, max_server_major int) RETURNS bytea, STRICT.
Datum zodan_dump_structure_v1(PG_FUNCTION_ARGS) {
    zodan::pg::begin_call();
    const char *snapshot = text_to_cstring(PG_GETARG_TEXT_PP(0));
    ArrayType *skip = PG_GETARG_ARRAYTYPE_P(1);
    const char *version = text_to_cstring(PG_GETARG_TEXT_PP(2));
    const int max_major = PG_GETARG_INT32(3);
    bytea *archive = nullptr;
    zodan::pg::run_or_raise([&] {
        archive = zodan::pg::dump_structure(snapshot, zodan::pg::text_array(skip), version, max_major);
    });
    PG_RETURN_BYTEA_P(archive);
}
