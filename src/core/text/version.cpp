#include "core/text/version.hpp"

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace zodan {
namespace {

[[noreturn]] void bad_version(const std::string &text, const char *why) {
    throw std::invalid_argument("invalid version \"" + text + "\": " + why);
}

bool is_digit(char ch) { return std::isdigit(static_cast<unsigned char>(ch)) != 0; }

// Reads one numeric component at `pos`; nine digits keep it inside int.
int read_component(const std::string &text, size_t &pos) {
    const size_t start = pos;
    while (pos < text.size() && is_digit(text[pos])) ++pos;
    if (pos == start) bad_version(text, "expected a number");
    if (pos - start > 9) bad_version(text, "number too large");
    return std::stoi(text.substr(start, pos - start));
}

}  // namespace

Version Version::parse(const std::string &text) {
    Version v;
    size_t pos = 0;
    v.parts.push_back(read_component(text, pos));
    while (pos < text.size() && text[pos] == '.') {
        ++pos;
        v.parts.push_back(read_component(text, pos));
    }
    if (v.parts.size() < 2) bad_version(text, "need at least major.minor");
    // Whatever follows the numbers ("-devel", "+build", "beta1") only labels
    // a build, so it is kept for display but not interpreted.
    if (pos < text.size()) {
        const char ch = text[pos];
        if (std::isspace(static_cast<unsigned char>(ch)))
            bad_version(text, "unexpected blank");
        v.suffix = text.substr(pos);
    }
    return v;
}

std::string Version::str() const {
    std::string out;
    for (size_t i = 0; i < parts.size(); ++i) {
        if (i) out += '.';
        out += std::to_string(parts[i]);
    }
    return out + suffix;
}

int compare(const Version &a, const Version &b) {
    const size_t n = std::max(a.parts.size(), b.parts.size());
    for (size_t i = 0; i < n; ++i) {
        const int x = i < a.parts.size() ? a.parts[i] : 0;
        const int y = i < b.parts.size() ? b.parts[i] : 0;
        if (x != y) return x < y ? -1 : 1;
    }
    return 0;
}

bool same_major_minor(const Version &a, const Version &b) {
    return a.major() == b.major() && a.minor() == b.minor();
}

}  // namespace zodan
