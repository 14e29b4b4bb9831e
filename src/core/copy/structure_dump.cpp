#include "core/copy/structure_dump.hpp"

#include <stdexcept>

#include "core/statements/spock_sql.hpp"
#include "core/text/secrets.hpp"

namespace zodan {

std::string literal_pattern(const std::string &name) {
    std::string out = "\"";
    for (char c : name) out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
}

namespace {

constexpr const char *kArchive = "structure.dump";

// The source's archive did not come back as a bytea should.
class MalformedArchive : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// A bytea as text results carry it: "\x" then two hex digits a byte.
std::string bytes_of_hex(const std::string &text) {
    if (text.size() < 2 || text.size() % 2 != 0 || text.compare(0, 2, "\\x") != 0)
        throw MalformedArchive("the archive is not a bytea in hex");
    auto digit = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        throw MalformedArchive("the archive is not a bytea in hex");
    };
    std::string out;
    out.reserve(text.size() / 2 - 1);
    for (size_t i = 2; i < text.size(); i += 2) out += static_cast<char>(digit(text[i]) * 16 + digit(text[i + 1]));
    return out;
}

// What a failed dump on the source leaves to the dump on N's host: what
// S refused (no library, another version, no local connection, too large),
// not a lost connection or an operator's cancel or timeout, which would
// end the local dump as well.
bool may_dump_locally_after(const RemoteError &e) {
    if (dynamic_cast<const StatementTimedOut *>(&e)) return false;
    const std::string &state = e.sqlstate();
    return state.size() == 5 && state.compare(0, 2, "08") != 0 && state.compare(0, 2, "57") != 0;
}

// The structure dumped on the source over `from` (the copy's first session
// to it, before it enters the snapshot): two round trips, whatever the
// schema. Returns the archive.
std::string dump_on_source(Runtime &rt, DumpSession &session, const CopyPoint &point,
                           const std::vector<std::string> &skip_schema, int new_node_major) {
    Connection &from = *session.conn;
    if (session.function_sent) {
        session.function_sent = false;
        from.receive();
    } else {
        from.exec(sql::create_dump_function());
    }
    const Value archive =
        from.exec(sql::dump_structure(point.snapshot, skip_schema, rt.library_version(), new_node_major)).at(0, "archive");
    if (!archive) throw MalformedArchive("the archive is NULL");
    return bytes_of_hex(*archive);
}

}  // namespace

DumpSession prepare_dump_session(Runtime &rt, ClusterView &view) {
    DumpSession session;
    session.conn = view.spare.take(rt, view.source, SessionKind::Regular);
    if (rt.structure_dump() != StructureDumpSetting::Local) {
        session.conn->send(sql::create_dump_function());
        session.function_sent = true;
    }
    return session;
}

std::string dump_source_structure(Runtime &rt, ClusterView &view, const CopyPoint &point,
                                  const std::vector<std::string> &skip_schema, int new_node_major,
                                  DumpSession &source_session, ScratchDir &scratch, CopyOutcome &outcome) {
    const StructureDumpSetting where = rt.structure_dump();
    bool dumped = false;
    if (where != StructureDumpSetting::Local) {
        std::string why;
        try {
            const std::string archive = dump_on_source(rt, source_session, point, skip_schema, new_node_major);
            scratch.write_file(kArchive, archive);
            outcome.structure_dump = "source";
            outcome.structure_bytes = static_cast<long long>(archive.size());
            dumped = true;
        } catch (const RemoteError &e) {
            if (!may_dump_locally_after(e)) throw;
            why = e.server_message();
        } catch (const MalformedArchive &e) {
            why = e.what();
        }
        why = mask_secrets_in_text(why);
        if (!dumped && where == StructureDumpSetting::Source)
            throw UserError("the structure of " + view.source.name + " could not be dumped on " + view.source.name +
                                " (zodan.structure_dump = source): " + why,
                            "",
                            "Install zodan's library of this version on " + view.source.name +
                                " and let its superuser connect to it locally without a password "
                                "(docs/operator-add.md), or set zodan.structure_dump to auto or local.");
        if (!dumped)
            rt.report(Level::Notice,
                      "the structure of " + view.source.name + " is dumped on this node, not on " + view.source.name +
                          ", at one round trip to " + view.source.name +
                          " per catalog query pg_dump reads (some eighty for a small schema): " + why,
                      "zodan.structure_dump = local dumps here without trying " + view.source.name + " first.");
    }
    if (!dumped) {
        const std::string dump = scratch.path() + "/" + kArchive;
        Program pg_dump{"dump the structure of " + view.source.name, "pg_dump",
                        {"--format=custom", "--schema-only", "--snapshot=" + point.snapshot, "--no-publications",
                         "--no-subscriptions", "--exclude-schema=spock", "--file=" + dump},
                        view.source.dsn.text(), {}};
        for (const std::string &s : skip_schema) pg_dump.args.push_back("--exclude-schema=" + literal_pattern(s));
        rt.run_program(pg_dump);
        outcome.structure_dump = "new node";
        outcome.structure_bytes = scratch.size_of(kArchive);
    }
    return scratch.path() + "/" + kArchive;
}

}  // namespace zodan
