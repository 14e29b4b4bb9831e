#include "pg/call_secrets.hpp"

namespace zodan::pg {

Secrets &call_secrets() {
    static Secrets secrets;
    return secrets;
}

}  // namespace zodan::pg
