// The window of a physical add from the fence on S to the run's journal on
// N (docs/physical.md, "When it fails"). A call can die anywhere in it; what
// it leaves is always one of:
//  - the fence on S, and N a standby (nothing asked of N yet): a later
//    call lifts the fence and drops the run's slots;
//  - the fence on S marked "promoting", and N promoted or about to be: a
//    later call lifts the fence and keeps the slots, and a later add_node on
//    N resumes the run from the fence's record as N replayed it (the
//    positions A and what the steps before the copy recorded reach N
//    through S's WAL, with the fence);
//  - the run's journal on N: resumed, or rolled back by remove_node.
// The fence is never lifted while N may still replay the lift and then be
// promoted: Spock on N would start S's subscriptions (docs/physical.md).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/plan/add_run.hpp"
#include "core/text/lsn.hpp"

namespace zodan::physical {

// Test builds only: zodan.fail_at_step / zodan.pause_at_step at `point`
// ("copy_source:<point>"), paused on N while a test holds the advisory
// lock zodan.pause.
void test_point(AddRun &run, const std::string &point);

// On S, after the fence: its record gains what a call on the promoted N
// needs to resume the run (S's positions A, the slot's start C, the steps'
// record so far, N's physical slot on S).
void record_window(AddRun &run, const std::map<std::string, Lsn> &positions, Lsn slot_start);

// N promoted: the fence's record on S marked "promoting" first (a later
// call then keeps the run's slots), the promotion asked for, and waited
// for until zodan.sync_timeout.
void promote(AddRun &run);

// After a failure inside the fence: the fence lifted, unless N's promotion
// was asked for and N is still in recovery after zodan.sync_timeout (then
// it stays, said in a WARNING, for a later call to lift). Never throws.
void lift_after_failure(AddRun &run) noexcept;

// A call on a promoted N whose physical run died before its journal
// started there: the run's record rebuilt from the fence N replayed
// (positions A, the slots, the method), with X where N's replay ended.
// Returns the steps that run had done (none when N holds no such fence:
// then this is no such call). Throws when N holds one but cannot resume it.
std::vector<StepId> resume_from_replayed_fence(AddRun &run);

// Where the newest timeline of a timeline history file starts (the end of
// the replay that preceded the promotion); 0 when it lists none.
Lsn switchpoint_of(const std::string &history);

// For spock.health_check: the fences a dead run left on these members
// lifted, as add_node and remove_node do, when no run holds the join lock
// (a fence then belongs to no live run); otherwise left, and said.
void lift_dead_fences_if_idle(Runtime &rt, const std::vector<Member *> &members, const std::string &who);

}  // namespace zodan::physical
