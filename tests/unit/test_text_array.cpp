#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "core/text/text_array.hpp"

using namespace zodan;

using Strings = std::vector<std::string>;

TEST_CASE("text_array_literal quotes like array_out", "[quote][array]") {
    // SELECT ARRAY[...]::text[] on PostgreSQL 15 printed exactly this.
    const Strings items = {"a b", "", "NULL", "null", "x\"y", "c\\d", "{b}", "a,b",
                           "plain", "tab\there", "\xc3\xbc", "Null2"};
    CHECK(text_array_literal(items) ==
          "{\"a b\",\"\",\"NULL\",\"null\",\"x\\\"y\",\"c\\\\d\",\"{b}\",\"a,b\",plain,"
          "\"tab\there\",\xc3\xbc,Null2}");
    CHECK(text_array_literal({}) == "{}");
    CHECK(text_array_literal({"default", "default_insert_only", "ddl_sql"}) ==
          "{default,default_insert_only,ddl_sql}");
}

TEST_CASE("parse_text_array reads what PostgreSQL prints", "[quote][array]") {
    CHECK(parse_text_array("{}") == Strings{});
    CHECK(parse_text_array("{a,\"b c\",NULL}") == (Strings{"a", "b c"}));
    CHECK(parse_text_array("{default,default_insert_only,ddl_sql}") ==
          (Strings{"default", "default_insert_only", "ddl_sql"}));
    // '{a , " b " , NULL, "NULL", c\,d ,\ e\ }'::text[] is {a," b ",NULL,"NULL","c,d"," e "}
    CHECK(parse_text_array("{a , \" b \" , NULL, \"NULL\", c\\,d ,\\ e\\ }") ==
          (Strings{"a", " b ", "NULL", "c,d", " e "}));
    CHECK(parse_text_array("[0:1]={x,y}") == (Strings{"x", "y"}));
    CHECK(parse_text_array("{null,nULL}") == Strings{});
}

TEST_CASE("text arrays round trip", "[quote][array]") {
    const std::vector<Strings> cases = {
        {},
        {"one"},
        {"a b", "", "NULL", "null", "x\"y", "c\\d", "{b}", "a,b", "plain", "tab\there"},
        {"\"", "\\", "\\\"", " lead", "trail ", "new\nline", "\xe6\x97\xa5\xe6\x9c\xac"},
    };
    for (const auto &items : cases) {
        const std::string literal = text_array_literal(items);
        CAPTURE(literal);
        CHECK(parse_text_array(literal) == items);
    }
}

TEST_CASE("parse_text_array rejects malformed literals", "[quote][array]") {
    for (const char *bad : {"", "a,b", "{a,b", "{a,,b}", "{\"a}", "{a}x", "{{a},{b}}", "{a\"b}",
                            "{a\\", "[1:2]{a,b}", "{,}"}) {
        CAPTURE(bad);
        CHECK_THROWS_AS(parse_text_array(bad), std::invalid_argument);
    }
    CHECK_THROWS_WITH(parse_text_array("{a,b"), Catch::Contains("{a,b"));
}
