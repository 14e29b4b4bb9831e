// The join window's rows: those the source S last changed while the add
// got ready (from the earliest mark on the other nodes to the copy point).
// Only they can meet a change that reaches S after the copy point and that
// S rejected as older; on N the copy marks every row with the epoch, which
// loses to everything. So after the copy, N rewrites each of them with the
// commit timestamp and origin it has on S, one transaction per (origin,
// timestamp), and resolves such a change as S did (docs/protocol.md, "Late
// conflicts").
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/waits/in_flight.hpp"
#include "core/cluster/member.hpp"

namespace zodan {

// The window's start from the marks of the other nodes (UTC text, or
// "-infinity" where a node's is unknown): the earliest. "" when there are
// none: with no other node, no change can be late.
std::string window_start(const std::map<std::string, std::string> &marks);

struct WindowOutcome {
    std::string from;             // the window's start ("" : none)
    int tables = 0;               // tables scanned
    long long found = 0;          // rows of the window on S
    long long rows = 0;           // rows rewritten on N
    long long commits = 0;        // transactions on N: one per (origin, timestamp)
    long long scan_ms = 0, restamp_ms = 0;
};

class WindowScan {
public:
    // Lists the copied tables on `source`, which is inside the copy's
    // snapshot, and sends the scan of their rows committed at or after
    // `from`; `source` is busy until restamp().
    WindowScan(Runtime &rt, Connection &source, const std::vector<std::string> &skip_schema, const std::string &from);
    // Waits for the scan, then rewrites the rows on N (indexes in place) in
    // a session of its own marked with `origin` (made and dropped here).
    WindowOutcome restamp(Member &new_node, const std::string &origin);

private:
    Runtime &rt_;
    InFlight scan_;
    std::map<std::string, std::string> parts_;  // table number -> its UPDATE on N
    WindowOutcome outcome_;
    int64_t started_ms_ = 0;
};

}  // namespace zodan
