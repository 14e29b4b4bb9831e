#include "core/compare/verify_ranges.hpp"

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

std::map<std::string, KeyRows> rows_by_key(const std::vector<KeyedRow> &source, const std::vector<KeyedRow> &target) {
    std::map<std::string, KeyRows> out;
    for (const KeyedRow &r : source) out[r.key].source.insert(r.hash);
    for (const KeyedRow &r : target) out[r.key].target.insert(r.hash);
    return out;
}

KeyVerdict judge_key(const KeyRows &before, const KeyRows &after) {
    if (after.agree()) return KeyVerdict::Agrees;
    return after == before ? KeyVerdict::Diverged : KeyVerdict::Moving;
}

KeyDifference difference_of(const std::string &key, const KeyRows &rows) {
    if (rows.target.empty()) return {key, KeyDifference::MissingOnTarget};
    if (rows.source.empty()) return {key, KeyDifference::OnlyOnTarget};
    return {key, KeyDifference::Different};
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
