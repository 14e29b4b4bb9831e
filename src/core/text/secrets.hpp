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

// Masks the secrets inside every string literal of SQL text ('...', with ''
// for a quote), such as a logged CALL spock.add_node('n1', 'host=...
// password=...') or its "parameters: $1 = '...'" detail; the rest of the
// text stays as it is, quotes included.
std::string mask_secrets_in_sql(const std::string &sql);

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
    void clear();

private:
    std::vector<std::string> values_;
};

}  // namespace zodan
