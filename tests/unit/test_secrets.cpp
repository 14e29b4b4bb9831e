#include <catch2/catch.hpp>

#include "core/text/secrets.hpp"

using zodan::Secrets;

TEST_CASE("secrets: every password a call has seen is masked, wherever it appears", "[secrets]") {
    Secrets s;
    s.add_dsn("host=a dbname=db user=u password=First-Secret-1");
    s.add_dsn("postgresql://u:Second%2DSecret@b/db");
    // A remote node's error quoting another node's password on its own.
    CHECK(s.scrub("apply failed: First-Secret-1 rejected") == "apply failed: ******** rejected");
    CHECK(s.scrub("user u, Second-Secret") == "user u, ********");
}

TEST_CASE("secrets: a DSN in free text is masked even when its password was never seen", "[secrets]") {
    Secrets s;
    // What Spock's sub_create puts into DETAIL when it cannot reach a provider.
    // An unquoted value runs to the end of its word (a password may hold ')').
    CHECK(s.scrub("could not connect (dsn was: host=c port=5 password=Never-Seen-3 user=u)") ==
          "could not connect (dsn was: host=c port=5 password=******** user=u)");
    CHECK(s.scrub("dsn was: host=c password=Never-Seen-3)") == "dsn was: host=c password=********");
    CHECK(s.scrub("dsn was: postgresql://admin:Never-Seen-4@c:5432/db") == "dsn was: postgresql://admin:********@c:5432/db");
}

TEST_CASE("secrets: the words around a password stay readable", "[secrets]") {
    Secrets s;
    s.add_dsn("host=a dbname=db user=pgedge password=Zodan-pw-1");
    CHECK(s.scrub("password authentication failed for user \"pgedge\"") ==
          "password authentication failed for user \"pgedge\"");
    CHECK(s.scrub("node \"n1\": connecting failed") == "node \"n1\": connecting failed");
}

TEST_CASE("secrets: clear forgets them", "[secrets]") {
    Secrets s;
    s.add_dsn("host=a password=Forget-Me-5");
    s.clear();
    CHECK(s.scrub("Forget-Me-5") == "Forget-Me-5");
}

TEST_CASE("secrets: a value given as the authority's reading is masked too", "[secrets]") {
    Secrets s;
    s.add_secret("it's-a-secret");
    CHECK(s.scrub("rejected it's-a-secret twice: it's-a-secret") == "rejected ******** twice: ********");
}
