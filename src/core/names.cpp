#include "core/names.hpp"

#include <algorithm>
#include <cstdio>

namespace zodan {
namespace {

// PostgreSQL's hash_bytes() (common/hashfn.c) is Bob Jenkins' lookup3
// hash. Node ids and slot names must agree bit for bit with what every
// server computes, so the constants, rotations and tail handling below
// follow that algorithm exactly (little-endian byte order, as on every
// platform we ship to).

constexpr uint32_t rotl(uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }

void mix(uint32_t &a, uint32_t &b, uint32_t &c) {
    a -= c; a ^= rotl(c, 4);  c += b;
    b -= a; b ^= rotl(a, 6);  a += c;
    c -= b; c ^= rotl(b, 8);  b += a;
    a -= c; a ^= rotl(c, 16); c += b;
    b -= a; b ^= rotl(a, 19); a += c;
    c -= b; c ^= rotl(b, 4);  b += a;
}

void final_mix(uint32_t &a, uint32_t &b, uint32_t &c) {
    c ^= b; c -= rotl(b, 14);
    a ^= c; a -= rotl(c, 11);
    b ^= a; b -= rotl(a, 25);
    c ^= b; c -= rotl(b, 16);
    a ^= c; a -= rotl(c, 4);
    b ^= a; b -= rotl(a, 14);
    c ^= b; c -= rotl(b, 24);
}

// Bytes must be read unsigned: names with non-ASCII characters would hash
// differently if a plain (signed) char were sign-extended.
uint32_t le_word(const unsigned char *k) {
    return uint32_t(k[0]) | uint32_t(k[1]) << 8 | uint32_t(k[2]) << 16 | uint32_t(k[3]) << 24;
}

// The 0..11 trailing bytes: PostgreSQL keeps the lowest byte of c free
// (lookup3 reserved it for the length), so c's bytes start at bit 8.
void add_tail(const unsigned char *k, size_t len, uint32_t &a, uint32_t &b, uint32_t &c) {
    for (size_t i = 0; i < len; ++i) {
        const uint32_t byte = k[i];
        if (i < 4)
            a += byte << (8 * i);
        else if (i < 8)
            b += byte << (8 * (i - 4));
        else
            c += byte << (8 * (i - 8 + 1));
    }
}

uint32_t hash_bytes(const unsigned char *k, size_t len) {
    uint32_t a = 0x9e3779b9u + uint32_t(len) + 3923095u;
    uint32_t b = a;
    uint32_t c = a;
    for (; len >= 12; len -= 12, k += 12) {
        a += le_word(k);
        b += le_word(k + 4);
        c += le_word(k + 8);
        mix(a, b, c);
    }
    add_tail(k, len, a, b, c);
    final_mix(a, b, c);
    return c;
}

// Length of the UTF-8 sequence that starts with `lead`; 1 for bytes that
// cannot start one, so malformed input still advances byte by byte.
size_t utf8_seq_len(unsigned char lead) {
    if (lead >= 0xF0 && lead <= 0xF7) return 4;
    if (lead >= 0xE0) return lead <= 0xEF ? 3 : 1;
    if (lead >= 0xC0) return 2;
    return 1;
}

// Byte length of the first `chars` characters, as PostgreSQL's left()
// counts characters, not bytes, in a UTF-8 database.
size_t utf8_prefix_bytes(const std::string &s, size_t chars) {
    size_t pos = 0;
    for (size_t n = 0; n < chars && pos < s.size(); ++n)
        pos += utf8_seq_len(static_cast<unsigned char>(s[pos]));
    return pos < s.size() ? pos : s.size();
}

// Arguments of spock_gen_slot_name are of type `name`, which silently
// clips to NAMEDATALEN-1 bytes without splitting a character; the hash is
// taken over what is left.
constexpr size_t kNameMaxBytes = 63;

std::string as_pg_name(const std::string &s) {
    if (s.size() <= kNameMaxBytes) return s;
    size_t pos = 0;
    while (pos < s.size()) {
        const size_t next = pos + utf8_seq_len(static_cast<unsigned char>(s[pos]));
        if (next > kNameMaxBytes) break;
        pos = next;
    }
    return s.substr(0, pos);
}

// s(x) of spock-api.md: long parts keep 8 characters of their text and 7
// hex digits of their hash, so slot names stay unique and under 64 bytes.
std::string shorten(const std::string &part) {
    constexpr size_t kMaxBytes = 16;
    if (part.size() <= kMaxBytes) return part;
    char hex[9];
    std::snprintf(hex, sizeof hex, "%08x", static_cast<unsigned>(pg_hashtext(part)));
    return part.substr(0, utf8_prefix_bytes(part, 8)) + std::string(hex, 7);
}

bool slot_char_ok(unsigned char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_';
}

// One '_' per character (not per byte) outside [a-z0-9_], per the rule.
std::string sanitize_slot_chars(const std::string &s) {
    std::string out;
    out.reserve(s.size());
    for (size_t pos = 0; pos < s.size();) {
        const auto ch = static_cast<unsigned char>(s[pos]);
        const size_t len = std::min(utf8_seq_len(ch), s.size() - pos);
        out += (len == 1 && slot_char_ok(ch)) ? static_cast<char>(ch) : '_';
        pos += len;
    }
    return out;
}

}  // namespace

int32_t pg_hashtext(const std::string &bytes) {
    const uint32_t h =
        hash_bytes(reinterpret_cast<const unsigned char *>(bytes.data()), bytes.size());
    return static_cast<int32_t>(h);  // hashtext() returns the bits as int4
}

uint32_t spock_node_id(const std::string &node_name) {
    return static_cast<uint32_t>(pg_hashtext(node_name)) & 0xffffu;
}

std::string spock_slot_name(const std::string &dbname, const std::string &provider_node,
                            const std::string &subscription) {
    const std::string raw = "spk_" + shorten(as_pg_name(dbname)) + "_" +
                            shorten(as_pg_name(provider_node)) + "_" +
                            shorten(as_pg_name(subscription));
    std::string name = sanitize_slot_chars(raw);
    if (name.size() > kNameMaxBytes) name.resize(kNameMaxBytes);
    return name;
}

std::string subscription_name(const std::string &provider_node, const std::string &subscriber_node) {
    return "sub_" + provider_node + "_" + subscriber_node;
}

}  // namespace zodan
