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

}  // namespace zodan
