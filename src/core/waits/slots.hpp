// Creating replication slots, and waiting for what they wait for. A logical
// slot cannot start while a transaction holding an xid is open anywhere on
// its node's instance (PostgreSQL waits for each); an add must then wait,
// and say what it waits for.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/cluster/member.hpp"

namespace zodan {

// A transaction holding an xid open longer than this is waited for before
// a slot starts (sql::transactions_holding_xids); younger ones are
// ordinary traffic.
constexpr int kOldTransactionMs = 500;

// Until no transaction that holds an xid has been open longer than half a
// second on any of the nodes. Every zodan.progress_interval it reports
// each one (node, process, application, how long it has been open); at
// `deadline_ms` it fails with an error naming the oldest. `why` says what
// cannot go on before ("a replication slot there cannot start before").
// Returns how long its last look took: one round trip to the farthest of
// the nodes, which every wait for an answer from them must allow for.
int64_t wait_for_long_transactions(Runtime &rt, const std::vector<Member *> &nodes, int64_t deadline_ms,
                                const std::string &why);

// A slot's creation also waits for its node to flush the WAL it wrote to
// start from (PostgreSQL writes a snapshot of running transactions and reads
// it back): on a node that commits nothing, that is the WAL writer's next
// round, 200 ms later, two or three times over. `flush` (given a node)
// writes and flushes a sync event there, which ends such a wait at once.
using Flusher = std::function<void(Member &)>;

// Creates each (node, slot) at once (Spock's output plugin) over the
// connection given for it, waiting for long transactions as above and
// flushing the nodes that `flush` can reach while they are made. An attempt
// that waits more than a second and a half beyond two round trips to the
// farthest node is cancelled (PostgreSQL then drops the
// half-made slot) and made again once the nodes have no long transaction.
// With `sync_event_after`, the same statement writes a sync event after
// the slot's start (sql::create_slot_then_sync_event): one round trip
// where a caller needs an event of the node past its slot. `looked_ms`
// >= 0: the caller has just looked for long transactions on these nodes
// (the look taking that long) and found none, so the first attempt does
// not look again. Returns each slot's answer (lsn, and sync_lsn with
// `sync_event_after`), in the order given.
struct SlotToMake {
    Member *node;
    std::string slot;
    Connection *via = nullptr;  // default: the member's own connection
    bool sync_event_after = false;
};
std::vector<QueryResult> create_slots(Runtime &rt, const std::vector<SlotToMake> &slots, const Flusher &flush = {},
                                      int64_t looked_ms = -1);

}  // namespace zodan
