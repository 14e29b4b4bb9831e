// The physical path of spock.add_node (docs/physical.md): the new node N is
// a hot standby of the source S, and the call, made on N, promotes it at a
// fence written into S's WAL instead of copying S. Here: the choice of the
// copy method, the checks of the standby, the fence, and what the path
// undoes or strips. The steps that use them are in src/core/steps/
// (check_standby, prepare_other_nodes_physical, seed_from_standby).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/plan/add_run.hpp"
#include "core/cluster/checks.hpp"

namespace zodan::physical {

// What this call of a physical run did that the journal cannot hold yet:
// until the promotion N is read-only, so its journal starts after it.
struct PhysicalState {
    std::string token;             // names this run's probe and fence on S
    bool peer_slots_ours = false;  // the slots on the O's for N are this call's
    bool source_slot_made = false;
    bool fence_on = false;
    bool promote_requested = false;  // from then on N may end up promoted, whatever this call does
    bool promoted = false;
    std::string standby_slot;      // N's physical slot on S (primary_slot_name), if any
};
PhysicalState &state_of(AddRun &run);

// zodan.copy_method against what N is: physical when N is a standby (auto
// or physical), logical when it is not (auto or logical); a setting N
// contradicts is refused, naming what to do.
CopyMethod choose_copy_method(CopyMethodSetting setting, bool standby);

// The call runs on the new node, a standby: new_node_dsn reaches this very
// instance and database (the postmaster's start tells it from S, whose
// system identifier it shares). Before the join lock, which would find S's
// own taken twice.
CheckResult check_runs_on_standby(Runtime &rt, ClusterView &view);

// The checks of a physical add, before anything changes: the call runs on
// N (proven by the instance, not by the system identifier, which S shares),
// N is a streaming hot standby of S, S a primary with zodan installed,
// S's sets without row filters or column lists (the copy holds every row),
// N no synchronous standby of S, and what the logical checks also ask of
// the cluster (subscriptions enabled, the name, the headroom).
std::vector<CheckResult> check_standby_of_source(AddRun &run);
// N replays S's WAL now: a row written on S is seen on N within
// zodan.sync_timeout (the replay lag reported meanwhile). Writes on S.
void prove_replay(AddRun &run, Figures &figures);

// The fence (docs/protocol.md, "The physical seed"): on S, in one
// transaction, every subscription into S disabled and the fence recorded;
// then its apply workers gone. Returns the subscriptions disabled.
std::vector<std::string> put_fence(AddRun &run);
// This run's fence lifted on S: its subscriptions enabled, its record gone.
void lift_fence(AddRun &run);
// The fences a run that died left on these members, lifted, each reported
// (a WARNING naming the new node and the subscriptions enabled again).
// Only under the join lock on every one of them: no live run then holds one.
void lift_dead_fences(Runtime &rt, const std::vector<Member *> &members, const std::string &who);

// A physical run that fails before the promotion leaves N a standby and
// nothing of itself behind: the fence lifted, the slots it made dropped.
// Never throws (the run's own error is what matters).
void abandon_before_promotion(AddRun &run) noexcept;

// S's identity on the promoted N, removed by catalog DML and never by
// spock.sub_drop or node_drop (which would reach S's slots on the peers):
// S's logical slots and replication origins, its node, subscriptions and
// sets; primary_conninfo and primary_slot_name reset. A node N already
// registered as itself (a resumed call) is left alone.
void strip_source_identity(AddRun &run, Figures &figures);
// Before the run's journal starts on N: the journal N copied from S (S's
// runs, and the fence's record as N replayed it).
void drop_copied_journal(AddRun &run);

}  // namespace zodan::physical
