// Polling a remote state until it holds: every few milliseconds for the
// first second (what the add waits for usually takes tens of them, and a
// late look is time it loses), then backing off so a long wait costs the
// nodes little; bounded by zodan.sync_timeout, and interruptible through
// the runtime's sleep.
#pragma once

#include <algorithm>
#include <string>

#include "core/remote.hpp"

namespace zodan {

constexpr int kLongestPollMs = 10;      // while a wait is young
constexpr int kYoungWaitMs = 1000;
constexpr int kLongestLatePollMs = 100;  // after that

// Calls `done()` until it returns true. Throws UserError naming `what` when
// zodan.sync_timeout passes first. `done` may throw to end the wait early.
template <typename Done>
void wait_until(Runtime &rt, const std::string &what, Done &&done) {
    const int limit = rt.sync_timeout_ms();
    const int64_t deadline = rt.now_ms() + limit, young_until = rt.now_ms() + kYoungWaitMs;
    int delay = 2;
    while (!done()) {
        if (rt.now_ms() >= deadline)
            throw UserError("timed out after " + std::to_string(limit / 1000) + " s waiting for " + what, "",
                            "Check the nodes' logs and replication status; raise zodan.sync_timeout if the "
                            "cluster is just slow. Calling the procedure again resumes the run.");
        rt.sleep_ms(delay);
        delay = std::min(delay * 2, rt.now_ms() < young_until ? kLongestPollMs : kLongestLatePollMs);
    }
}

}  // namespace zodan
