#include "core/text/lsn.hpp"

#include <cstdio>
#include <stdexcept>

namespace zodan {
namespace {

[[noreturn]] void bad_lsn(const std::string &text) {
    throw std::invalid_argument("invalid LSN \"" + text + "\": expected hex/hex such as 0/1A7D1E0");
}

int hex_value(char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

// One half of the text form: 1 to 8 hex digits, as pg_lsn_in accepts.
uint32_t read_half(const std::string &text, size_t &pos) {
    uint32_t value = 0;
    const size_t start = pos;
    for (; pos < text.size() && hex_value(text[pos]) >= 0; ++pos) {
        if (pos - start == 8) bad_lsn(text);
        value = value << 4 | static_cast<uint32_t>(hex_value(text[pos]));
    }
    if (pos == start) bad_lsn(text);
    return value;
}

}  // namespace

Lsn parse_lsn(const std::string &text) {
    size_t pos = 0;
    const uint32_t hi = read_half(text, pos);
    if (pos >= text.size() || text[pos] != '/') bad_lsn(text);
    ++pos;
    const uint32_t lo = read_half(text, pos);
    if (pos != text.size()) bad_lsn(text);
    return static_cast<Lsn>(hi) << 32 | lo;
}

std::string format_lsn(Lsn lsn) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%X/%X", static_cast<unsigned>(lsn >> 32),
                  static_cast<unsigned>(lsn & 0xffffffffu));
    return buf;
}

}  // namespace zodan
