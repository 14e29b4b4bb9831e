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

long long seconds_left(const VerifySample &s, int64_t elapsed_ms) {
    if (s.rows_done <= 0 || elapsed_ms <= 0) return -1;
    const long long left = std::max(0LL, s.rows_total - s.rows_done);
    return static_cast<long long>(static_cast<double>(left) * static_cast<double>(elapsed_ms) /
                                  static_cast<double>(s.rows_done) / 1000.0 + 0.999);
}

std::string describe_verify(const std::string &source, const std::string &target, const VerifySample &s) {
    std::string out = "comparing " + target + " with " + source + ": " + std::to_string(s.tables_done) + "/" +
                      std::to_string(s.tables_total) + " tables, " + std::to_string(s.rows_done) + " of about " +
                      std::to_string(std::max(s.rows_total, s.rows_done)) + " rows";
    out += s.seconds_left >= 0 ? ", about " + std::to_string(s.seconds_left) + " s left" : ", time left not known yet";
    return out;
}

}  // namespace zodan
