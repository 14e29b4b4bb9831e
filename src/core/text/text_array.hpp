// text[] values as PostgreSQL reads and prints them: lists travel as one
// query parameter of type text[]. (Names never become SQL text here: the
// server quotes them, with quote_ident() or format('%I').)
#pragma once

#include <string>
#include <vector>

namespace zodan {

// A text[] literal ('{"a","b"}' form, without the outer SQL quotes) suitable
// to pass as a query parameter of type text[].
std::string text_array_literal(const std::vector<std::string> &items);

// Parses a text[] value as PostgreSQL prints it ({a,"b c",NULL}); NULL
// elements are skipped. Throws std::invalid_argument on malformed input.
std::vector<std::string> parse_text_array(const std::string &literal);

}  // namespace zodan
