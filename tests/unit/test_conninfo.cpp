#include <catch2/catch.hpp>

#include "core/remote.hpp"
#include "core/text/conninfo.hpp"
#include "core/text/secrets.hpp"

using namespace zodan;

TEST_CASE("connection strings are read by libpq, both forms", "[conninfo]") {
    ConnInfo kv = parse_conninfo("host=h1 port=5433 dbname='my db' user=u password='p w'");
    CHECK(conninfo_value(kv, "dbname") == std::string("my db"));
    CHECK(conninfo_value(kv, "password") == std::string("p w"));
    CHECK_FALSE(conninfo_value(kv, "sslmode").has_value());
    ConnInfo uri = parse_conninfo("postgresql://u:s%40cret@h2:5432/inventory?sslmode=disable");
    CHECK(conninfo_value(uri, "host") == std::string("h2"));
    CHECK(conninfo_value(uri, "dbname") == std::string("inventory"));
    CHECK(conninfo_value(uri, "password") == std::string("s@cret"));
}

TEST_CASE("an unreadable connection string is the caller's bad argument, its secrets masked", "[conninfo]") {
    try {
        parse_conninfo("host=h password=top secret dbname=x");
        FAIL("should not parse");
    } catch (const InvalidArgument &e) {
        const std::string what = e.what();
        CHECK(what.rfind("invalid connection string: ", 0) == 0);
        CHECK(what.find("secret") == std::string::npos);  // libpq quotes the stray word
    }
    CHECK_THROWS_AS(parse_conninfo("postgresql://h/db?nosuchkeyword=1"), InvalidArgument);
}

TEST_CASE("mask_dsn shows a DSN without its secrets", "[conninfo][secrets]") {
    CHECK(mask_dsn("host=a dbname=d user=u password=s3cret") == "host=a dbname=d user=u password=********");
    CHECK(mask_dsn("host=a sslpassword=k dbname='x y'") == "host=a sslpassword=******** dbname='x y'");
    CHECK(mask_dsn("postgresql://u:pw@h/db") == "postgresql://u:********@h/db");
    CHECK(mask_dsn("postgresql://u@h/db?password=pw%21") == "postgresql://u@h/db?password=********");
    // Unreadable: masked as free text, never shown whole.
    CHECK(mask_dsn("host=a password=top secret") == "host=a password=********");
}

TEST_CASE("mask_secrets_in_sql masks inside literals only, keeping the quotes", "[secrets]") {
    CHECK(mask_secrets_in_sql("statement: CALL spock.add_node('n1', 'host=a dbname=d user=u password=s3cret', 'n4', "
                              "'host=b password=''a b'' dbname=d')") ==
          "statement: CALL spock.add_node('n1', 'host=a dbname=d user=u password=********', 'n4', "
          "'host=b password=******** dbname=d')");
    CHECK(mask_secrets_in_sql("parameters: $1 = 'n1', $2 = 'postgresql://u:pw@h/db'") ==
          "parameters: $1 = 'n1', $2 = 'postgresql://u:********@h/db'");
    CHECK(mask_secrets_in_sql("SELECT 1") == "SELECT 1");
    CHECK(mask_secrets_in_sql("CALL x('password=abc") == "CALL x('password=********");
}

TEST_CASE("mask_secrets_in_sql reads SQL as the server does: quotes in comments and dollar bodies", "[secrets]") {
    // A quote in a comment must not swallow the literal after it.
    CHECK(mask_secrets_in_sql("SELECT 1 -- don't\n, 'host=a password=Pw-1'") ==
          "SELECT 1 -- don't\n, 'host=a password=********'");
    CHECK(mask_secrets_in_sql("SELECT /* it's /* nested */ still */ 'password=Pw-2'") ==
          "SELECT /* it's /* nested */ still */ 'password=********'");
    // E'' strings: \' does not end the literal.
    CHECK(mask_secrets_in_sql("SELECT E'it\\'s', 'password=Pw-3'") == "SELECT E'it\\'s', 'password=********'");
    CHECK(mask_secrets_in_sql("SELECT E'host=a password=Pw-4\\'x'") == "SELECT E'host=a password=********'");
    // Dollar-quoted: a plain string, or code with literals of its own.
    CHECK(mask_secrets_in_sql("CALL spock.add_node('n1', $$host=a password=Pw-5$$, 'n4', $q$postgresql://u:Pw-6@h/d$q$)") ==
          "CALL spock.add_node('n1', $$host=a password=********$$, 'n4', $q$postgresql://u:********@h/d$q$)");
    CHECK(mask_secrets_in_sql("DO $$ BEGIN CALL spock.remove_node('n4', 'host=b password=Pw-7'); END $$") ==
          "DO $$ BEGIN CALL spock.remove_node('n4', 'host=b password=********'); END $$");
    // $1 is a parameter, a$b an identifier: neither opens a dollar quote.
    CHECK(mask_secrets_in_sql("SELECT $1, a$b$, 'password=Pw-8'") == "SELECT $1, a$b$, 'password=********'");
    // The statement's code stays as it is.
    CHECK(mask_secrets_in_sql("SELECT * FROM u WHERE u.password = v.password AND x = 'it''s'") ==
          "SELECT * FROM u WHERE u.password = v.password AND x = 'it''s'");
    CHECK(mask_secrets_in_sql("UPDATE u SET password = 'plain'") == "UPDATE u SET password = 'plain'");
    // Text in double quotes (a message quoting a value) is masked too.
    CHECK(mask_secrets_in_sql("invalid input syntax for type json: \"host=a password=Pw-9\"") ==
          "invalid input syntax for type json: \"host=a password=********\"");
    // Pieces left open run to the end.
    CHECK(mask_secrets_in_sql("SELECT $x$ password=Pw-10") == "SELECT $x$ password=********");
    CHECK(mask_secrets_in_sql("SELECT /* password=Pw-11") == "SELECT /* password=********");
}

TEST_CASE("may_hold_secrets: a quick test with no false negative", "[secrets]") {
    CHECK_FALSE(may_hold_secrets(nullptr));
    CHECK_FALSE(may_hold_secrets("SELECT 1"));
    CHECK_FALSE(may_hold_secrets("p pa pas passwor"));
    CHECK(may_hold_secrets("CALL x('host=a PASSWORD=y')"));
    CHECK(may_hold_secrets("CALL x('PostgreSQL://u:p@h/d')"));
}

TEST_CASE("secrets: every spelling of a DSN's password is masked", "[secrets]") {
    Secrets s;
    s.add_dsn("host=a password='it\\'s a secret' dbname=d");
    CHECK(s.scrub("rejected it's a secret") == "rejected ********");
    CHECK(s.scrub("missing \"=\" after \"secret'\" and it's") == "missing \"=\" after \"********\" and it's");
}
