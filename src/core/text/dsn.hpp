// libpq connection strings: parsing, the dbname they name, and masking of
// secrets for anything a person may read (NOTICEs, errors, logs).
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace zodan {

// One parsed connection string. Both libpq forms are accepted:
// "key=value key2='quoted value'" and "postgresql://user:pw@host:port/db?k=v".
class Dsn {
public:
    // Throws std::invalid_argument with a message naming the problem
    // (unterminated quote, missing '=', bad URI, ...). Never echoes a password.
    static Dsn parse(const std::string &text);

    // Value of a keyword, if present (URI parts map to host, port, user,
    // password, dbname; query parameters to their own keywords).
    std::optional<std::string> get(const std::string &key) const;
    std::optional<std::string> dbname() const { return get("dbname"); }
    const std::vector<std::pair<std::string, std::string>> &params() const { return params_; }

    // key=value form with the password (and any other secret keyword:
    // password, sslpassword) replaced by "********".
    std::string masked() const;

private:
    std::vector<std::pair<std::string, std::string>> params_;
};

// Masks the secrets of a connection string for display. Never throws: text
// that does not parse is masked conservatively (everything after
// "password" up to the next blank, or the userinfo of a URI).
std::string mask_dsn(const std::string &text);

// Masks the value of every "password=" (any case: sslpassword too) and the
// password of a URI in free text; the words around them stay as they are.
std::string mask_secrets_in_text(const std::string &text);

// Masks the secrets inside every string literal of SQL text ('...', with ''
// for a quote), such as a logged CALL spock.add_node('n1', 'host=...
// password=...') or its "parameters: $1 = '...'" detail; the rest of the
// text stays as it is, quotes included.
std::string mask_secrets_in_sql(const std::string &sql);

// Replaces every occurrence of `dsn`'s password inside `message` with
// "********" (libpq error texts may echo parts of a connection string).
std::string scrub_secrets(const std::string &message, const std::string &dsn);

}  // namespace zodan
