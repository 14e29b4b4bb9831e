// pg_lsn values as 64-bit integers, and their "X/Y" text form.
#pragma once

#include <cstdint>
#include <string>

namespace zodan {

using Lsn = uint64_t;

// Throws std::invalid_argument naming the text when it is not "hex/hex".
Lsn parse_lsn(const std::string &text);
std::string format_lsn(Lsn lsn);  // upper-case hex, like PostgreSQL: "0/1A7D1E0"

}  // namespace zodan
