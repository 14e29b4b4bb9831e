#include "core/protocol/copy_progress.hpp"

#include <algorithm>
#include <cmath>

#include "core/protocol/headroom.hpp"

namespace zodan {

CopyProgress::CopyProgress(std::vector<TableSize> source_tables, int64_t started_ms)
    : tables_(std::move(source_tables)), started_ms_(started_ms) {}

CopySample CopyProgress::sample(int64_t now_ms, const std::map<std::string, CopiedTable> &on_new_node) {
    CopySample s;
    s.tables_total = static_cast<int>(tables_.size());
    for (const TableSize &t : tables_) {
        s.bytes_total += t.bytes;
        auto it = on_new_node.find(t.name);
        if (it == on_new_node.end()) continue;
        const CopiedTable &c = it->second;
        const bool done = !c.copying && (c.bytes > 0 || t.bytes == 0);
        if (done) {
            ++s.tables_done;
            s.bytes_done += t.bytes;
        } else {
            s.bytes_done += std::min(c.bytes, t.bytes);
        }
    }
    const double seconds = static_cast<double>(now_ms - started_ms_) / 1000.0;
    if (seconds > 0 && s.bytes_done > 0) {
        s.bytes_per_second = static_cast<double>(s.bytes_done) / seconds;
        s.seconds_left = static_cast<long long>(
            std::ceil(static_cast<double>(s.bytes_total - s.bytes_done) / s.bytes_per_second));
    }
    return s;
}

std::string describe_copy(const std::string &source_node, const CopySample &s) {
    std::string out = "copying from " + source_node + ": " + std::to_string(s.tables_done) + "/" +
                      std::to_string(s.tables_total) + " tables, " + human_bytes(s.bytes_done) + " of " +
                      human_bytes(s.bytes_total);
    if (s.bytes_total > 0)
        out += " (" + std::to_string(static_cast<int>(100.0 * static_cast<double>(s.bytes_done) /
                                                      static_cast<double>(s.bytes_total))) + "%)";
    if (s.bytes_per_second > 0)
        out += ", " + human_bytes(static_cast<long long>(s.bytes_per_second)) + "/s";
    out += s.seconds_left >= 0 ? ", about " + std::to_string(s.seconds_left) + " s left" : ", time left not known yet";
    return out;
}

}  // namespace zodan
