// Keeping secrets out of every text that leaves a call: NOTICEs, errors,
// the journal, whatever a node sends back (Spock puts a provider's DSN,
// password included, into an error's DETAIL). One path masks them all.
#pragma once

#include <string>
#include <vector>

namespace zodan {

// Masks the value of every "password=" (any case: sslpassword too) and the
// password of a URI in free text; the words around them stay as they are.
std::string mask_secrets_in_text(const std::string &text);

// Masks the secrets inside every quoted piece of SQL text, read as
// PostgreSQL's lexer reads it: string literals ('...' with '' for a quote,
// E'...' with backslash escapes), dollar-quoted bodies (themselves read as
// SQL), quoted identifiers and comments. Such as a logged CALL
// spock.add_node('n1', 'host=... password=...') or its "parameters: $1 =
// '...'" detail. The statement's own code, outside them, stays as it is,
// quotes included. Safe for any text: a piece left open runs to the end.
std::string mask_secrets_in_sql(const std::string &sql);

// False when `text` surely holds nothing mask_secrets_in_text would mask (no
// "password", no "postgres"): a quick test that needs no memory. Never throws.
bool may_hold_secrets(const char *text);

// Every secret one call has seen.
class Secrets {
public:
    // Remembers the secrets of a connection string: as libpq reads them,
    // and as they are spelled in it.
    void add_dsn(const std::string &dsn);
    void add_secret(const std::string &value);
    // `text` with every remembered secret, and any password in free text
    // (DSNs of nodes never connected to), masked.
    std::string scrub(const std::string &text) const;
    // `text` with every remembered secret masked, and nothing else changed.
    std::string replace_known(const std::string &text) const;
    bool empty() const { return values_.empty(); }
    void clear();

private:
    std::vector<std::string> values_;
};

}  // namespace zodan
