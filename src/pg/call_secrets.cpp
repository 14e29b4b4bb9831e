#include "pg/call_secrets.hpp"


namespace zodan::pg {

Secrets &call_secrets() {
    static Secrets secrets;
    return secrets;
}

void remember_dsn_secrets(const std::string &dsn) { call_secrets().add_dsn(dsn); }

}  // namespace zodan::pg
