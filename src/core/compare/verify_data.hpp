// Proving the result of a join: the new node N against the source S, table
// by table, with hashes over key ranges (verify_ranges.hpp), not row counts
// alone. Ranges that differ are compared again after a round of sync events
// (rows still in flight converge); the rows of ranges that still differ
// are compared key by key, round after round: a key that differs while a
// round moved neither side is a divergence (the table and example keys are
// named, and it fails); one written throughout every round is named in a
// warning as not compared.
#pragma once

#include <string>
#include <vector>

#include "core/cluster/member.hpp"

namespace zodan {

struct VerifyOutcome {
    long long tables = 0, ranges = 0, rows = 0, rounds = 0, took_ms = 0;
    std::vector<std::string> unsettled;  // "public.t: 2 key(s) (7, 9)": kept changing, not compared
};

// `existing` are the nodes whose changes may still be in flight (S and
// every O): each round waits until N and S have applied a sync event of
// every one of them. Throws UserError naming the divergences.
VerifyOutcome verify_against_source(Runtime &rt, Member &source, Member &new_node, const std::vector<Member *> &existing);

}  // namespace zodan
