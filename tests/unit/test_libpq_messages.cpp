#include <catch2/catch.hpp>

#include "core/text/libpq_messages.hpp"

using namespace zodan;

TEST_CASE("libpq's messages on one line", "[libpq]") {
    CHECK(one_line("server closed the connection unexpectedly\n\tThis probably means...\n") ==
          "server closed the connection unexpectedly \tThis probably means...");
    CHECK(one_line(nullptr) == "");
}

TEST_CASE("the reason a connection failed, without the address around it", "[libpq]") {
    CHECK(connection_failure_reason("connection to server at \"127.0.0.1\", port 5432 failed: Connection refused") ==
          "Connection refused");
    CHECK(connection_failure_reason("connection to server at \"h\" (10.0.0.1), port 5 failed: FATAL:  database \"x\" "
                                    "does not exist") == "database \"x\" does not exist");
    CHECK(connection_failure_reason("connection to server at \"h\", port 5 failed: FATAL:  password authentication "
                                    "failed for user \"pgedge\"") == "authentication failed for user \"pgedge\"");
    CHECK(connection_failure_reason("timed out after 30 s") == "timed out after 30 s");
}
