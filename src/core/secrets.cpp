#include "core/secrets.hpp"

#include <algorithm>

#include "core/dsn.hpp"

namespace zodan {

void Secrets::add_dsn(const std::string &dsn) {
    if (std::find(dsns_.begin(), dsns_.end(), dsn) == dsns_.end()) dsns_.push_back(dsn);
}

std::string Secrets::scrub(const std::string &text) const {
    std::string out = mask_secrets_in_text(text);
    for (const std::string &dsn : dsns_) out = scrub_secrets(out, dsn);
    return out;
}

void Secrets::clear() {
    // Overwrite before letting go: the backend lives on after the call.
    for (std::string &dsn : dsns_) std::fill(dsn.begin(), dsn.end(), '\0');
    dsns_.clear();
}

}  // namespace zodan
