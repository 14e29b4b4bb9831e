// The one way the step logic waits for a remote state: it polls. Every few
// milliseconds for the first second (what the add waits for usually takes
// tens of them, and a late look is time it loses), then backing off so a
// long wait costs the nodes little; bounded by a deadline (zodan.sync_timeout
// from the wait's start, or one shared with other waits), and interruptible
// through the runtime's sleep. Every poll loop of the step logic goes
// through a Waiter, so the pace and the deadline rule live here only.
#pragma once

#include <cstdint>
#include <string>

#include "core/remote.hpp"

namespace zodan {

constexpr int kFirstPollMs = 2;
constexpr int kLongestPollMs = 10;      // while a wait is young
constexpr int kYoungWaitMs = 1000;
constexpr int kLongestLatePollMs = 100;  // after that

class Waiter {
public:
    // Bounded by zodan.sync_timeout from now.
    explicit Waiter(Runtime &rt);
    // Bounded by a deadline shared with other waits (Runtime::now_ms clock).
    Waiter(Runtime &rt, int64_t deadline_ms);

    // The pace of this wait, where its polls cost more (a statement on every
    // node) or the state moves at another rhythm: the first interval, and
    // the longest one while the wait is young and after.
    Waiter &pace(int first_ms, int longest_young_ms, int longest_late_ms);
    // A wait within this one: ends `ms` from now, or at this one's deadline
    // if that comes first; the default pace.
    Waiter within(int ms) const;

    int64_t deadline() const { return deadline_; }
    bool expired() const { return rt_.now_ms() >= deadline_; }
    // The interval the next sleep() takes.
    int interval() const { return next_; }
    // Whether the interval has reached the longest this wait allows.
    bool slowest() const { return next_ >= longest_young_ && next_ >= longest_late_; }
    // Sleeps the next interval (interruptible), then backs off.
    void sleep();
    // The state just moved: look again soon, as at a wait's start.
    void hurry() { next_ = 1; }
    // Whether a progress line is due (every zodan.progress_interval; never
    // when that is 0); true restarts the interval.
    bool report_due();
    // "timed out after N s": the opening of every timeout's message, N being
    // zodan.sync_timeout (the bound every deadline derives from).
    std::string timed_out() const;

    // Polls `done()` until it returns true. Throws UserError naming `what`
    // when the deadline passes first. `done` may throw to end the wait early.
    template <typename Done>
    void until(const std::string &what, Done &&done) {
        while (!done()) {
            if (expired()) throw timeout_error(what);
            sleep();
        }
    }

private:
    UserError timeout_error(const std::string &what) const;

    Runtime &rt_;
    int64_t deadline_, young_until_, next_report_;
    int next_ = kFirstPollMs;
    int longest_young_ = kLongestPollMs, longest_late_ = kLongestLatePollMs;
};

// Calls `done()` until it returns true, bounded by zodan.sync_timeout. Throws
// UserError naming `what` when it passes first. `done` may throw to end the
// wait early.
template <typename Done>
void wait_until(Runtime &rt, const std::string &what, Done &&done) {
    Waiter(rt).until(what, std::forward<Done>(done));
}

}  // namespace zodan
