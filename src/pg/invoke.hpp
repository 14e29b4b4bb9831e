// The crossing from PostgreSQL into C++: run C++ code, catch whatever it
// throws, and hand back a plain C description of the error so the caller can
// ereport(ERROR) after every C++ frame is gone.
#pragma once

#include <utility>

#include "pg/statement_log.hpp"

namespace zodan::pg {

// Plain data only (C strings in static storage, see invoke.cpp), since ereport will longjmp over the
// frame that holds it.
struct ErrorReport {
    int sqlerrcode;
    const char *message;
    const char *detail;
    const char *hint;
};

// Runs fn(); returns true and fills `report` when it threw.
template <typename Fn>
bool invoke_cpp(ErrorReport &report, Fn &&fn);

// Raises `report` as a PostgreSQL ERROR. Call only from C-facing code with
// no C++ object alive in its frame.
[[noreturn]] void raise_error(const ErrorReport &report);

// Fills `report` from the exception in flight (call inside a catch handler).
void describe_current_exception(ErrorReport &report);

// The usual shape of an entry point's body: run fn, and raise what it threw
// as an ERROR once its frames are gone (this frame holds only plain data).
// The entry point marks the call in progress first (begin_call in
// statement_log.hpp); this ends the mark once the work has succeeded.
template <typename Fn>
void run_or_raise(Fn &&fn) {
    ErrorReport report;
    if (invoke_cpp(report, std::forward<Fn>(fn))) raise_error(report);
    end_call();
}

// Forgets the call's secrets (see call_secrets.hpp).
void forget_call_secrets();

template <typename Fn>
bool invoke_cpp(ErrorReport &report, Fn &&fn) {
    try {
        forget_call_secrets();
        fn();
        forget_call_secrets();
        return false;
    } catch (...) {
        describe_current_exception(report);  // masks with the call's secrets, then forgets them
        return true;
    }
}

}  // namespace zodan::pg
