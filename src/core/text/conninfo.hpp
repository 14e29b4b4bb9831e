// libpq connection strings, read by libpq itself (PQconninfoParse, both
// the key=value and the URI form): the keywords a string sets, the
// database it names, and a form of it safe to show.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace zodan {

using ConnInfo = std::vector<std::pair<std::string, std::string>>;  // keyword -> value, as set

// Throws InvalidArgument naming libpq's reason, its secrets masked.
ConnInfo parse_conninfo(const std::string &dsn);

// The value a keyword is set to, if it is.
std::optional<std::string> conninfo_value(const ConnInfo &info, const std::string &keyword);

// The string as written with every secret (password, sslpassword) shown as
// "********". Never throws, also for a string libpq cannot read.
std::string mask_dsn(const std::string &dsn);

}  // namespace zodan
