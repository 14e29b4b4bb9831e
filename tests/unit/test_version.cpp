#include <catch2/catch.hpp>

#include <stdexcept>

#include "core/text/version.hpp"

using namespace zodan;

namespace {
int cmp(const char *a, const char *b) { return compare(Version::parse(a), Version::parse(b)); }
}  // namespace

TEST_CASE("versions parse into numbers and a suffix", "[version]") {
    const Version v = Version::parse("6.0.0-devel");
    CHECK(v.parts == std::vector<int>{6, 0, 0});
    CHECK(v.suffix == "-devel");
    CHECK(v.major() == 6);
    CHECK(v.minor() == 0);
    CHECK(v.str() == "6.0.0-devel");

    const Version w = Version::parse("5.0.10");
    CHECK(w.parts == std::vector<int>{5, 0, 10});
    CHECK(w.suffix.empty());
    CHECK(w.str() == "5.0.10");
    CHECK(Version::parse("5.1").parts == std::vector<int>{5, 1});
}

TEST_CASE("versions compare numerically, not as text", "[version]") {
    CHECK(cmp("5.0.9", "5.0.10") < 0);
    CHECK(cmp("5.0.10", "5.0.9") > 0);
    CHECK(cmp("5.0.10", "5.0.10") == 0);
    CHECK(cmp("10.0.0", "9.9.9") > 0);
    CHECK(cmp("5.0", "5.0.0") == 0);
    CHECK(cmp("5.0", "5.0.1") < 0);
    CHECK(cmp("6.0.0-devel", "6.0.0") == 0);
    CHECK(cmp("6.0.0-devel", "5.0.9") > 0);
    CHECK(cmp(kMinimumSpockVersion, "5.0.9") == 0);
}

TEST_CASE("same_major_minor ignores patch level and suffix", "[version]") {
    CHECK(same_major_minor(Version::parse("5.0.9"), Version::parse("5.0.10")));
    CHECK(same_major_minor(Version::parse("6.0.0-devel"), Version::parse("6.0.3")));
    CHECK_FALSE(same_major_minor(Version::parse("5.0.9"), Version::parse("5.1.0")));
    CHECK_FALSE(same_major_minor(Version::parse("5.0.9"), Version::parse("6.0.9")));
}

TEST_CASE("garbage is not a version and the error names it", "[version]") {
    for (const char *bad : {"", "abc", "5", "5.", "5..0", ".5.0", "5.x", "v5.0.9", " 5.0.9",
                            "5.0.9 ", "99999999999.0"}) {
        CAPTURE(bad);
        CHECK_THROWS_AS(Version::parse(bad), std::invalid_argument);
    }
    CHECK_THROWS_WITH(Version::parse("banana"), Catch::Contains("banana"));
}
