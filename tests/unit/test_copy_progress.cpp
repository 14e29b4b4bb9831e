#include <catch2/catch.hpp>

#include "core/copy/copy_progress.hpp"

using namespace zodan;

TEST_CASE("copy progress: tables done, share streamed, rate and time left", "[progress]") {
    const long long MB = 1024 * 1024;
    // a in one job, b split in two, c empty.
    std::vector<StreamedJob> jobs{{"public.a", 100 * MB, 0, false},
                                  {"public.b", 150 * MB, 0, false},
                                  {"public.b", 150 * MB, 0, false},
                                  {"public.c", 0, 0, false}};
    CopySample s = sample_streams(jobs, 0, 1000);
    CHECK(s.tables_total == 3);
    CHECK(s.tables_done == 0);
    CHECK(s.bytes_total == 400 * MB);
    CHECK(s.seconds_left == -1);
    CHECK(describe_copy("n1", s) == "copying from n1: 0/3 tables, 0 bytes streamed (0% of 400 MB of tables), time left not known yet");

    // a done, one half of b done, the other half-way, 10 s in.
    jobs[0] = {"public.a", 100 * MB, 100 * MB, true};
    jobs[1] = {"public.b", 150 * MB, 150 * MB, true};
    jobs[2] = {"public.b", 150 * MB, 75 * MB, false};
    s = sample_streams(jobs, 0, 10000);
    CHECK(s.tables_done == 1);  // b counts once both its jobs are done
    CHECK(s.bytes_done == 325 * MB);
    CHECK(s.fraction == Approx(325.0 / 400.0).epsilon(0.001));
    CHECK(s.bytes_per_second == Approx(32.5 * MB));
    CHECK(s.seconds_left == 3);
    CHECK(describe_copy("n1", s) == "copying from n1: 1/3 tables, 325 MB streamed (81% of 400 MB of tables), 32 MB/s, about 3 s left");

    // A table is done only once every part of it is, whichever part ends first.
    CHECK(sample_streams({{"public.t", 10, 5, false}, {"public.t", 10, 10, true}}, 0, 1000).tables_done == 0);
    CHECK(sample_streams({{"public.t", 10, 10, true}, {"public.t", 10, 5, false}}, 0, 1000).tables_done == 0);

    // A job that streams more than its table's estimate counts as 99% until done.
    jobs[2].streamed_bytes = 400 * MB;
    CHECK(sample_streams(jobs, 0, 10000).fraction < 1.0);
}
