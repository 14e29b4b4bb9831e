// The statements of the window between the fence and the run's journal on
// N (docs/physical.md, "When it fails"): what the fence's record on S
// gains for a call that resumes on the promoted N, the promotion asked for
// without waiting (so that a test can stop the call in the middle of it),
// and what a later call reads back. Values travel as parameters.
#pragma once

#include <string>

#include "core/remote.hpp"

namespace zodan::physical::stmt {

// On S: the fence `token`'s record gains the keys of `json` (an object).
// N replays it like the fence itself.
Query amend_fence(const std::string &token, const std::string &json);
// On N: the promotion asked for, not waited for: requested.
Query request_promotion();
// On N: in_recovery, replayed (pg_last_wal_replay_lsn(), "" when this
// server never was in recovery since its start) and, once promoted, the
// history file of its timeline (history; "" when missing).
Query replay_end();
// On N: the newest fence of S for N that N replayed with its window
// recorded (fence: the fence step's output, JSON), or no row.
Query replayed_fence(const std::string &src, const std::string &new_node);
// On N: the subscriptions into its local node that are enabled: n.
Query enabled_inbound();
// On any node: every fence recorded there: new_node, slots (JSON),
// promoting ("true" once that run asked for its standby's promotion).
Query dead_fences();
// On N: the journal's runs but `run_id` (those N copied from S).
Query drop_other_runs(int64_t run_id);

}  // namespace zodan::physical::stmt
