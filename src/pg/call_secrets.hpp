// The secrets of the procedure call in progress (a backend runs one at a
// time). Filled with every DSN the call is given or connects with; applied
// to every message that leaves the call. Emptied when the call ends.
#pragma once

#include "core/text/secrets.hpp"

namespace zodan::pg {

Secrets &call_secrets();

// Adds a connection string's secrets (Secrets::add_dsn).
void remember_dsn_secrets(const std::string &dsn);

}  // namespace zodan::pg
