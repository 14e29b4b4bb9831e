#include <catch2/catch.hpp>

#include "core/protocol/copy_progress.hpp"

using namespace zodan;

TEST_CASE("copy progress: tables done, bytes, rate and time left", "[progress]") {
    const long long MB = 1024 * 1024;
    CopyProgress p({{"public.a", 100 * MB}, {"public.b", 300 * MB}, {"public.c", 0}, {"public.d", 100 * MB}}, 0);

    // Nothing there yet.
    CopySample s = p.sample(1000, {});
    CHECK(s.tables_total == 4);
    CHECK(s.tables_done == 0);
    CHECK(s.bytes_total == 500 * MB);
    CHECK(s.seconds_left == -1);
    CHECK(describe_copy("n1", s) == "copying from n1: 0/4 tables, 0 bytes of 500 MB (0%), time left not known yet");

    // a copied, b half-way, c (empty) created, d not yet: 10 s in.
    s = p.sample(10000, {{"public.a", {100 * MB, false}}, {"public.b", {150 * MB, true}}, {"public.c", {0, false}}});
    CHECK(s.tables_done == 2);
    CHECK(s.bytes_done == 250 * MB);
    CHECK(s.bytes_per_second == Approx(25.0 * MB));
    CHECK(s.seconds_left == 10);
    CHECK(describe_copy("n1", s) == "copying from n1: 2/4 tables, 250 MB of 500 MB (50%), 25 MB/s, about 10 s left");

    // A table larger on the new node than on the source counts no more than the source's size.
    s = p.sample(20000, {{"public.a", {100 * MB, false}}, {"public.b", {320 * MB, true}}});
    CHECK(s.bytes_done == 400 * MB);
}
