#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>

#include "core/text/dsn.hpp"

using namespace zodan;

namespace {

// The message of the std::invalid_argument that parsing `text` throws, or
// "" when it parses.
std::string parse_error(const std::string &text) {
    try {
        Dsn::parse(text);
    } catch (const std::invalid_argument &e) {
        return e.what();
    }
    return "";
}

bool contains(const std::string &haystack, const std::string &needle) {
    return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("key=value connection strings parse like libpq", "[dsn]") {
    SECTION("plain pairs") {
        const Dsn d = Dsn::parse("host=10.0.0.1 dbname=inventory user=pgedge password=s3cret");
        CHECK(d.get("host") == "10.0.0.1");
        CHECK(d.dbname() == "inventory");
        CHECK(d.get("user") == "pgedge");
        CHECK(d.get("password") == "s3cret");
        CHECK_FALSE(d.get("port").has_value());
        CHECK(d.params().size() == 4);
    }
    SECTION("blanks around '=' and between pairs") {
        const Dsn d = Dsn::parse("  host = h1 \t port=5433\n dbname =db  ");
        CHECK(d.get("host") == "h1");
        CHECK(d.get("port") == "5433");
        CHECK(d.dbname() == "db");
    }
    SECTION("single quotes, backslash escapes and empty values") {
        const Dsn d = Dsn::parse(
            "dbname='my db' password='it\\'s a \\\\ pw' application_name='' options=a\\ b user=x\\'y");
        CHECK(d.dbname() == "my db");
        CHECK(d.get("password") == "it's a \\ pw");
        CHECK(d.get("application_name") == "");
        CHECK(d.get("options") == "a b");
        CHECK(d.get("user") == "x'y");
    }
    SECTION("a later keyword wins, as in libpq") {
        CHECK(Dsn::parse("dbname=a dbname=b").dbname() == "b");
    }
    SECTION("the empty string has no parameters") {
        CHECK(Dsn::parse("").params().empty());
        CHECK(Dsn::parse("   ").params().empty());
    }
}

TEST_CASE("URI connection strings parse like libpq", "[dsn][uri]") {
    SECTION("all parts, percent-decoded") {
        const Dsn d = Dsn::parse(
            "postgresql://pg%20edge:s%40cr%3At@10.0.0.1:5432/my%20db?sslmode=require&application_name=zo%26dan");
        CHECK(d.get("user") == "pg edge");
        CHECK(d.get("password") == "s@cr:t");
        CHECK(d.get("host") == "10.0.0.1");
        CHECK(d.get("port") == "5432");
        CHECK(d.dbname() == "my db");
        CHECK(d.get("sslmode") == "require");
        CHECK(d.get("application_name") == "zo&dan");
    }
    SECTION("postgres:// scheme, several hosts, missing ports") {
        const Dsn d = Dsn::parse("postgres://h1:5432,h2,h3:5434/inventory");
        CHECK(d.get("host") == "h1,h2,h3");
        CHECK(d.get("port") == "5432,,5434");
        CHECK(d.dbname() == "inventory");
        CHECK_FALSE(d.get("user").has_value());
    }
    SECTION("IPv6 literals lose their brackets") {
        const Dsn d = Dsn::parse("postgresql://[::1]:5433,[fe80::1]/db");
        CHECK(d.get("host") == "::1,fe80::1");
        CHECK(d.get("port") == "5433,");
    }
    SECTION("optional parts") {
        CHECK(Dsn::parse("postgresql://").params().empty());
        const Dsn only_db = Dsn::parse("postgresql:///inventory");
        CHECK(only_db.dbname() == "inventory");
        CHECK_FALSE(only_db.get("host").has_value());
        const Dsn user_only = Dsn::parse("postgresql://alice@db.example.com");
        CHECK(user_only.get("user") == "alice");
        CHECK_FALSE(user_only.get("password").has_value());
        CHECK(user_only.get("host") == "db.example.com");
        const Dsn query_only = Dsn::parse("postgresql://?host=h&dbname=d");
        CHECK(query_only.get("host") == "h");
        CHECK(query_only.dbname() == "d");
    }
    SECTION("query parameters override the other parts; ssl=true means sslmode=require") {
        const Dsn d = Dsn::parse("postgresql://h/first?dbname=second&ssl=true");
        CHECK(d.dbname() == "second");
        CHECK(d.get("sslmode") == "require");
    }
}

TEST_CASE("unparsable connection strings name the problem", "[dsn][errors]") {
    CHECK_THAT(parse_error("host=h dbname"), Catch::Contains("missing \"=\""));
    CHECK_THAT(parse_error("host=h password='abc"), Catch::Contains("unterminated quoted string"));
    CHECK_THAT(parse_error("=x"), Catch::Contains("empty keyword"));
    CHECK_THAT(parse_error("postgresql://h/db?sslmode"), Catch::Contains("missing \"=\""));
    CHECK_THAT(parse_error("postgresql://h/db?a=b=c"), Catch::Contains("extra \"=\""));
    CHECK_THAT(parse_error("postgresql://h/db%zz"), Catch::Contains("percent-encoded"));
    CHECK_THAT(parse_error("postgresql://h/db%0"), Catch::Contains("percent-encoded"));
    CHECK_THAT(parse_error("postgresql://h/d%00b"), Catch::Contains("%00"));
    CHECK_THAT(parse_error("postgresql://[::1/db"), Catch::Contains("\"]\""));
    CHECK_THAT(parse_error("postgresql://[]/db"), Catch::Contains("empty IPv6"));
    CHECK_THAT(parse_error("postgresql://u:p@ss@host/db"), Catch::Contains("\"@\""));
    for (const char *text : {"host=h dbname", "postgresql://h/db%zz"}) {
        CAPTURE(text);
        CHECK_THAT(parse_error(text), Catch::StartsWith("invalid connection string: "));
    }
}

TEST_CASE("parse errors never contain the password", "[dsn][errors][secrets]") {
    const std::string secret = "Xy7Q";
    const std::string texts[] = {
        "host=h password=" + secret + " Zq9",                // blank inside the password
        "host=h password='" + secret,                        // unterminated quote
        "host=h password=" + secret + "' Zq9",               // stray quote
        "password " + secret,                                // missing '='
        "postgresql://u:" + secret + "%zz@h/db",             // bad escape in the password
        "postgresql://u:" + secret + "%00@h/db",             // forbidden %00
        "postgresql://u:" + secret + "@ss@h/db",             // unencoded '@'
        "postgresql://h/db?password=" + secret + "=",        // extra '='
        "postgresql://h/db?password=" + secret + "%g1",      // bad escape in a query value
    };
    for (const auto &text : texts) {
        CAPTURE(text);
        const std::string error = parse_error(text);
        CHECK_FALSE(error.empty());
        CHECK_FALSE(contains(error, secret));
        CHECK_FALSE(contains(error, "Zq9"));
    }
}

TEST_CASE("masked() hides passwords in both forms", "[dsn][secrets]") {
    const Dsn kv = Dsn::parse("host=h dbname=inventory password='p w' sslpassword=k3y user=u");
    CHECK(kv.masked() == "host=h dbname=inventory password=******** sslpassword=******** user=u");

    const Dsn uri = Dsn::parse("postgresql://u:p%40ss@h:5432/inventory?sslpassword=k3y");
    const std::string m = uri.masked();
    CHECK(m == "user=u password=******** host=h port=5432 dbname=inventory sslpassword=********");
    CHECK_FALSE(contains(m, "p@ss"));
    CHECK_FALSE(contains(m, "k3y"));
}

TEST_CASE("mask_dsn never shows a password, even for unparsable text", "[dsn][secrets]") {
    const std::string secret = "Xy7Q";
    SECTION("parsable strings are masked through the parser") {
        CHECK(mask_dsn("host=h password=" + secret + " dbname=d") ==
              "host=h password=******** dbname=d");
        CHECK(mask_dsn("postgresql://u:" + secret + "@h/d") ==
              "user=u password=******** host=h dbname=d");
    }
    SECTION("unparsable strings are masked conservatively") {
        const std::string texts[] = {
            "host=h password=" + secret + " word dbname=d",   // blank in the password
            "host=h password='" + secret + " dbname=d",       // unterminated quote
            "host=h PASSWORD = " + secret + " 'oops",         // any case, blanks around '='
            "host=h sslpassword=" + secret + "&tail 'oops",   // '&' is not a separator here
            "postgresql://u:" + secret + "%zz@h/db",
            "postgresql://u:" + secret + "@x@h/db",
            "postgresql://u:" + secret + "@h/db?sslmode",
            "postgresql://h/db?password=" + secret + "=&x",
        };
        for (const auto &text : texts) {
            CAPTURE(text);
            const std::string masked = mask_dsn(text);
            CHECK_FALSE(contains(masked, secret));
            CHECK(contains(masked, "********"));
        }
        // What is not secret stays readable.
        CHECK(mask_dsn("host=h password='" + secret + " dbname=d") == "host=h password=********");
        CHECK(mask_dsn("host=h password=" + secret + " word dbname=d") ==
              "host=h password=******** dbname=d");
        CHECK(mask_dsn("postgresql://u:" + secret + "@h/db?sslmode") ==
              "postgresql://u:********@h/db?sslmode");
    }
    SECTION("text without secrets passes unchanged when unparsable") {
        CHECK(mask_dsn("host=h dbname") == "host=h dbname");
    }
}

TEST_CASE("scrub_secrets removes the password from messages", "[dsn][secrets]") {
    SECTION("decoded and encoded spellings") {
        const std::string dsn = "postgresql://u:s%40cret@h/db";
        const std::string msg = scrub_secrets(
            "could not connect with s@cret (from postgresql://u:s%40cret@h/db)", dsn);
        CHECK(msg == "could not connect with ******** (from postgresql://u:********@h/db)");
    }
    SECTION("quoted key=value passwords, sslpassword too") {
        const std::string dsn = "host=h password='two words' sslpassword=k3y";
        CHECK(scrub_secrets("bad 'two words' and two words; key k3y", dsn) ==
              "bad ******** and ********; key ********");
    }
    SECTION("unparsable connection strings are still scrubbed") {
        const std::string dsn = "host=h password=Xy7Q word 'oops";
        const std::string msg = scrub_secrets("error near Xy7Q word in " + dsn, dsn);
        CHECK_FALSE(contains(msg, "Xy7Q"));
        CHECK_FALSE(contains(msg, "word"));
    }
    SECTION("nothing to scrub leaves the message alone") {
        CHECK(scrub_secrets("connection refused", "host=h dbname=d") == "connection refused");
        CHECK(scrub_secrets("connection refused", "host=h password=''") == "connection refused");
        CHECK(scrub_secrets("", "host=h password=x") == "");
    }
}

TEST_CASE("mask_secrets_in_sql masks inside literals only, keeping the quotes", "[dsn]") {
    using zodan::mask_secrets_in_sql;
    CHECK(mask_secrets_in_sql("statement: CALL spock.add_node('n1', 'host=a dbname=d user=u password=s3cret', 'n4', "
                              "'host=b password=''a b'' dbname=d')") ==
          "statement: CALL spock.add_node('n1', 'host=a dbname=d user=u password=********', 'n4', "
          "'host=b password=******** dbname=d')");
    CHECK(mask_secrets_in_sql("parameters: $1 = 'n1', $2 = 'postgresql://u:pw@h/db'") ==
          "parameters: $1 = 'n1', $2 = 'postgresql://u:********@h/db'");
    CHECK(mask_secrets_in_sql("SELECT 1") == "SELECT 1");
    CHECK(mask_secrets_in_sql("CALL x('password=abc") == "CALL x('password=********");
}
