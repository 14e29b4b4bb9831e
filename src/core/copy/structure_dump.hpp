// The copy's structure, as the copy point's snapshot has it: dumped on the
// source S by zodan's library there (two round trips and the archive), or
// by pg_dump on N's host, one round trip to S per catalog query it reads
// (docs/protocol.md, "The structure copy across the link";
// zodan.structure_dump chooses).
#pragma once

#include <string>
#include <vector>

#include "core/cluster/cluster_view.hpp"
#include "core/copy/copy_data.hpp"
#include "core/copy/copy_point.hpp"

namespace zodan {

// The copy's first session to S, from the run's spare sessions, with
// zodan's dump function sent to it at once (unless zodan.structure_dump =
// local): made while the copy point is taken, one round trip fewer on the
// copy's path. Its answer, a failure included, is read where the dump
// starts, as if it were sent then.
DumpSession prepare_dump_session(Runtime &rt, ClusterView &view);

// Writes the archive into `scratch` and returns its path. `source_session`
// is a session to S outside any snapshot; `outcome` gets where the dump was
// made and its size. A NOTICE says why S could not make it, where it falls
// back to N's host.
std::string dump_source_structure(Runtime &rt, ClusterView &view, const CopyPoint &point,
                                  const std::vector<std::string> &skip_schema, int new_node_major,
                                  DumpSession &source_session, ScratchDir &scratch, CopyOutcome &outcome);

// An --exclude-schema pattern that matches `name` alone (pg_dump reads the
// option as a pattern; a quoted name is literal).
std::string literal_pattern(const std::string &name);

}  // namespace zodan
