#include <catch2/catch.hpp>

#include <vector>

#include "core/waits/waiter.hpp"

using namespace zodan;

namespace {

// A clock that moves only when the waiter sleeps, and records each sleep.
class Clock : public Runtime {
public:
    std::vector<int> sleeps;
    std::vector<std::string> notices;
    int64_t now = 0;
    int timeout_ms = 3000;
    int progress_ms = 0;

    std::unique_ptr<Connection> connect(const std::string &, const std::string &) override { return nullptr; }
    std::unique_ptr<Connection> connect_replication(const std::string &, const std::string &) override {
        return nullptr;
    }
    void sleep_ms(int ms) override {
        sleeps.push_back(ms);
        now += ms;
    }
    int64_t now_ms() override { return now; }
    void report(Level, const std::string &message, const std::string &) override { notices.push_back(message); }
    std::pair<std::string, std::string> local_identity() override { return {}; }
    int sync_timeout_ms() override { return timeout_ms; }
    int progress_interval_ms() override { return progress_ms; }
    QueryResult read_local(const Query &) override { return {}; }
    std::string run_program(const Program &) override { return ""; }
    std::unique_ptr<ScratchDir> scratch_dir() override { return nullptr; }
    void copy_jobs(const std::vector<CopyLane> &, const std::vector<CopyJob> &,
                   const std::function<void(const CopyState &)> &) override {}
};

}  // namespace

TEST_CASE("waiter: polls fast while young, then backs off", "[waiter]") {
    Clock rt;
    rt.timeout_ms = 60000;
    int polls = 0;
    wait_until(rt, "x", [&] { return ++polls > 200; });
    REQUIRE(rt.sleeps.size() >= 10);
    CHECK(std::vector<int>(rt.sleeps.begin(), rt.sleeps.begin() + 5) == std::vector<int>{2, 4, 8, 10, 10});
    // Nothing longer than 10 ms within the first second, and 100 ms after it.
    int64_t t = 0;
    for (int s : rt.sleeps) {
        CHECK(s <= (t < kYoungWaitMs ? kLongestPollMs : kLongestLatePollMs));
        t += s;
    }
    CHECK(rt.sleeps.back() == kLongestLatePollMs);
}

TEST_CASE("waiter: the deadline ends the wait with the operator's message", "[waiter]") {
    Clock rt;
    rt.timeout_ms = 3000;
    try {
        wait_until(rt, "the moon", [] { return false; });
        FAIL("no timeout");
    } catch (const UserError &e) {
        CHECK(std::string(e.what()) == "timed out after 3 s waiting for the moon");
        CHECK(e.hint().find("zodan.sync_timeout") != std::string::npos);
    }
    CHECK(rt.now >= 3000);
    CHECK(rt.now < 3000 + kLongestLatePollMs + 1);
}

TEST_CASE("waiter: a shared deadline bounds waits within it", "[waiter]") {
    Clock rt;
    const Waiter whole(rt, 500);
    Waiter attempt = whole.within(2000);
    CHECK(attempt.deadline() == 500);  // the shared one comes first
    rt.now = 100;
    CHECK(whole.within(50).deadline() == 150);
    while (!attempt.expired()) attempt.sleep();
    CHECK(rt.now >= 500);
    CHECK(whole.expired());
}

TEST_CASE("waiter: a wait's own pace, and hurrying back to fast polls", "[waiter]") {
    Clock rt;
    Waiter w(rt);
    w.pace(20, 250, 250);
    for (int i = 0; i < 6; ++i) w.sleep();
    CHECK(rt.sleeps == std::vector<int>{20, 40, 80, 160, 250, 250});
    CHECK(w.slowest());
    w.hurry();
    CHECK_FALSE(w.slowest());
    w.sleep();
    w.sleep();
    CHECK(rt.sleeps.back() == 2);
    CHECK(rt.sleeps[rt.sleeps.size() - 2] == 1);
}

TEST_CASE("waiter: progress is due every zodan.progress_interval, never when 0", "[waiter]") {
    Clock rt;
    Waiter quiet(rt);
    rt.now = 100000;
    CHECK_FALSE(quiet.report_due());
    rt.progress_ms = 1000;
    rt.now = 0;
    Waiter w(rt);
    CHECK_FALSE(w.report_due());
    rt.now = 1000;
    CHECK(w.report_due());
    CHECK_FALSE(w.report_due());  // restarted
    rt.now = 2000;
    CHECK(w.report_due());
}
