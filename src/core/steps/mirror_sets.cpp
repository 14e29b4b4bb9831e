#include "core/steps/mirror_sets.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/statements/spock_sql.hpp"

namespace zodan {

MirrorOutcome mirror_replication_sets(Runtime &rt, Member &source, Member &new_node) {
    Connection &s = source.db();
    Connection &n = new_node.db();
    // Sets, tables and sequences in one read, on both nodes at once.
    const std::vector<QueryResult> reads = rt.exec_all({{&s, sql::local_sets_all()}, {&n, sql::local_sets_all()}});
    const QueryResult src_sets = sql::part_of(reads[0], "sets", Stmt::LocalSets),
                      new_sets = sql::part_of(reads[1], "sets", Stmt::LocalSets),
                      src_tables = sql::part_of(reads[0], "tables", Stmt::LocalSetTables),
                      new_tables = sql::part_of(reads[1], "tables", Stmt::LocalSetTables),
                      src_seqs = sql::part_of(reads[0], "sequences", Stmt::LocalSetSequences),
                      new_seqs = sql::part_of(reads[1], "sequences", Stmt::LocalSetSequences);

    auto flag = [](const QueryResult &r, size_t i, const char *c) { return r.text(i, c) == "true"; };
    std::map<std::string, size_t> existing;
    for (size_t i = 0; i < new_sets.size(); ++i) existing[new_sets.text(i, "set_name")] = i;
    int changes = 0;
    for (size_t i = 0; i < src_sets.size(); ++i) {
        const std::string set = src_sets.text(i, "set_name");
        bool ins = flag(src_sets, i, "ins"), upd = flag(src_sets, i, "upd"), del = flag(src_sets, i, "del"),
             trunc = flag(src_sets, i, "trunc");
        auto e = existing.find(set);
        if (e == existing.end()) {
            n.exec(sql::repset_create(set, ins, upd, del, trunc));
            ++changes;
        } else if (new_sets.rows()[e->second] != src_sets.rows()[i]) {
            n.exec(sql::repset_alter(set, ins, upd, del, trunc));
            ++changes;
        }
    }

    // Memberships keyed by (set, relation); the rest of the row must match too.
    auto rows_by_key = [](const QueryResult &r, const char *rel) {
        std::map<std::pair<std::string, std::string>, std::vector<Value>> m;
        for (size_t i = 0; i < r.size(); ++i) m[{r.text(i, "set_name"), r.text(i, rel)}] = r.rows()[i];
        return m;
    };
    auto want_tables = rows_by_key(src_tables, "rel"), have_tables = rows_by_key(new_tables, "rel");
    for (const auto &[key, row] : have_tables) {
        auto w = want_tables.find(key);
        if (w == want_tables.end() || w->second != row) {
            n.exec(sql::repset_remove_table(key.first, key.second));
            ++changes;
        }
    }
    std::vector<size_t> to_add;
    std::vector<std::string> to_add_rels;
    for (size_t i = 0; i < src_tables.size(); ++i) {
        std::pair<std::string, std::string> key{src_tables.text(i, "set_name"), src_tables.text(i, "rel")};
        auto h = have_tables.find(key);
        if (h != have_tables.end() && h->second == src_tables.rows()[i]) continue;
        to_add.push_back(i);
        to_add_rels.push_back(key.second);
    }
    std::set<std::string> absent;
    if (!to_add.empty()) {
        QueryResult missing = n.exec(sql::relations_missing(to_add_rels));
        for (size_t i = 0; i < missing.size(); ++i) absent.insert(missing.text(i, "rel"));
    }
    MirrorOutcome outcome;
    for (size_t i : to_add) {
        const std::string set = src_tables.text(i, "set_name"), rel = src_tables.text(i, "rel");
        if (absent.count(rel)) {
            outcome.deferred.push_back(rel);
            continue;
        }
        n.exec(sql::repset_add_table(set, rel, src_tables.at(i, "att_list"), src_tables.at(i, "row_filter")));
        ++changes;
    }
    auto want_seqs = rows_by_key(src_seqs, "seq"), have_seqs = rows_by_key(new_seqs, "seq");
    for (const auto &[key, row] : have_seqs)
        if (!want_seqs.count(key)) {
            n.exec(sql::repset_remove_seq(key.first, key.second));
            ++changes;
        }
    std::vector<std::string> seqs_to_add;
    for (const auto &[key, row] : want_seqs)
        if (!have_seqs.count(key)) seqs_to_add.push_back(key.second);
    if (!seqs_to_add.empty()) {
        QueryResult missing = n.exec(sql::relations_missing(seqs_to_add));
        for (size_t i = 0; i < missing.size(); ++i) absent.insert(missing.text(i, "rel"));
    }
    for (const auto &[key, row] : want_seqs)
        if (!have_seqs.count(key)) {
            if (absent.count(key.second)) {
                outcome.deferred.push_back(key.second);
                continue;
            }
            n.exec(sql::repset_add_seq(key.first, key.second));
            ++changes;
        }

    // Changes made on S while we copied are reported, not fatal: the
    // operator decides whether N should follow them.
    const QueryResult again = s.exec(sql::local_sets_all());
    const QueryResult again_sets = sql::part_of(again, "sets", Stmt::LocalSets),
                      again_tables = sql::part_of(again, "tables", Stmt::LocalSetTables);
    if (again_sets.rows() != src_sets.rows() || again_tables.rows() != src_tables.rows())
        rt.report(Level::Warning,
                   "replication sets of \"" + source.name + "\" changed while they were being mirrored",
                   "Compare spock.replication_set_table on \"" + source.name + "\" and \"" + new_node.name +
                       "\" and adjust the new node by hand.");
    std::sort(outcome.deferred.begin(), outcome.deferred.end());
    outcome.deferred.erase(std::unique(outcome.deferred.begin(), outcome.deferred.end()), outcome.deferred.end());
    outcome.sets = src_sets.size();
    outcome.tables = src_tables.size();
    outcome.sequences = src_seqs.size();
    outcome.changes = changes;
    return outcome;
}
}  // namespace zodan
