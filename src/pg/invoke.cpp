#include <cctype>
#include <exception>
#include <string>

#include "core/remote.hpp"

extern "C" {
#include "postgres.h"
#include "utils/elog.h"
}

#include "pg/call_secrets.hpp"
#include "pg/guard.hpp"
#include "pg/invoke.hpp"

namespace zodan::pg {

namespace {

// The texts of the error being raised live here, in static storage, not in
// a frame: raise_error's longjmp leaves nothing to destroy, and no palloc
// (which may itself raise) runs while C++ objects are alive.
struct RaisedTexts {
    std::string message, detail, hint;
};
RaisedTexts &raised() {
    static RaisedTexts texts;
    return texts;
}

const char *or_null(const std::string &s) { return s.empty() ? nullptr : s.c_str(); }

// SQLSTATE text ("08006") to PostgreSQL's packed form; internal_error for
// anything that is not five characters of 0-9 and A-Z.
int packed_sqlstate(const std::string &state) {
    if (state.size() != 5) return ERRCODE_INTERNAL_ERROR;
    for (char c : state)
        if (!std::isdigit(static_cast<unsigned char>(c)) && !std::isupper(static_cast<unsigned char>(c)))
            return ERRCODE_INTERNAL_ERROR;
    return MAKE_SQLSTATE(state[0], state[1], state[2], state[3], state[4]);
}

// Spock's emit_log_hook overwrites everything after the word "password" in
// an ERROR's message with 'X' (its guard against leaked DSNs). Ours are
// masked already; so that they stay readable, the message stops before the
// word and DETAIL, which the filter leaves alone, has it all.
void spare_from_spock_log_filter(RaisedTexts &t) {
    std::string lower = t.message;
    for (char &c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const size_t at = lower.find("password");
    if (at == std::string::npos) return;
    std::string detail = t.message + (t.detail.empty() ? "" : "\n" + t.detail);
    t.message = t.message.substr(0, at) + "... (see DETAIL)";
    t.detail = std::move(detail);
}

int describe(RaisedTexts &t) {
    // Every text that leaves the call is masked with all the secrets it has seen.
    const Secrets &secrets = call_secrets();
    auto set = [&](const std::string &m, const std::string &d, const std::string &h) {
        t.message = secrets.scrub(m);
        t.detail = secrets.scrub(d);
        t.hint = secrets.scrub(h);
    };
    try {
        throw;
    } catch (const PgError &e) {
        // Raised again unchanged: a cancel stays a cancel, a timeout a timeout.
        set(e.what(), e.detail(), e.hint());
        return e.sqlerrcode();
    } catch (const RemoteError &e) {
        // The SQLSTATE by cause (sqlstate_for; docs/errors.md): a remote
        // node's own, a timeout's, a lost node's.
        set(e.what(), e.detail(), e.hint());
        return packed_sqlstate(sqlstate_for(e));
    } catch (const UserError &e) {
        set(e.what(), e.detail(), e.hint());
        return packed_sqlstate(sqlstate_for(e));
    } catch (const InvalidArgument &e) {
        set(e.what(), "", "");
        return packed_sqlstate(sqlstate_for(e));
    } catch (const std::logic_error &e) {
        // std::invalid_argument and std::out_of_range from reading a reply
        // (std::stoll, a missing column): the node said something unexpected.
        set(std::string("internal error: unexpected reply: ") + e.what(), "", "");
    } catch (const std::exception &e) {
        set(std::string("internal error: ") + e.what(), "", "");
    } catch (...) {
        set("internal error: unknown exception", "", "");
    }
    return ERRCODE_INTERNAL_ERROR;
}

}  // namespace

void describe_current_exception(ErrorReport &report) {
    RaisedTexts &t = raised();
    int code = ERRCODE_INTERNAL_ERROR;
    try {
        code = describe(t);
        spare_from_spock_log_filter(t);
    } catch (...) {
        // Out of memory while describing: say so in words that need none.
        t.message.clear();
        t.detail.clear();
        t.hint.clear();
        code = ERRCODE_OUT_OF_MEMORY;
    }
    report = {code, t.message.empty() ? "out of memory while reporting an error" : t.message.c_str(),
              or_null(t.detail), or_null(t.hint)};
    forget_call_secrets();
}

void forget_call_secrets() { call_secrets().clear(); }

void raise_error(const ErrorReport &report) {
    ereport(ERROR, (errcode(report.sqlerrcode), errmsg_internal("%s", report.message ? report.message : "error"),
                    report.detail ? errdetail_internal("%s", report.detail) : 0,
                    report.hint ? errhint("%s", report.hint) : 0));
    pg_unreachable();
}

}  // namespace zodan::pg
