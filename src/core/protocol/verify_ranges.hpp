// The arithmetic of the post-join comparison (verify_data.hpp), apart from
// any node: a table's rows fall into key ranges (by the hash of their
// primary key, so each range is a fixed part of the key space on both
// nodes); each side sums its rows' hashes per range; ranges whose count or
// sum differ hold the difference, and the rows of those ranges tell which
// keys.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace zodan {

struct RangeSum {
    long long rows = 0;
    std::string hash_sum;  // the sum of the rows' 64-bit hashes, as the node printed it
    bool operator==(const RangeSum &o) const { return rows == o.rows && hash_sum == o.hash_sum; }
};

// How many ranges a table of about `rows` rows is cut into: a power of two,
// about 2,000 rows each, between 1 and 1,024.
int range_count(long long rows);

// The ranges whose sums differ (a range present on one side only too).
std::vector<int> differing_ranges(const std::map<int, RangeSum> &source, const std::map<int, RangeSum> &target);

// One row of a range: its key (as text) and its hash.
struct KeyedRow {
    std::string key, hash;
};

struct KeyDifference {
    std::string key;
    enum Kind { MissingOnTarget, OnlyOnTarget, Different } kind;
};

// The keys whose rows differ between the two sides of the same ranges.
std::vector<KeyDifference> differing_keys(const std::vector<KeyedRow> &source, const std::vector<KeyedRow> &target);

// "key 17 missing on n4", "key 18 differs", "key 19 only on n4"
std::string describe(const KeyDifference &d, const std::string &target_node);

}  // namespace zodan
