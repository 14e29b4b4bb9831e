// The two crossings between C++ and PostgreSQL's error handling.
//
// PostgreSQL reports errors with longjmp, C++ with exceptions, and neither
// may pass through the other's frames:
//  - pg_call() runs a piece of PostgreSQL code; an ereport(ERROR) inside it
//    is caught right there and rethrown as a C++ PgError, so it unwinds our
//    frames (and their destructors) normally.
//  - invoke_cpp() is the only way from an extern "C" entry point into C++;
//    it catches every exception and, once all C++ frames are gone, turns it
//    into ereport(ERROR) (see zodan.cpp).
//  - cpp_noexcept() runs C++ code where nothing may be raised at all: in a
//    hook called from inside error reporting (statement_log.cpp).
// Include this after the PostgreSQL headers (postgres.h first).
#pragma once

#include <exception>
#include <stdexcept>
#include <type_traits>
#include <string>
#include <utility>

namespace zodan::pg {

// A PostgreSQL error caught by pg_call, kept with everything needed to
// raise it again unchanged (cancels stay cancels, timeouts stay timeouts).
class PgError : public std::runtime_error {
public:
    PgError(int sqlerrcode, std::string message, std::string detail, std::string hint)
        : std::runtime_error(std::move(message)), sqlerrcode_(sqlerrcode), detail_(std::move(detail)),
          hint_(std::move(hint)) {}
    int sqlerrcode() const { return sqlerrcode_; }
    const std::string &detail() const { return detail_; }
    const std::string &hint() const { return hint_; }

private:
    int sqlerrcode_;
    std::string detail_, hint_;
};

// Captures the current PostgreSQL error as a PgError and clears it. Only
// called from the PG_CATCH block of pg_call.
PgError take_pg_error(MemoryContext ctx);

// Runs `fn` (which may ereport) and returns its result; a PostgreSQL error
// becomes a PgError thrown after the PG_TRY block has been left, so the
// longjmp never crosses a C++ frame.
template <typename Fn>
auto pg_call(Fn &&fn) -> decltype(fn()) {
    if constexpr (std::is_void_v<decltype(fn())>) {
        pg_call([&] {
            fn();
            return true;
        });
    } else {
        MemoryContext ctx = CurrentMemoryContext;
        bool failed = false;
        PgError error(0, "", "", "");
        // A C++ exception must not leave the PG_TRY block either: it would leave
        // PostgreSQL's exception stack pointing into a dead frame.
        std::exception_ptr cpp_error;
        decltype(fn()) result{};
        PG_TRY();
        {
            try {
                result = fn();
            } catch (...) {
                cpp_error = std::current_exception();
            }
        }
        PG_CATCH();
        {
            error = take_pg_error(ctx);
            failed = true;
        }
        PG_END_TRY();
        if (cpp_error) std::rethrow_exception(cpp_error);
        if (failed) throw error;
        return result;
    }
}

// Runs `fn` (C++ only: nothing in it may ereport) and returns its result,
// or `fallback` when it threw.
template <typename Fn, typename T>
T cpp_noexcept(Fn &&fn, T fallback) noexcept {
    try {
        return fn();
    } catch (...) {
        return fallback;
    }
}

// CHECK_FOR_INTERRUPTS through the guard: a cancel, a statement_timeout or a
// terminate becomes a PgError.
void check_for_interrupts();

}  // namespace zodan::pg
