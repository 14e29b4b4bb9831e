// Catch2 supplies main(); every other file here only adds test cases.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
