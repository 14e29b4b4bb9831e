// WAL the join makes the existing nodes keep. From prepare_other_nodes on,
// every existing node holds a slot for the new node's subscription from it
// (the source from the copy point on), and that slot keeps every WAL byte
// the node writes until the new node has applied it: through the copy, the
// index builds, the comparison. Where max_slot_wal_keep_size is set, a
// checkpoint invalidates a slot that falls further behind than that, and
// the join cannot end. So: an estimate against the limit before anything
// changes (check_wal_retention), and, during the run, a watch over the
// join's slots that fails while the slot can still be saved (SlotWatch).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/cluster/checks.hpp"
#include "core/cluster/cluster_view.hpp"

namespace zodan {

// The rate the estimate assumes the join moves the source's data at (copy,
// indexes, comparison), a quarter of what docs/benchmark.md measured for
// the copy alone on a 2-CPU machine: an estimate that errs towards holding
// longer. And the time the rest of the join takes whatever the size.
constexpr long long kAssumedJoinBytesPerSecond = 50LL * 1024 * 1024;
constexpr long long kJoinBaseSeconds = 60;
// How long the WAL rate of each node is sampled for (only where a limit is set).
constexpr int kWalSampleMs = 1000;

// Seconds the existing nodes are expected to keep WAL for the join, given
// the size of the source's database.
long long expected_hold_seconds(long long source_bytes);

// One existing node's figures and the verdict on them. `keep_bytes` < 0:
// max_slot_wal_keep_size is -1 (no limit), nothing to estimate.
struct WalRetentionFigures {
    std::string node;
    long long keep_bytes = -1;
    double wal_bytes_per_second = 0;
    long long hold_seconds = 0;
    long long estimated_bytes() const;
};
// Passed when there is no limit or the estimate fits in half of it; a
// WARNING-worthy pass (`warning` set) when it fits in the whole of it;
// failed beyond that.
struct WalRetentionVerdict {
    CheckResult result;
    std::string warning;  // empty: none
};
WalRetentionVerdict judge_wal_retention(const WalRetentionFigures &f);

// The first sample where it was read with other reads already: one row of
// keep_bytes and wal (sql::wal_retention) per existing node, in the order
// of ClusterView::existing(), and when (Runtime::now_ms).
struct WalSample {
    std::vector<QueryResult> reads;
    int64_t at_ms = 0;
};
// Reads max_slot_wal_keep_size on every existing node (or takes `sampled`);
// where it is set, samples the node's WAL rate over kWalSampleMs and judges
// the estimate. Warnings are reported (Level::Warning) as they are found.
std::vector<CheckResult> check_wal_retention(Runtime &rt, ClusterView &view, long long source_bytes,
                                            const std::optional<WalSample> &sampled = std::nullopt);

// One of the join's slots as its node reports it.
struct SlotState {
    std::string node, slot, wal_status;
    std::optional<long long> safe_wal_size;  // bytes; none when unlimited or lost
    long long keep_bytes = -1;
};
// The error to stop the join with, if the slot is at risk: 'unreserved'
// (past max_slot_wal_keep_size: the next checkpoint invalidates it),
// 'lost' (invalidated already), or safe_wal_size under a tenth of the limit.
std::optional<UserError> slot_at_risk(const SlotState &s);

// While one exists (one per run, from the first step past the checks and
// N's registration, which make no slot, to the end),
// every wait of the run (Waiter::sleep), the copy's progress and the
// comparison between its statements look, at most once a second, at the
// join's slots on the existing nodes where max_slot_wal_keep_size is set,
// over connections of the watch's own (the run's sessions may be busy),
// and throw slot_at_risk's error. Statements that run long without such a
// look (pg_restore's index builds) are not watched meanwhile.
class SlotWatch {
public:
    // `slots` gives, when asked, the join's slots made so far: node -> slot.
    using Slots = std::function<std::map<std::string, std::string>()>;
    // `known_keep_bytes`: max_slot_wal_keep_size of nodes already read
    // (ClusterView::wal_keep_bytes); the others' is read now.
    SlotWatch(Runtime &rt, std::vector<Member *> nodes, Slots slots,
              const std::map<std::string, long long> &known_keep_bytes = {});
    SlotWatch(const SlotWatch &) = delete;
    SlotWatch &operator=(const SlotWatch &) = delete;
    ~SlotWatch();

    // Looks now (whether due or not); throws the error of the first slot at risk.
    void look();
    // Looks through the watch of this run, if there is one and a look is due.
    static void look_if_due();
    // Looks through the watch of this run, if there is one, due or not.
    static void look_now();

private:
    struct Watched {
        Member *node;
        long long keep_bytes;
        std::unique_ptr<Connection> conn;  // opened at the first look
    };
    Runtime &rt_;
    std::vector<Watched> watched_;
    Slots slots_;
    int64_t next_look_ = 0;
    bool looking_ = false;
    SlotWatch *previous_;
};

}  // namespace zodan
