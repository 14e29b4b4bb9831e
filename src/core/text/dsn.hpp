// A node's connection string as the product keeps it: read once, by libpq
// itself (PQconninfoParse), when the node is first met; after that its
// database, its keywords and its masked form are values, not parses.
#pragma once

#include <optional>
#include <string>

#include "core/text/conninfo.hpp"

namespace zodan {

class Dsn {
public:
    Dsn() = default;
    // Reads `text`, the connection string `role` (an argument's name, or
    // "the DSN listed for it") gives for node `node`. Throws UserError when
    // libpq cannot read it or it names no database (slot names and the
    // database copied depend on it), its secrets masked.
    static Dsn parse(const std::string &node, const std::string &text, const std::string &role);

    // The string as given: for libpq alone, never shown.
    const std::string &text() const { return text_; }
    // The string as given, its secrets shown as "********".
    const std::string &masked() const { return masked_; }
    const std::string &dbname() const { return dbname_; }
    std::optional<std::string> value(const std::string &keyword) const { return conninfo_value(info_, keyword); }
    bool empty() const { return text_.empty(); }

private:
    std::string text_, masked_, dbname_;
    ConnInfo info_;
};

}  // namespace zodan
