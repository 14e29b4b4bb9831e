#include "core/compare/verify_data.hpp"

#include <algorithm>
#include <map>

#include "core/waits/replication_waits.hpp"
#include "core/statements/spock_sql.hpp"
#include "core/util.hpp"
#include "core/compare/verify_ranges.hpp"
#include "core/text/text_array.hpp"
#include "core/waits/wal_retention.hpp"

namespace zodan {

namespace {

constexpr int kRounds = 3;           // of range sums, sync events between them
constexpr int kKeyRounds = 5;        // reads of the keys still differing, the same
constexpr size_t kRangesPerRead = 64;  // ranges whose rows one key-by-key read fetches
constexpr size_t kExamples = 5;

struct Table {
    std::string rel;
    int ranges = 1;
    long long rows_estimate = 0;     // the source's statistics
    std::string sums_sql, rows_sql;  // written by the source, quoting done there
    // A key to cut the table by (sql::verify_tables); empty: read whole.
    std::string key_col, key_type;
};

// What one statement per node reads: a table, or the rows of one interval
// of its primary key, (lo, hi] (an unset bound is open), with their ranges.
struct Part {
    const Table *table;
    Value lo, hi;
    bool chunked = false;
    std::vector<int> differing;  // ranges, after the last round
    std::string sums_sql, rows_sql;
    // The statement's parameters: the ranges to read (NULL: all), then the bounds.
    std::vector<Value> params(const Value &ranges) const {
        if (!chunked) return {ranges};
        return {ranges, lo, hi};
    }
};

// The source's statement of a table, narrowed to one key interval: the
// table's scan becomes a scan of the rows between the bounds ($2, $3), which
// the primary key's index finds. Empty when the statement does not read
// the table as expected (it is then read whole).
std::string narrowed(const std::string &statement, const Table &t) {
    const std::string from = "FROM " + t.rel + " AS zodan_row";
    const size_t at = statement.find(from);
    if (at == std::string::npos || statement.find(from, at + 1) != std::string::npos) return "";
    const std::string key = t.key_col, type = t.key_type;
    return statement.substr(0, at) + "FROM (SELECT * FROM " + t.rel + " WHERE ($2::text IS NULL OR " + key + " > $2::text::" +
           type + ") AND ($3::text IS NULL OR " + key + " <= $3::text::" + type + ")) AS zodan_row" +
           statement.substr(at + from.size());
}

// The next interval's upper bound on the source, for each table of
// `from` at once: the key `rows` rows after its `lo`, through the key's
// index. Fewer rows than that: the last interval. Each table's part is the
// read it would be alone, its `lo` its own parameter; rows: t (the table's
// place in `from`), n, hi.
Query chunk_bounds(const std::vector<std::pair<const Table *, Value>> &from, long long rows) {
    std::string sql;
    std::vector<Value> params{std::to_string(rows)};
    std::vector<std::string> rels;
    for (size_t i = 0; i < from.size(); ++i) {
        const Table &t = *from[i].first;
        const std::string lo = "$" + std::to_string(i + 2);
        sql += (i ? " UNION ALL " : "") + std::string("SELECT ") + std::to_string(i) +
               " AS t, count(*)::text AS n, max(k)::text AS hi FROM (SELECT " + t.key_col + " AS k FROM " + t.rel +
               " WHERE (" + lo + "::text IS NULL OR " + t.key_col + " > " + lo + "::text::" + t.key_type + ") ORDER BY " +
               t.key_col + " LIMIT $1) s";
        params.push_back(from[i].second);
        rels.push_back(t.rel);
    }
    return {Stmt::VerifyChunkBounds, "cut " + std::to_string(from.size()) + " table(s) by key", sql, params, false,
            text_array_literal(rels)};
}

// Every zodan.progress_interval, a NOTICE and a note in the journal.
class VerifyReports {
public:
    VerifyReports(Runtime &rt, const std::string &source, const std::string &target, const VerifyProgress &on_progress)
        : rt_(rt), source_(source), target_(target), on_progress_(on_progress), started_(rt.now_ms()) {
        next_ = started_ + rt.progress_interval_ms();
    }
    void operator()(const VerifySample &s) {
        const int interval = rt_.progress_interval_ms();
        if (interval <= 0 || rt_.now_ms() < next_) return;
        next_ = rt_.now_ms() + interval;
        VerifySample now = s;
        now.seconds_left = seconds_left(s, rt_.now_ms() - started_);
        rt_.report(Level::Notice, describe_verify(source_, target_, now));
        if (on_progress_) on_progress_(now);
    }

private:
    Runtime &rt_;
    std::string source_, target_;
    const VerifyProgress &on_progress_;
    int64_t started_, next_;
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
    const Part *part;
    std::vector<int> ranges;
    std::map<std::string, KeyRows> moving, diverged;
};

// Every batch read, then again after each sync round (one round for all of
// them) until each differing key agrees, diverged or kKeyRounds passed.
void compare_keys(Runtime &rt, Member &source, Member &new_node, const std::vector<Member *> &existing,
                  std::vector<KeyBatch> &batches) {
    auto read_keys = [&](const KeyBatch &b) {
        const Part &p = *b.part;
        const Query q{Stmt::VerifyRows, "read " + p.table->rel + " by key", p.rows_sql, p.params(int_array(b.ranges)), false,
                      p.table->rel};
        std::vector<QueryResult> r = rt.exec_all({{source.conn.get(), q}, {new_node.conn.get(), q}});
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
            SlotWatch::look_if_due();
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

VerifyOutcome verify_against_source(Runtime &rt, Member &source, Member &new_node, const std::vector<Member *> &existing,
                                    const VerifyProgress &on_progress, long long chunk_rows) {
    VerifyOutcome outcome;
    const int64_t t0 = rt.now_ms();
    // The tables, then their statements as S writes them, all in one read.
    QueryResult listed = source.db().exec(sql::verify_tables());
    std::vector<Table> tables;
    std::vector<std::string> rels;
    std::vector<int> range_counts;
    for (size_t i = 0; i < listed.size(); ++i) {
        Table t;
        t.rel = listed.text(i, "rel");
        t.rows_estimate = std::stoll(listed.text(i, "rows", "0"));
        // Every table with such a key, whatever its statistics say (a table
        // loaded since its last ANALYZE looks empty): a small one is one
        // interval, open at both ends, found by one more short statement.
        // Its key read with the list (sql::verify_tables): one round trip
        // to S fewer for each table.
        if (listed.at(i, "key_col") && listed.at(i, "key_type")) {
            t.key_col = listed.text(i, "key_col");
            t.key_type = listed.text(i, "key_type");
        }
        // Ranges sized for what one statement reads: the table, or one interval.
        t.ranges = range_count(t.key_col.empty() ? t.rows_estimate : chunk_rows);
        rels.push_back(t.rel);
        range_counts.push_back(t.ranges);
        tables.push_back(std::move(t));
    }
    if (!tables.empty()) {
        QueryResult stmts = source.db().exec(sql::verify_statements(rels, range_counts));
        for (size_t i = 0; i < stmts.size(); ++i) {
            Table &t = tables.at(std::stoul(stmts.text(i, "t")) - 1);
            t.sums_sql = stmts.text(i, "sums");
            t.rows_sql = stmts.text(i, "rows");
        }
    }
    outcome.tables = static_cast<long long>(tables.size());
    VerifySample sample;
    sample.tables_total = static_cast<int>(tables.size());
    for (const Table &t : tables) sample.rows_total += t.rows_estimate;
    VerifyReports reports(rt, source.name, new_node.name, on_progress);

    auto sums = [&](const Part &p, const Value &only) {
        const Query q{Stmt::VerifySums, "sum " + p.table->rel + " by key range", p.sums_sql, p.params(only), false,
                      p.table->rel};
        std::vector<QueryResult> r = rt.exec_all({{source.conn.get(), q}, {new_node.conn.get(), q}});
        return std::make_pair(std::move(r[0]), std::move(r[1]));
    };

    // Round 1: every table, whole or interval by interval. The intervals'
    // bounds are found on S first, every table's next bound in one read
    // (the first open below, the last open above, so every row of either
    // node is in exactly one of them).
    std::vector<std::vector<Part>> by_table(tables.size());
    std::vector<std::pair<size_t, Value>> open;  // tables still cut, and their next interval's lower bound
    for (size_t i = 0; i < tables.size(); ++i) {
        const Table &t = tables[i];
        const std::string sums_narrow = t.key_col.empty() ? "" : narrowed(t.sums_sql, t);
        const std::string rows_narrow = t.key_col.empty() ? "" : narrowed(t.rows_sql, t);
        if (!sums_narrow.empty() && !rows_narrow.empty())
            open.push_back({i, Value()});
        else
            by_table[i].push_back(Part{&t, Value(), Value(), false, {}, t.sums_sql, t.rows_sql});
    }
    std::vector<std::vector<long long>> rows_of_part(tables.size());  // as the bounds' reads counted them
    while (!open.empty()) {
        SlotWatch::look_if_due();
        std::vector<std::pair<const Table *, Value>> from;
        for (const auto &[i, lo] : open) from.push_back({&tables[i], lo});
        QueryResult b = source.db().exec(chunk_bounds(from, chunk_rows));
        std::vector<std::pair<size_t, Value>> next;
        for (size_t r = 0; r < b.size(); ++r) {
            const auto &[i, lo] = open.at(std::stoul(b.text(r, "t")));
            const Table &t = tables[i];
            Part p{&t, lo, Value(), true, {}, narrowed(t.sums_sql, t), narrowed(t.rows_sql, t)};
            const long long n = std::stoll(b.text(r, "n", "0"));
            if (n >= chunk_rows) p.hi = b.at(r, "hi");
            if (p.hi) next.push_back({i, p.hi});
            by_table[i].push_back(std::move(p));
            rows_of_part[i].push_back(n);
        }
        open = std::move(next);
    }

    // The sums: a table or interval with a bound goes alone; those read
    // whole (an unbounded interval is its table) go several in one
    // statement, up to chunk_rows rows in all (as the bounds counted them,
    // or the statistics), so that no statement reads more than an
    // interval would; S and N at once.
    std::vector<Part> parts;
    std::vector<long long> rows_hint;
    std::vector<bool> last_of_table;
    for (size_t i = 0; i < tables.size(); ++i)
        for (size_t j = 0; j < by_table[i].size(); ++j) {
            rows_hint.push_back(j < rows_of_part[i].size() ? rows_of_part[i][j] : tables[i].rows_estimate);
            last_of_table.push_back(j + 1 == by_table[i].size());
            parts.push_back(std::move(by_table[i][j]));
        }
    bool any = false;
    auto judge = [&](size_t k, const QueryResult &on_source, const QueryResult &on_new) {
        Part &p = parts[k];
        outcome.ranges += p.table->ranges;
        long long rows = 0;
        for (size_t i = 0; i < on_source.size(); ++i) rows += std::stoll(on_source.text(i, "n", "0"));
        outcome.rows += rows;
        sample.rows_done += rows;
        p.differing = differing_ranges(sums_of(on_source), sums_of(on_new));
        any = any || !p.differing.empty();
        if (last_of_table[k]) ++sample.tables_done;
    };
    for (size_t k = 0; k < parts.size();) {
        SlotWatch::look_if_due();
        const bool whole = !parts[k].lo && !parts[k].hi;
        size_t end = k + 1;
        long long batch_rows = rows_hint[k];
        while (whole && end < parts.size() && !parts[end].lo && !parts[end].hi &&
               batch_rows + rows_hint[end] <= chunk_rows)
            batch_rows += rows_hint[end++];
        ++outcome.statements;
        if (end == k + 1) {
            auto [on_source, on_new] = sums(parts[k], Value());
            judge(k, on_source, on_new);
        } else {
            // Each part its table's own statement, read whole.
            std::string merged;
            std::vector<std::string> subjects;
            for (size_t i = k; i < end; ++i) {
                merged += (i > k ? " UNION ALL " : "") + std::string("SELECT '") + std::to_string(i - k) +
                          "'::text AS part, q.range, q.n, q.hash FROM (" + parts[i].table->sums_sql + ") q";
                subjects.push_back(parts[i].table->rel);
            }
            const Query q{Stmt::VerifySumsMerged, "sum " + std::to_string(end - k) + " tables by key range", merged,
                          {Value()}, false, text_array_literal(subjects)};
            std::vector<QueryResult> r = rt.exec_all({{source.conn.get(), q}, {new_node.conn.get(), q}});
            for (size_t i = k; i < end; ++i) {
                auto only = [&](const QueryResult &all) {
                    std::vector<std::vector<Value>> rows;
                    for (size_t x = 0; x < all.size(); ++x)
                        if (all.text(x, "part") == std::to_string(i - k))
                            rows.push_back({all.at(x, "range"), all.at(x, "n"), all.at(x, "hash")});
                    return QueryResult({"range", "n", "hash"}, rows);
                };
                judge(i, only(r[0]), only(r[1]));
            }
        }
        reports(sample);
        k = end;
    }
    outcome.rounds = 1;

    // Rounds 2 and 3, after sync events: only the ranges that differed.
    for (int round = 2; any && round <= kRounds; ++round) {
        sync_round(rt, source, new_node, existing);
        outcome.rounds = round;
        any = false;
        for (Part &p : parts) {
            if (p.differing.empty()) continue;
            SlotWatch::look_if_due();
            auto [on_source, on_new] = sums(p, Value(int_array(p.differing)));
            p.differing = differing_ranges(sums_of(on_source), sums_of(on_new));
            any = any || !p.differing.empty();
        }
    }
    if (!any) {
        outcome.took_ms = rt.now_ms() - t0;
        return outcome;
    }
    sync_round(rt, source, new_node, existing);

    // Key by key in what still differs: a key is a divergence once a sync
    // round moved neither side's rows and they still differ; one that moved
    // is read again. A key written throughout every round (a hot row) can
    // not be compared by reading while writes go on: it is named in a
    // warning, not called a divergence, or a healthy busy cluster could
    // never be joined.
    std::vector<KeyBatch> batches;
    for (const Part &p : parts)
        for (size_t first = 0; first < p.differing.size(); first += kRangesPerRead)
            batches.push_back({&p,
                               {p.differing.begin() + static_cast<long>(first),
                                p.differing.begin() + static_cast<long>(std::min(p.differing.size(), first + kRangesPerRead))},
                               {},
                               {}});
    compare_keys(rt, source, new_node, existing, batches);

    std::vector<std::string> divergences;
    for (const Table &t : tables) {
        std::map<std::string, KeyRows> moving, diverged;
        for (KeyBatch &b : batches)
            if (b.part->table == &t) {
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
