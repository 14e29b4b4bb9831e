#include "core/waits/waiter.hpp"

#include <algorithm>

#include "core/waits/wal_retention.hpp"

namespace zodan {

Waiter::Waiter(Runtime &rt) : Waiter(rt, rt.now_ms() + rt.sync_timeout_ms()) {}

Waiter::Waiter(Runtime &rt, int64_t deadline_ms) : rt_(rt), deadline_(deadline_ms) {
    const int64_t now = rt_.now_ms();
    young_until_ = now + kYoungWaitMs;
    next_report_ = now + rt_.progress_interval_ms();
}

Waiter &Waiter::pace(int first_ms, int longest_young_ms, int longest_late_ms) {
    next_ = first_ms;
    longest_young_ = longest_young_ms;
    longest_late_ = longest_late_ms;
    return *this;
}

Waiter Waiter::within(int ms) const { return Waiter(rt_, std::min(deadline_, rt_.now_ms() + ms)); }

void Waiter::sleep() {
    // Every wait of a run also watches the join's slots (wal_retention.hpp).
    SlotWatch::look_if_due();
    rt_.sleep_ms(next_);
    next_ = std::min(next_ * 2, rt_.now_ms() < young_until_ ? longest_young_ : longest_late_);
}

bool Waiter::report_due() {
    const int interval = rt_.progress_interval_ms();
    if (interval <= 0 || rt_.now_ms() < next_report_) return false;
    next_report_ = rt_.now_ms() + interval;
    return true;
}

std::string Waiter::timed_out() const { return "timed out after " + std::to_string(rt_.sync_timeout_ms() / 1000) + " s"; }

UserError Waiter::timeout_error(const std::string &what) const {
    return UserError(timed_out() + " waiting for " + what, "",
                     "Check the nodes' logs and replication status; raise zodan.sync_timeout if the "
                     "cluster is just slow. Calling the procedure again resumes the run.",
                     Cause::TimedOut);
}

}  // namespace zodan
