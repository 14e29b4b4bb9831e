#include "core/protocol/verify_data.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "core/protocol/replication_waits.hpp"
#include "core/protocol/spock_sql.hpp"
#include "core/protocol/util.hpp"
#include "core/protocol/verify_ranges.hpp"
#include "core/text/text_array.hpp"

namespace zodan {

namespace {

constexpr int kRounds = 3;           // of range sums, sync events between them
constexpr size_t kMaxRangesToNarrow = 64;
constexpr size_t kExamples = 5;

struct Table {
    std::string rel;
    int ranges = 1;
    std::string sums_sql, rows_sql;  // written by the source, quoting done there
    std::vector<int> differing;      // ranges, after the last round
};

std::map<int, RangeSum> sums_of(const QueryResult &r) {
    std::map<int, RangeSum> out;
    for (size_t i = 0; i < r.size(); ++i)
        out[std::stoi(r.text(i, "range"))] = {std::stoll(r.text(i, "n", "0")), r.text(i, "hash", "0")};
    return out;
}

std::vector<KeyedRow> rows_of(const QueryResult &r) {
    std::vector<KeyedRow> out;
    for (size_t i = 0; i < r.size(); ++i) out.push_back({r.text(i, "k"), r.text(i, "h")});
    return out;
}

std::string int_array(const std::vector<int> &v) {
    std::vector<std::string> s;
    for (int i : v) s.push_back(std::to_string(i));
    return text_array_literal(s);
}

// Everything written anywhere before this has reached S and N.
void sync_round(Runtime &rt, Member &source, Member &new_node, const std::vector<Member *> &existing) {
    std::vector<QueryResult> events = rt.exec_all(same_query(existing, sql::sync_event()));
    std::map<std::string, Lsn> all, from_others;
    for (size_t i = 0; i < existing.size(); ++i) {
        all[existing[i]->name] = lsn_of(events[i].scalar());
        if (existing[i] != &source) from_others[existing[i]->name] = all[existing[i]->name];
    }
    wait_applied(rt, {&new_node}, all);
    wait_applied(rt, {&source}, from_others);
}

}  // namespace

VerifyOutcome verify_against_source(Runtime &rt, Member &source, Member &new_node, const std::vector<Member *> &existing) {
    VerifyOutcome outcome;
    const int64_t t0 = rt.now_ms();
    // The tables and their statements, as S writes them.
    QueryResult listed = source.db().exec(sql::verify_tables());
    std::vector<Table> tables;
    for (size_t i = 0; i < listed.size(); ++i) {
        Table t;
        t.rel = listed.text(i, "rel");
        t.ranges = range_count(std::stoll(listed.text(i, "rows", "0")));
        QueryResult stmts = source.db().exec(sql::verify_statements(t.rel, t.ranges));
        t.sums_sql = stmts.text(0, "sums");
        t.rows_sql = stmts.text(0, "rows");
        tables.push_back(std::move(t));
    }
    outcome.tables = static_cast<long long>(tables.size());

    // Rounds of range sums, on both nodes at once; only the ranges that
    // differed are read again.
    for (int round = 1; round <= kRounds; ++round) {
        outcome.rounds = round;
        bool any = false;
        for (Table &t : tables) {
            if (round > 1 && t.differing.empty()) continue;
            const Value only = round == 1 ? Value() : Value(int_array(t.differing));
            std::vector<QueryResult> r = rt.exec_all(
                {{source.conn.get(), {"sum " + t.rel + " by key range", t.sums_sql, {only}}},
                 {new_node.conn.get(), {"sum " + t.rel + " by key range", t.sums_sql, {only}}}});
            if (round == 1) {
                outcome.ranges += t.ranges;
                for (size_t i = 0; i < r[0].size(); ++i) outcome.rows += std::stoll(r[0].text(i, "n", "0"));
            }
            t.differing = differing_ranges(sums_of(r[0]), sums_of(r[1]));
            any = any || !t.differing.empty();
        }
        if (!any) {
            outcome.took_ms = rt.now_ms() - t0;
            return outcome;
        }
        sync_round(rt, source, new_node, existing);
    }

    // Key by key in what still differs; keys that differ again after one
    // more round are divergences.
    std::vector<std::string> divergences;
    for (Table &t : tables) {
        if (t.differing.empty()) continue;
        std::vector<int> ranges(t.differing.begin(),
                                t.differing.begin() + static_cast<long>(std::min(t.differing.size(), kMaxRangesToNarrow)));
        auto keys_now = [&] {
            std::vector<QueryResult> r = rt.exec_all(
                {{source.conn.get(), {"read " + t.rel + " by key", t.rows_sql, {int_array(ranges)}}},
                 {new_node.conn.get(), {"read " + t.rel + " by key", t.rows_sql, {int_array(ranges)}}}});
            return differing_keys(rows_of(r[0]), rows_of(r[1]));
        };
        std::vector<KeyDifference> first = keys_now();
        if (first.empty()) continue;
        sync_round(rt, source, new_node, existing);
        std::vector<KeyDifference> again = keys_now();
        std::set<std::string> before;
        for (const KeyDifference &d : first) before.insert(d.key);
        std::vector<std::string> examples;
        size_t count = 0;
        for (const KeyDifference &d : again) {
            if (!before.count(d.key)) continue;  // moved meanwhile: in flight, not lost
            ++count;
            if (examples.size() < kExamples) examples.push_back(describe(d, new_node.name));
        }
        if (count)
            divergences.push_back(t.rel + ": " + std::to_string(count) + " row(s) differ (" + join(examples, "; ") +
                                  (count > examples.size() ? "; ..." : "") + ")");
    }
    outcome.took_ms = rt.now_ms() - t0;
    if (!divergences.empty())
        throw UserError("node \"" + new_node.name + "\" differs from the source \"" + source.name + "\": " +
                            divergences.front(),
                        divergences.size() > 1 ? "Also: " + join(std::vector<std::string>(divergences.begin() + 1,
                                                                                         divergences.end()), "; ")
                                               : "",
                        "The rows named are not the same on both nodes after every change in flight arrived. Look "
                        "at them on both; spock.remove_node and a new add start the node afresh.");
    return outcome;
}

}  // namespace zodan
