#include "core/compare/verify_data.hpp"

#include <algorithm>
#include <map>

#include "core/waits/replication_waits.hpp"
#include "core/statements/spock_sql.hpp"
#include "core/util.hpp"
#include "core/compare/verify_ranges.hpp"
#include "core/text/text_array.hpp"

namespace zodan {

namespace {

constexpr int kRounds = 3;           // of range sums, sync events between them
constexpr int kKeyRounds = 5;        // reads of the keys still differing, the same
constexpr size_t kRangesPerRead = 64;  // ranges whose rows one key-by-key read fetches
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

// Up to kRangesPerRead differing ranges of one table, read key by key, and
// what its keys turned out to be so far.
struct KeyBatch {
    const Table *table;
    std::vector<int> ranges;
    std::map<std::string, KeyRows> moving, diverged;
};

// Every batch read, then again after each sync round (one round for all of
// them) until each differing key agrees, diverged or kKeyRounds passed.
void compare_keys(Runtime &rt, Member &source, Member &new_node, const std::vector<Member *> &existing,
                  std::vector<KeyBatch> &batches) {
    auto read_keys = [&](const KeyBatch &b) {
        const Table &t = *b.table;
        std::vector<QueryResult> r =
            rt.exec_all({{source.conn.get(), {Stmt::VerifyRows, "read " + t.rel + " by key", t.rows_sql, {int_array(b.ranges)}, false, t.rel}},
                         {new_node.conn.get(), {Stmt::VerifyRows, "read " + t.rel + " by key", t.rows_sql, {int_array(b.ranges)}, false, t.rel}}});
        return rows_by_key(rows_of(r[0]), rows_of(r[1]));
    };
    bool any = false;
    for (KeyBatch &b : batches) {
        for (auto &[key, rows] : read_keys(b))
            if (!rows.agree()) b.moving.emplace(key, std::move(rows));
        any = any || !b.moving.empty();
    }
    for (int round = 1; round <= kKeyRounds && any; ++round) {
        sync_round(rt, source, new_node, existing);
        any = false;
        for (KeyBatch &b : batches) {
            if (b.moving.empty()) continue;
            std::map<std::string, KeyRows> now = read_keys(b);
            for (auto it = b.moving.begin(); it != b.moving.end();) {
                const KeyRows after = now[it->first];
                switch (judge_key(it->second, after)) {
                case KeyVerdict::Agrees:
                    it = b.moving.erase(it);
                    break;
                case KeyVerdict::Diverged:
                    b.diverged.emplace(it->first, after);
                    it = b.moving.erase(it);
                    break;
                case KeyVerdict::Moving:
                    it->second = after;
                    ++it;
                    break;
                }
            }
            any = any || !b.moving.empty();
        }
    }
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
                {{source.conn.get(), {Stmt::VerifySums, "sum " + t.rel + " by key range", t.sums_sql, {only}, false, t.rel}},
                 {new_node.conn.get(), {Stmt::VerifySums, "sum " + t.rel + " by key range", t.sums_sql, {only}, false, t.rel}}});
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

    // Key by key in what still differs: a key is a divergence once a sync
    // round moved neither side's rows and they still differ; one that moved
    // is read again. A key written throughout every round (a hot row) can
    // not be compared by reading while writes go on: it is named in a
    // warning, not called a divergence, or a healthy busy cluster could
    // never be joined.
    std::vector<KeyBatch> batches;
    for (const Table &t : tables)
        for (size_t first = 0; first < t.differing.size(); first += kRangesPerRead)
            batches.push_back({&t,
                               {t.differing.begin() + static_cast<long>(first),
                                t.differing.begin() + static_cast<long>(std::min(t.differing.size(), first + kRangesPerRead))},
                               {},
                               {}});
    compare_keys(rt, source, new_node, existing, batches);

    std::vector<std::string> divergences;
    for (const Table &t : tables) {
        std::map<std::string, KeyRows> moving, diverged;
        for (KeyBatch &b : batches)
            if (b.table == &t) {
                moving.merge(b.moving);
                diverged.merge(b.diverged);
            }
        if (!moving.empty()) {
            std::vector<std::string> keys;
            for (const auto &[key, rows] : moving)
                if (keys.size() < kExamples) keys.push_back(key);
            outcome.unsettled.push_back(t.rel + ": " + std::to_string(moving.size()) + " key(s) (" + join(keys, ", ") +
                                        (moving.size() > keys.size() ? ", ..." : "") + ")");
        }
        std::vector<std::string> examples;
        for (const auto &[key, rows] : diverged) {
            if (examples.size() == kExamples) break;
            examples.push_back(describe(difference_of(key, rows), new_node.name));
        }
        if (!diverged.empty())
            divergences.push_back(t.rel + ": " + std::to_string(diverged.size()) + " row(s) differ (" +
                                  join(examples, "; ") + (diverged.size() > examples.size() ? "; ..." : "") + ")");
    }
    outcome.took_ms = rt.now_ms() - t0;
    if (!outcome.unsettled.empty())
        rt.report(Level::Warning,
                  "rows of node \"" + new_node.name + "\" still changing after " + std::to_string(kKeyRounds) +
                      " rounds were not compared with the source \"" + source.name + "\"",
                  "Written throughout the comparison: " + join(outcome.unsettled, "; ") +
                      ". spock.health_check with 'post' compares them again once writes to them pause.");
    if (!divergences.empty())
        throw UserError("node \"" + new_node.name + "\" differs from the source \"" + source.name + "\": " +
                            divergences.front(),
                        divergences.size() > 1 ? "Also: " + join(std::vector<std::string>(divergences.begin() + 1,
                                                                                         divergences.end()), "; ")
                                               : "",
                        "The rows named are not the same on both nodes after every change in flight arrived. Look "
                        "at them on both; spock.remove_node and a new add start the node afresh.",
                        Cause::Divergence);
    return outcome;
}

}  // namespace zodan
