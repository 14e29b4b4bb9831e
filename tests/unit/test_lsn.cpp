#include <catch2/catch.hpp>

#include <stdexcept>

#include "core/text/lsn.hpp"

using namespace zodan;

// Reference pairs read from PostgreSQL 15: '<text>'::pg_lsn - '0/0'.
TEST_CASE("parse_lsn matches pg_lsn values", "[lsn]") {
    CHECK(parse_lsn("0/1A7D1E0") == 27775456u);
    CHECK(parse_lsn("16/B374D848") == 97500059720u);
    CHECK(parse_lsn("16/b374d848") == 97500059720u);
    CHECK(parse_lsn("0/0") == 0u);
    CHECK(parse_lsn("1/0") == 4294967296u);
    CHECK(parse_lsn("00000001/00000000") == 4294967296u);
    CHECK(parse_lsn("FFFFFFFF/FFFFFFFF") == UINT64_MAX);
}

TEST_CASE("format_lsn prints upper-case hex without leading zeros", "[lsn]") {
    CHECK(format_lsn(27775456u) == "0/1A7D1E0");
    CHECK(format_lsn(97500059720u) == "16/B374D848");
    CHECK(format_lsn(0) == "0/0");
    CHECK(format_lsn(4294967296u) == "1/0");
    CHECK(format_lsn(UINT64_MAX) == "FFFFFFFF/FFFFFFFF");
}

TEST_CASE("lsn text round trips", "[lsn]") {
    for (Lsn v : {Lsn{0}, Lsn{1}, Lsn{0xFFFFFFFFu}, Lsn{0x100000000u}, Lsn{0x123456789ABCDEF0u},
                  UINT64_MAX}) {
        CHECK(parse_lsn(format_lsn(v)) == v);
    }
    CHECK(format_lsn(parse_lsn("0/1a7d1e0")) == "0/1A7D1E0");
}

TEST_CASE("parse_lsn rejects what pg_lsn rejects and names the text", "[lsn]") {
    // Each of these is an error in PostgreSQL 15 too.
    for (const char *bad : {"", "0/", "/1", "G/1", "123456789/0", "0/123456789", " 0/1", "0/1 ",
                            "0x1/1", "-1/1", "0-1", "1/2/3"}) {
        CAPTURE(bad);
        CHECK_THROWS_AS(parse_lsn(bad), std::invalid_argument);
    }
    CHECK_THROWS_WITH(parse_lsn("12/zz"), Catch::Contains("\"12/zz\""));
}
