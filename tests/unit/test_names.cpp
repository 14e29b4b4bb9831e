#include <catch2/catch.hpp>

#include <cstdint>
#include <string>

#include "core/protocol/names.hpp"

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
