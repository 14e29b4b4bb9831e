// Quoting for the few places where a name must become part of SQL text
// (values always travel as query parameters instead).
#pragma once

#include <string>
#include <vector>

namespace zodan {

// PostgreSQL's quote_ident(): bare when all lower-case letters, digits and
// underscores, not starting with a digit and not a reserved keyword;
// otherwise double-quoted with embedded quotes doubled.
std::string quote_ident(const std::string &ident);

// A text[] literal ('{"a","b"}' form, without the outer SQL quotes) suitable
// to pass as a query parameter of type text[].
std::string text_array_literal(const std::vector<std::string> &items);

// Parses a text[] value as PostgreSQL prints it ({a,"b c",NULL}); NULL
// elements are skipped. Throws std::invalid_argument on malformed input.
std::vector<std::string> parse_text_array(const std::string &literal);

}  // namespace zodan
