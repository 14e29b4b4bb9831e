#include "core/protocol/verify_ranges.hpp"

#include <algorithm>
#include <set>

namespace zodan {

int range_count(long long rows) {
    int n = 1;
    while (n < 1024 && static_cast<long long>(n) * 2000 < rows) n *= 2;
    return n;
}

std::vector<int> differing_ranges(const std::map<int, RangeSum> &source, const std::map<int, RangeSum> &target) {
    std::set<int> all;
    for (const auto &[r, s] : source) all.insert(r);
    for (const auto &[r, s] : target) all.insert(r);
    std::vector<int> out;
    for (int r : all) {
        auto a = source.find(r), b = target.find(r);
        if (a == source.end() || b == target.end() || !(a->second == b->second)) out.push_back(r);
    }
    return out;
}

std::vector<KeyDifference> differing_keys(const std::vector<KeyedRow> &source, const std::vector<KeyedRow> &target) {
    // A key may repeat (a table without a primary key uses the whole row as
    // its key): rows are compared as multisets per key.
    std::map<std::string, std::multiset<std::string>> a, b;
    for (const KeyedRow &r : source) a[r.key].insert(r.hash);
    for (const KeyedRow &r : target) b[r.key].insert(r.hash);
    std::vector<KeyDifference> out;
    for (const auto &[key, hashes] : a) {
        auto t = b.find(key);
        if (t == b.end()) out.push_back({key, KeyDifference::MissingOnTarget});
        else if (t->second != hashes) out.push_back({key, KeyDifference::Different});
    }
    for (const auto &[key, hashes] : b)
        if (!a.count(key)) out.push_back({key, KeyDifference::OnlyOnTarget});
    std::sort(out.begin(), out.end(), [](const KeyDifference &x, const KeyDifference &y) { return x.key < y.key; });
    return out;
}

std::string describe(const KeyDifference &d, const std::string &target_node) {
    switch (d.kind) {
    case KeyDifference::MissingOnTarget:
        return "key " + d.key + " missing on " + target_node;
    case KeyDifference::OnlyOnTarget:
        return "key " + d.key + " only on " + target_node;
    case KeyDifference::Different:
        break;
    }
    return "key " + d.key + " differs";
}

}  // namespace zodan
