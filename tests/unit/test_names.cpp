#include <catch2/catch.hpp>

#include <cstdint>
#include <string>

#include "core/protocol/names.hpp"

using namespace zodan;

namespace {

struct HashRef {
    const char *text;
    int32_t hashtext;
};

// SELECT hashtext(x) on PostgreSQL 15.20 (UTF-8 database): the empty
// string, every length from 1 to 30 bytes (crossing the 12-byte blocks of
// the hash), names used elsewhere in these tests, and multibyte UTF-8 text
// (bytes above 0x7f must not be sign-extended).
const HashRef kHashRefs[] = {
    {"", -1477818771},
    {"a", 1075015857},
    {"n1", 673694252},
    {"n2", 560818415},
    {"n4", 1092876886},
    {"ab", 1718550461},
    {"abc", -785388649},
    {"abcd", -393934804},
    {"abcde", -445659580},
    {"abcdef", -1747460160},
    {"abcdefg", 501636814},
    {"abcdefgh", -1960928205},
    {"abcdefghi", -92131489},
    {"abcdefghij", 1948051852},
    {"abcdefghijk", -1483803693},
    {"abcdefghijkl", -1586087212},
    {"abcdefghijklm", 405849808},
    {"abcdefghijklmn", 315215413},
    {"abcdefghijklmno", -1389283689},
    {"abcdefghijklmnop", -2079749669},
    {"abcdefghijklmnopq", 1648114242},
    {"abcdefghijklmnopqr", -952297252},
    {"abcdefghijklmnopqrs", -684650393},
    {"abcdefghijklmnopqrst", 766334193},
    {"abcdefghijklmnopqrstu", 2124303250},
    {"abcdefghijklmnopqrstuv", -50608962},
    {"abcdefghijklmnopqrstuvw", -1149376136},
    {"abcdefghijklmnopqrstuvwx", 1251586959},
    {"abcdefghijklmnopqrstuvwxy", 980150893},
    {"abcdefghijklmnopqrstuvwxyz", 167831483},
    {"abcdefghijklmnopqrstuvwxyz0", -1923549396},
    {"abcdefghijklmnopqrstuvwxyz01", -636332337},
    {"abcdefghijklmnopqrstuvwxyz012", -412030706},
    {"abcdefghijklmnopqrstuvwxyz0123", 89653194},
    {"inventory", -77213646},
    {"inventory_database_x", -833274486},
    {"Node-Two", -21558497},
    {"sub_very_long_subscription", 417792706},
    {"sub_n1_n4", -1612759377},
    {"\xc3\xbc", 1832814172},
    {"\xc3\xb1" "and\xc3\xba", -698759648},
    {"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", 554517316},
    {"\xf0\x9f\x90\x98", 1166693769},
    {"Z\xc3\xbcrich-Knoten", -2061530035},
    {"\xe3\x83\x87\xe3\x83\xbc\xe3\x82\xbf\xe3\x83\x99\xe3\x83\xbc\xe3\x82\xb9\xe5\x90\x8d\xe5\x89\x8d\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88", 1170445348},
    {"\xc3\xa4", -1429987189},
    {"\xc3\xa4\xc3\xb6", 1459994826},
    {"\xc3\xa4\xc3\xb6\xc3\xbc", 142936769},
    {"\xc3\xa4\xc3\xb6\xc3\xbc\xe2\x82\xac", -931435867},
    {"\xc3\xa4\xc3\xb6\xc3\xbc\xe2\x82\xac\xf0\x9d\x84\x9e", -1557375181},
    {"\xc3\xa4\xc3\xb6\xc3\xbc\xe2\x82\xac\xf0\x9d\x84\x9ex", 1503662215},
    {"\xc3\xa4\xc3\xb6\xc3\xbc\xe2\x82\xac\xf0\x9d\x84\x9ex\xc3\xa4", -190833749},
    {"\xc3\xa4\xc3\xb6\xc3\xbc\xe2\x82\xac\xf0\x9d\x84\x9ex\xc3\xa4\xc3\xb6", -854713382},
    {"\xc3\xa4\xc3\xb6\xc3\xbc\xe2\x82\xac\xf0\x9d\x84\x9ex\xc3\xa4\xc3\xb6\xc3\xbc", 782141453},
    {"\xc3\xa4\xc3\xb6\xc3\xbc\xe2\x82\xac\xf0\x9d\x84\x9ex\xc3\xa4\xc3\xb6\xc3\xbc\xe2\x82\xac", -1435849858},
    {"\xc3\xa4\xc3\xb6\xc3\xbc\xe2\x82\xac\xf0\x9d\x84\x9ex\xc3\xa4\xc3\xb6\xc3\xbc\xe2\x82\xac\xf0\x9d\x84\x9e", -2668704},
    {"\xc3\xa4\xc3\xb6\xc3\xbc\xe2\x82\xac\xf0\x9d\x84\x9ex\xc3\xa4\xc3\xb6\xc3\xbc\xe2\x82\xac\xf0\x9d\x84\x9ex", 490491919},
    {"\xc3\xa4\xc3\xb6\xc3\xbc\xe2\x82\xac\xf0\x9d\x84\x9ex\xc3\xa4\xc3\xb6\xc3\xbc\xe2\x82\xac\xf0\x9d\x84\x9ex\xc3\xa4", 2126447318},
};

}  // namespace

TEST_CASE("pg_hashtext equals PostgreSQL's hashtext()", "[names][hash]") {
    for (const auto &ref : kHashRefs) {
        CAPTURE(ref.text);
        CHECK(pg_hashtext(ref.text) == ref.hashtext);
    }
}

TEST_CASE("pg_hashtext hashes embedded NUL bytes too", "[names][hash]") {
    // Not reachable from SQL text, but the function is defined on bytes.
    CHECK(pg_hashtext(std::string("a\0b", 3)) != pg_hashtext("ab"));
}

TEST_CASE("spock_node_id is hashtext masked to 16 bits", "[names]") {
    // SELECT (hashtext(n) & 65535)::oid on PostgreSQL 15.
    CHECK(spock_node_id("n1") == 49708u);
    CHECK(spock_node_id("n2") == 26863u);
    CHECK(spock_node_id("n3") == 9057u);
    CHECK(spock_node_id("n4") == 64086u);
    CHECK(spock_node_id("node_a") == 8728u);  // hashtext is negative here
    CHECK(spock_node_id("Node-Two") == 2847u);
    CHECK(spock_node_id("\xc3\xbc") == 34396u);  // "ü"
    for (const auto &ref : kHashRefs) {
        CAPTURE(ref.text);
        CHECK(spock_node_id(ref.text) == (static_cast<uint32_t>(ref.hashtext) & 0xffffu));
    }
}

TEST_CASE("subscription_name is sub_<provider>_<subscriber>", "[names]") {
    CHECK(subscription_name("n1", "n4") == "sub_n1_n4");
    CHECK(subscription_name("n2", "n4") == "sub_n2_n4");
}

TEST_CASE("a new node's name is checked against Spock's rules before any change", "[names]") {
    const std::vector<std::string> cluster{"n1", "n2", "n3"};
    CHECK_FALSE(new_node_name_problem("n4", cluster));
    CHECK_FALSE(new_node_name_problem("node_4_east", cluster));
    CHECK(new_node_name_problem("", cluster));
    CHECK(new_node_name_problem("N4", cluster)->find("lower case") != std::string::npos);
    CHECK(new_node_name_problem("n-4", cluster)->find("lower case") != std::string::npos);
    CHECK(new_node_name_problem("z\xc3\xbcrich", cluster)->find("lower case") != std::string::npos);
    // sub_<n1>_<name> must fit in 63 bytes.
    CHECK_FALSE(new_node_name_problem(std::string(56, 'a'), cluster));
    CHECK(new_node_name_problem(std::string(57, 'a'), cluster)->find("longer than 63 bytes") != std::string::npos);
    // Two names with the same 16-bit id: Spock's node_create refuses the second.
    std::string twin;
    for (int i = 0; i < 200000 && twin.empty(); ++i) {
        std::string candidate = "x" + std::to_string(i);
        if (spock_node_id(candidate) == spock_node_id("n2")) twin = candidate;
    }
    REQUIRE_FALSE(twin.empty());
    CHECK(new_node_name_problem(twin, cluster)->find("node id") != std::string::npos);
}
