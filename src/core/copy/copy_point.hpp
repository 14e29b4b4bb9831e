// The copy point: the one position in the source S from which the new node
// N starts, taken by the product itself (docs/protocol.md, "The copy
// point"). It is the S -> N slot, its exported snapshot, and for every other
// node O the position P_O up to which S holds O's changes in that snapshot.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "core/cluster/cluster_view.hpp"
#include "core/text/lsn.hpp"

namespace zodan {

struct CopyPoint {
    std::string slot;            // on S; Spock's name for sub_S_N's slot
    Lsn consistent_point = 0;    // where the slot's stream starts
    std::string snapshot;        // valid while `holder` is open and idle
    std::map<std::string, Lsn> peer_positions;  // O -> P_O
    int attempts = 0;
    // The replication session that exported the snapshot.
    std::unique_ptr<Connection> holder;
};

// Takes the copy point on S, proven: with S's apply workers paused, the
// positions of S's subscriptions from every O are read, the slot is created
// with its snapshot, and the positions are read again. Only when they did
// not move does the point stand (no O change committed on S in between, so
// the snapshot holds O's changes exactly up to P_O); otherwise the slot goes
// and it starts again. A transaction holding an xid on S's instance makes
// the slot creation wait for it: the wait is reported (node, process, how
// long it has been open) every zodan.progress_interval, and ends at
// zodan.sync_timeout with an error naming it, with no slot left behind.
CopyPoint take_copy_point(Runtime &rt, ClusterView &view, const std::string &slot);

// Where S stands with each O: the position of S's subscription from O, as
// its replication origin has it (moved at each applied commit). Throws
// UserError when S shows none for an O (it never applied anything from it).
std::map<std::string, Lsn> positions_on_source(ClusterView &view);

}  // namespace zodan
