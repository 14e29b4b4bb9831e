// Every secret one call of a procedure has seen, so that none of them
// leaves it: not in a NOTICE, an ERROR, the journal, whatever node's text
// carries it (Spock puts a provider's DSN, password included, into an
// error's DETAIL).
#pragma once

#include <string>
#include <vector>

namespace zodan {

class Secrets {
public:
    // Remembers the passwords of a connection string (as given and as
    // libpq would read them).
    void add_dsn(const std::string &dsn);
    // Remembers one secret value as the authority (libpq) read it.
    void add_secret(const std::string &value);
    // `text` with every remembered secret, and the value of every
    // "password=" in it (DSNs of nodes never connected to), masked.
    std::string scrub(const std::string &text) const;
    void clear();

private:
    std::vector<std::string> dsns_;
    std::vector<std::string> values_;
};

}  // namespace zodan
