#include "core/copy/copy_progress.hpp"

#include <algorithm>
#include <cmath>
#include <map>

#include "core/cluster/headroom.hpp"

namespace zodan {

CopySample sample_streams(const std::vector<StreamedJob> &jobs, int64_t started_ms, int64_t now_ms) {
    CopySample s;
    std::map<std::string, bool> table_done;
    double weighted = 0;
    for (const StreamedJob &j : jobs) {
        auto [it, fresh] = table_done.emplace(j.table, true);
        it->second = it->second && j.done;
        s.bytes_total += j.estimated_bytes;
        s.bytes_done += j.streamed_bytes;
        const double share = j.done ? 1.0
                             : j.estimated_bytes > 0
                                 ? std::min(0.99, static_cast<double>(j.streamed_bytes) / static_cast<double>(j.estimated_bytes))
                                 : 0.0;
        weighted += share * static_cast<double>(std::max(j.estimated_bytes, 1LL));
    }
    double total_weight = 0;
    for (const StreamedJob &j : jobs) total_weight += static_cast<double>(std::max(j.estimated_bytes, 1LL));
    s.tables_total = static_cast<int>(table_done.size());
    for (const auto &[table, done] : table_done) s.tables_done += done ? 1 : 0;
    s.fraction = total_weight > 0 ? weighted / total_weight : 1.0;
    const double seconds = static_cast<double>(now_ms - started_ms) / 1000.0;
    if (seconds > 0 && s.bytes_done > 0) {
        s.bytes_per_second = static_cast<double>(s.bytes_done) / seconds;
        if (s.fraction > 0) s.seconds_left = static_cast<long long>(std::ceil(seconds * (1 - s.fraction) / s.fraction));
    }
    return s;
}

std::string describe_copy(const std::string &source_node, const CopySample &s) {
    std::string out = "copying from " + source_node + ": " + std::to_string(s.tables_done) + "/" +
                      std::to_string(s.tables_total) + " tables, ";
    out += human_bytes(s.bytes_done) + " streamed (" + std::to_string(static_cast<int>(100.0 * s.fraction)) + "% of " +
           human_bytes(s.bytes_total) + " of tables)";
    if (s.bytes_per_second > 0)
        out += ", " + human_bytes(static_cast<long long>(s.bytes_per_second)) + "/s";
    out += s.seconds_left >= 0 ? ", about " + std::to_string(s.seconds_left) + " s left" : ", time left not known yet";
    return out;
}

namespace {

const char *const kUserIndexes =
    "SELECT count(*)::text AS n FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid "
    "JOIN pg_catalog.pg_namespace s ON s.oid = c.relnamespace "
    "WHERE s.nspname NOT IN ('pg_catalog', 'information_schema', 'spock') AND s.nspname NOT LIKE 'pg\\_%'";

}  // namespace

std::string describe_indexes(const std::string &node, const IndexSample &s) {
    std::string out = "building indexes on " + node + ": " + std::to_string(s.made) + " of about " +
                      std::to_string(std::max(s.total, s.made)) + " made";
    if (!s.building.empty()) {
        out += ", now on ";
        for (size_t i = 0; i < s.building.size(); ++i) out += (i ? ", " : "") + s.building[i];
    }
    return out + "; " + std::to_string(s.seconds) + " s in";
}

IndexReports::IndexReports(Runtime &rt, Connection &on_source, Connection &on_new, std::string new_node)
    : rt_(rt), source_(on_source), new_(on_new), node_(std::move(new_node)), started_(rt.now_ms()) {
    next_ = started_ + rt.progress_interval_ms();
}

void IndexReports::operator()() {
    const int interval = rt_.progress_interval_ms();
    if (interval <= 0 || rt_.now_ms() < next_) return;
    next_ = rt_.now_ms() + interval;
    if (total_ < 0)
        total_ = std::stoll(source_.exec({Stmt::IndexCount, "count the source's indexes", kUserIndexes, {}}).text(0, "n", "0"));
    IndexSample s;
    s.total = total_;
    s.made = std::stoll(new_.exec({Stmt::IndexCount, "count the new node's indexes", kUserIndexes, {}}).text(0, "n", "0"));
    QueryResult b = new_.exec({Stmt::IndexBuilds, "read the index builds",
                               "SELECT p.relid::pg_catalog.regclass::text AS rel, p.phase, "
                               "CASE WHEN p.blocks_total > 0 THEN (100 * p.blocks_done / p.blocks_total)::text END AS pct "
                               "FROM pg_catalog.pg_stat_progress_create_index p "
                               "WHERE p.datid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database()) "
                               "ORDER BY p.pid",
                               {}});
    for (size_t i = 0; i < b.size(); ++i)
        s.building.push_back(b.text(i, "rel") + " (" + b.text(i, "phase") +
                             (b.at(i, "pct") ? ", " + b.text(i, "pct") + "% of blocks" : std::string()) + ")");
    s.seconds = (rt_.now_ms() - started_) / 1000;
    rt_.report(Level::Notice, describe_indexes(node_, s));
}

}  // namespace zodan
