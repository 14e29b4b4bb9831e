// The arithmetic of the post-join comparison (verify_data.hpp), apart from
// any node: a table's rows fall into key ranges (by the hash of their
// primary key, so each range is a fixed part of the key space on both
// nodes); each side sums its rows' hashes per range; ranges whose count or
// sum differ hold the difference, and the rows of those ranges tell which
// keys.
#pragma once

#include <cstdint>
#include <map>
#include <set>
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

// A key's rows on each side, as one read found them (a multiset: without a
// primary key the whole row is the key, and rows may repeat).
struct KeyRows {
    std::multiset<std::string> source, target;
    bool agree() const { return source == target; }
    bool operator==(const KeyRows &o) const { return source == o.source && target == o.target; }
};

// The rows of the same ranges read on both sides, by key.
std::map<std::string, KeyRows> rows_by_key(const std::vector<KeyedRow> &source, const std::vector<KeyedRow> &target);

// What a second read of a key that differed, a round of sync events after
// the first, says of it. Every change committed anywhere before the round
// reached both sides during it, so a difference that neither side's rows
// moved from is one no change in flight can mend.
enum class KeyVerdict {
    Agrees,    // what differed was in flight and has arrived
    Diverged,  // neither side changed and they still differ
    Moving,    // a side changed meanwhile (newer writes): read it again
};
KeyVerdict judge_key(const KeyRows &before, const KeyRows &after);

struct KeyDifference {
    std::string key;
    enum Kind { MissingOnTarget, OnlyOnTarget, Different } kind;
};

KeyDifference difference_of(const std::string &key, const KeyRows &rows);

// "key 17 missing on n4", "key 18 differs", "key 19 only on n4"
std::string describe(const KeyDifference &d, const std::string &target_node);

// How far the comparison's first round is: tables and rows read of what
// the source's statistics say it holds.
struct VerifySample {
    int tables_done = 0, tables_total = 0;
    long long rows_done = 0, rows_total = 0;  // rows_total: an estimate
    long long seconds_left = -1;              // -1: not known
};
// The time left at the pace so far, `elapsed_ms` in.
long long seconds_left(const VerifySample &s, int64_t elapsed_ms);
// "comparing n4 with n1: 3/12 tables, 1200000 of about 5000000 rows, about 14 s left"
std::string describe_verify(const std::string &source, const std::string &target, const VerifySample &s);

}  // namespace zodan
