#include <catch2/catch.hpp>

#include <cstdint>
#include <string>

#include "core/cluster/names.hpp"
#include "core/remote.hpp"

using namespace zodan;



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
}

TEST_CASE("a node name argument longer than Spock's names is refused, and the error stays short", "[names]") {
    CHECK_NOTHROW(require_node_name_argument("new_node_name", std::string(63, 'a')));
    CHECK_THROWS_AS(require_node_name_argument("new_node_name", std::string(64, 'a')), InvalidArgument);
    try {
        require_node_name_argument("target_node_name", std::string(10240, 'x'));
        FAIL("not refused");
    } catch (const InvalidArgument &e) {
        const std::string m = e.what();
        CHECK(m == "target_node_name \"xxxxxxxxxxxxxxxxxxxx...\" is 10240 bytes long; a node name has at most 63 "
                   "bytes (Spock stores it as type name)");
    }
    // A multibyte character is never cut in half in the message.
    try {
        require_node_name_argument("src_node_name", std::string(19, 'a') + "\xc3\xbc" + std::string(60, 'b'));
        FAIL("not refused");
    } catch (const InvalidArgument &e) {
        CHECK(std::string(e.what()).find("\"aaaaaaaaaaaaaaaaaaa...\"") != std::string::npos);
    }
}
