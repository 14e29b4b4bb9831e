#include <catch2/catch.hpp>

#include "core/compare/verify_ranges.hpp"

using namespace zodan;

TEST_CASE("tables are cut into power-of-two ranges of about 2,000 rows", "[verify]") {
    CHECK(range_count(0) == 1);
    CHECK(range_count(2000) == 1);
    CHECK(range_count(2001) == 2);
    CHECK(range_count(20000) == 16);
    CHECK(range_count(1000000) == 512);
    CHECK(range_count(1000000000LL) == 1024);  // never more, however large
}

TEST_CASE("ranges differ by count, by sum, or by being on one side only", "[verify]") {
    const std::map<int, RangeSum> source = {{0, {10, "123"}}, {1, {10, "456"}}, {2, {5, "7"}}, {3, {1, "9"}}};
    const std::map<int, RangeSum> target = {{0, {10, "123"}}, {1, {10, "457"}}, {2, {4, "7"}}, {4, {1, "1"}}};
    CHECK(differing_ranges(source, target) == std::vector<int>{1, 2, 3, 4});
    CHECK(differing_ranges(source, source).empty());
}

TEST_CASE("rows are grouped by key on each side, repeated rows kept", "[verify]") {
    const auto rows = rows_by_key({{"1", "a"}, {"2", "b"}, {"2", "b"}}, {{"1", "a"}, {"2", "b"}, {"3", "c"}});
    REQUIRE(rows.size() == 3);
    CHECK(rows.at("1").agree());
    CHECK_FALSE(rows.at("2").agree());  // twice on the source, once on the target
    CHECK(difference_of("2", rows.at("2")).kind == KeyDifference::Different);
    CHECK(difference_of("3", rows.at("3")).kind == KeyDifference::OnlyOnTarget);
    CHECK(describe(difference_of("3", rows.at("3")), "n4") == "key 3 only on n4");
    const auto missing = rows_by_key({{"7", "x"}}, {});
    CHECK(describe(difference_of("7", missing.at("7")), "n4") == "key 7 missing on n4");
    CHECK(describe(difference_of("2", rows.at("2")), "n4") == "key 2 differs");
}

TEST_CASE("a key that differed is judged by what a sync round changed", "[verify]") {
    const KeyRows differ{{"v2"}, {"v1"}};
    // The target caught up with the source: it was in flight.
    CHECK(judge_key(differ, KeyRows{{"v2"}, {"v2"}}) == KeyVerdict::Agrees);
    // Nothing moved on either side and they still differ: a divergence.
    CHECK(judge_key(differ, differ) == KeyVerdict::Diverged);
    CHECK(judge_key(KeyRows{{"v1"}, {}}, KeyRows{{"v1"}, {}}) == KeyVerdict::Diverged);
    // Newer writes reached either side meanwhile: not decided yet.
    CHECK(judge_key(differ, KeyRows{{"v3"}, {"v2"}}) == KeyVerdict::Moving);
    CHECK(judge_key(differ, KeyRows{{"v2"}, {"v0"}}) == KeyVerdict::Moving);
    // The source deleted the row meanwhile, the target still has the old one.
    CHECK(judge_key(differ, KeyRows{{}, {"v1"}}) == KeyVerdict::Moving);
}
