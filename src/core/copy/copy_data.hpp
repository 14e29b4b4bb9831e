// The product's own copy of the source S into the new node N, from the copy
// point (copy_point.hpp): the structure from the point's snapshot
// (pg_dump --snapshot, restored before the data), the tables over several
// streams at once (largest first, very large ones in block ranges), the
// sequences, then indexes and constraints (pg_restore -j). The rows are
// written as Spock's own sync writes them: with a replication origin and the
// timestamp 'epoch', so any later change from any node wins over them;
// except those of the join window, which are then rewritten with the commit
// timestamp and origin they have on S (join_window.hpp).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/cluster/cluster_view.hpp"
#include "core/copy/copy_point.hpp"
#include "core/copy/copy_progress.hpp"
#include "core/copy/join_window.hpp"

namespace zodan {

// The copy's first session to S, over which the structure is dumped:
// zodan's dump function may have been sent to it ahead (structure_dump.hpp,
// prepare_dump_session), its answer not yet read.
struct DumpSession {
    std::unique_ptr<Connection> conn;
    bool function_sent = false;
};

struct CopyOutcome {
    int tables = 0, jobs = 0, streams = 0, sequences = 0;
    int binary_jobs = 0;  // of the jobs, those whose rows went in binary
    long long bytes = 0;  // streamed
    // Where the time went: the structure (dump and pre-data restore), the
    // data streams with the sequences, the indexes and constraints.
    long long structure_ms = 0, data_ms = 0, indexes_ms = 0;
    // Where the structure was dumped ("source": by zodan's library on S;
    // "new node": by pg_dump on N's host, across the link) and the
    // archive's size.
    std::string structure_dump;
    long long structure_bytes = 0;
    WindowOutcome window;
};

// `streams` caps the parallel data streams; `on_progress` is called now and
// then during the data copy. The point's snapshot holder is closed once no
// one needs the snapshot any more. `window_from`: the join window's start
// (window_start), or "" for none.
CopyOutcome copy_at_point(Runtime &rt, ClusterView &view, CopyPoint &point, DumpSession first_session,
                          const std::vector<std::string> &skip_schema, int streams, const std::string &window_from,
                          const std::function<void(const CopySample &)> &on_progress);

// The copy's own replication origins on N, one per stream. Origins belong
// to the instance, not the database: the name carries N's database oid.
std::string copy_origin_name(const std::string &database_oid, int stream);

}  // namespace zodan
