// What a run of spock.add_node has made and found, as later steps, a
// resumed call and spock.remove_node's rollback need it: the run's record.
// The journal holds it inside each step's output (spock.zodan_steps.output,
// beside the step's figures); this codec is the one place that writes
// those keys and reads them back, for every reader (the steps, resume,
// remove_node, the unit tests' fake cluster). The SQL views of the journal
// (sql/zodan--*.sql) read the same keys, named in docs/add_node.md.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/plan/plan.hpp"
#include "core/copy/cleanup.hpp"
#include "core/text/json.hpp"
#include "core/text/lsn.hpp"

namespace zodan {

// How the new node got the source's data: the product's own logical copy,
// or (Physical) the new node was a hot standby of the source, promoted at a
// fence (docs/physical.md). Spock's own initial sync is only found in
// journals of runs begun before zodan 0.3.0, which cannot be resumed.
enum class CopyMethod { OwnCopy, SpockSync, Physical };

// A path from an existing node X into N: sub_X_N's slot on X.
struct PathIn {
    std::string slot;
    Lsn sync_lsn = 0;         // O only: its sync event after the slot, applied on S (e_O)
    std::string sets;         // O only: its sets, as listed
    std::string window_from;  // O only: a commit of O's before its slot (join_window.hpp); "-infinity": unknown
};

// prepare_other_nodes
struct PreparedPaths {
    std::vector<std::string> members;     // S and every O, as the run found them
    std::map<std::string, PathIn> paths;  // S and every O
};

// copy_source
struct SourceCopy {
    CopyMethod method = CopyMethod::OwnCopy;
    Lsn consistent_point = 0;             // where sub_S_N's stream starts (physical: X)
    Lsn promoted_at = 0;                  // physical: X, where N's replay of S ended (0: not promoted)
    std::map<std::string, Lsn> positions;  // O -> P_O: how far the copy holds O's changes
    std::vector<std::string> skip_schema;
    std::optional<CopyRecord> objects;    // what was on N before the copy, and after it
    bool complete = false;                // the copy's data and positions were recorded
};

// mirror_replication_sets
struct MirroredSets {
    std::vector<std::string> deferred;  // relations N lacked then (created after the copy point)
};

struct AddRecord {
    CopyMethod copy_method = CopyMethod::OwnCopy;  // check_versions
    std::optional<PreparedPaths> prepared;
    std::optional<SourceCopy> copy;
    std::optional<MirroredSets> sets;

    // Whether the part `step` produces is held (a step without a part: true).
    bool has(StepId step) const;
};

namespace record_codec {

// The journal keys of `step`'s part of the record, as one JSON object to
// merge into the step's output (empty when the step has no part).
JsonObject encode(StepId step, const AddRecord &record);
// Reads `step`'s part from the step's output into `record`.
void decode(StepId step, const JsonValue &output, AddRecord &record);

}  // namespace record_codec

}  // namespace zodan
