// Proving the result of a join: the new node N against the source S, table
// by table, with hashes over key ranges (verify_ranges.hpp), not row counts
// alone. Ranges that differ are compared again after a round of sync events
// (rows still in flight converge); the rows of ranges that still differ
// are compared key by key, round after round: a key that differs while a
// round moved neither side is a divergence (the table and example keys are
// named, and it fails); one written throughout every round is named in a
// warning as not compared.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/cluster/member.hpp"
#include "core/compare/verify_ranges.hpp"

namespace zodan {

struct VerifyOutcome {
    long long tables = 0, ranges = 0, rows = 0, rounds = 0, took_ms = 0;
    long long statements = 0;  // range-sum statements of the first round (per node)
    std::vector<std::string> unsettled;  // "public.t: 2 key(s) (7, 9)": kept changing, not compared
};

// `existing` are the nodes whose changes may still be in flight (S and
// every O): each round waits until N and S have applied a sync event of
// every one of them. Throws UserError naming the divergences.
// A table larger than `chunk_rows` whose primary key is one column of a
// type every node orders alike is read `chunk_rows` rows at a time, by
// intervals of that key (docs/protocol.md, "The comparison"), so that no
// statement needs the whole table within zodan.sync_timeout. `on_progress`
// gets, every zodan.progress_interval, what a NOTICE then says.
constexpr long long kChunkRows = 500000;
using VerifyProgress = std::function<void(const VerifySample &)>;
VerifyOutcome verify_against_source(Runtime &rt, Member &source, Member &new_node, const std::vector<Member *> &existing,
                                    const VerifyProgress &on_progress = {}, long long chunk_rows = kChunkRows);

}  // namespace zodan
