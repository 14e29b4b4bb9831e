// What libpq says, shaped for the operator: one line, and the reason a
// connection failed without the address noise around it.
#pragma once

#include <string>

namespace zodan {

// libpq messages end with a newline and may span lines: one clean line.
std::string one_line(const char *text);

// 'connection to server at "h" (addr), port p failed: FATAL:  why' -> 'why'.
// "password authentication failed for user" becomes "authentication failed
// for user": Spock's log filter blanks an ERROR message after the word
// "password" (pg/invoke.cpp); DETAIL keeps libpq's own words.
std::string connection_failure_reason(const std::string &message);

}  // namespace zodan
