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

// Every text that leaves the call is masked with all the secrets it has seen.
const char *keep(const std::string &s) {
    return s.empty() ? nullptr : pstrdup(call_secrets().scrub(s).c_str());
}

// SQLSTATE text ("08006") to PostgreSQL's packed form.
int packed_sqlstate(const std::string &state) {
    if (state.size() != 5) return 0;
    return MAKE_SQLSTATE(state[0], state[1], state[2], state[3], state[4]);
}

void spare_from_spock_log_filter(ErrorReport &report) {
    // Spock's emit_log_hook overwrites everything after the word "password"
    // in an ERROR's message with 'X' (its guard against leaked DSNs). Ours
    // are masked already; so that they stay readable, the message stops
    // before the word and DETAIL, which the filter leaves alone, has it all.
    if (!report.message) return;
    const std::string message = report.message;
    std::string lower = message;
    for (char &c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const size_t at = lower.find("password");
    if (at == std::string::npos) return;
    std::string detail = message;
    if (report.detail) detail += std::string("\n") + report.detail;
    report.message = keep(message.substr(0, at) + "... (see DETAIL)");
    report.detail = keep(detail);
}

}  // namespace

void describe_current_exception(ErrorReport &report) {
    report = {ERRCODE_INTERNAL_ERROR, nullptr, nullptr, nullptr};
    try {
        throw;
    } catch (const PgError &e) {
        // Raised again unchanged: a cancel stays a cancel, a timeout a timeout.
        report = {e.sqlerrcode(), keep(e.what()), keep(e.detail()), keep(e.hint())};
    } catch (const RemoteError &e) {
        int code = packed_sqlstate(e.sqlstate());
        report = {code ? code : ERRCODE_CONNECTION_FAILURE, keep(e.what()), keep(e.detail()), keep(e.hint())};
    } catch (const UserError &e) {
        report = {ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE, keep(e.what()), keep(e.detail()), keep(e.hint())};
    } catch (const std::invalid_argument &e) {
        report = {ERRCODE_INVALID_PARAMETER_VALUE, keep(e.what()), nullptr, nullptr};
    } catch (const std::exception &e) {
        report.message = keep(std::string("internal error: ") + e.what());
    } catch (...) {
        report.message = "internal error: unknown exception";
    }
    spare_from_spock_log_filter(report);
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
