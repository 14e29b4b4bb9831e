#include "core/text/secrets.hpp"

#include <algorithm>

#include "core/text/dsn.hpp"

namespace zodan {

void Secrets::add_dsn(const std::string &dsn) {
    if (std::find(dsns_.begin(), dsns_.end(), dsn) == dsns_.end()) dsns_.push_back(dsn);
}

void Secrets::add_secret(const std::string &value) {
    if (!value.empty() && std::find(values_.begin(), values_.end(), value) == values_.end()) values_.push_back(value);
}

std::string Secrets::scrub(const std::string &text) const {
    std::string out = mask_secrets_in_text(text);
    for (const std::string &dsn : dsns_) out = scrub_secrets(out, dsn);
    // Longest first, so that a secret containing another is replaced whole.
    std::vector<std::string> values = values_;
    std::sort(values.begin(), values.end(), [](const std::string &a, const std::string &b) { return a.size() > b.size(); });
    for (const std::string &v : values)
        for (size_t at = out.find(v); at != std::string::npos; at = out.find(v, at + 8)) out.replace(at, v.size(), "********");
    return out;
}

void Secrets::clear() {
    // Overwrite before letting go: the backend lives on after the call.
    for (std::string &dsn : dsns_) std::fill(dsn.begin(), dsn.end(), '\0');
    for (std::string &v : values_) std::fill(v.begin(), v.end(), '\0');
    dsns_.clear();
    values_.clear();
}

}  // namespace zodan
