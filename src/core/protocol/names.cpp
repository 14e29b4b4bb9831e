#include "core/protocol/names.hpp"

#include <algorithm>

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

}  // namespace

int32_t pg_hashtext(const std::string &bytes) {
    const uint32_t h =
        hash_bytes(reinterpret_cast<const unsigned char *>(bytes.data()), bytes.size());
    return static_cast<int32_t>(h);  // hashtext() returns the bits as int4
}

uint32_t spock_node_id(const std::string &node_name) {
    return static_cast<uint32_t>(pg_hashtext(node_name)) & 0xffffu;
}

std::string subscription_name(const std::string &provider_node, const std::string &subscriber_node) {
    return "sub_" + provider_node + "_" + subscriber_node;
}

std::optional<std::string> new_node_name_problem(const std::string &name, const std::vector<std::string> &existing) {
    constexpr size_t kNameMaxBytes = 63;  // NAMEDATALEN - 1: Spock's names are of type name
    if (name.empty()) return "the new node's name is empty";
    // Subscription names, which carry node names, are held to the rules of
    // replication slot names; Spock checks them only in sub_create.
    for (unsigned char ch : name)
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_'))
            return "node name \"" + name + "\" may only contain lower case letters, digits and '_' (it becomes part "
                   "of subscription names such as " + subscription_name(existing.empty() ? "n1" : existing[0], name) + ")";
    for (const std::string &other : existing)
        for (const std::string &sub : {subscription_name(other, name), subscription_name(name, other)})
            if (sub.size() > kNameMaxBytes)
                return "subscription name \"" + sub + "\" would be longer than " + std::to_string(kNameMaxBytes) +
                       " bytes";
    for (const std::string &other : existing)
        if (other != name && spock_node_id(other) == spock_node_id(name))
            return "node name \"" + name + "\" has the node id " + std::to_string(spock_node_id(name)) +
                   " of existing node \"" + other + "\" (Spock derives ids from names)";
    return std::nullopt;
}

}  // namespace zodan
