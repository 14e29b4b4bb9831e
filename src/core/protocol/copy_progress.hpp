// How far the initial copy into the new node is: tables and bytes done of
// what the source holds, the rate so far and the time left. Pure arithmetic
// over what the nodes report, so it is unit-tested without a server.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace zodan {

struct TableSize {
    std::string name;  // schema-qualified, quoted as needed
    long long bytes = 0;
};

// What the new node shows of one table during the copy.
struct CopiedTable {
    long long bytes = 0;    // its size there now (0: not there yet)
    bool copying = false;   // a COPY into it is running now
};

struct CopySample {
    int tables_done = 0, tables_total = 0;
    long long bytes_done = 0, bytes_total = 0;
    double bytes_per_second = 0;  // since the first sample
    long long seconds_left = -1;  // -1: not known yet
    // The share done, when bytes_done and bytes_total measure different
    // things (bytes streamed against the source's table sizes); -1: use
    // bytes_done / bytes_total.
    double fraction = -1;
};

// The product's own copy: bytes streamed per job (exact) against each
// job's table size on the source (an estimate of what it will stream). A
// table counts as done once all its jobs are done.
struct StreamedJob {
    std::string table;
    long long estimated_bytes = 0, streamed_bytes = 0;
    bool done = false;
};
CopySample sample_streams(const std::vector<StreamedJob> &jobs, int64_t started_ms, int64_t now_ms);

class CopyProgress {
public:
    explicit CopyProgress(std::vector<TableSize> source_tables, int64_t started_ms);
    // A table counts as done once it holds data and no COPY fills it any
    // more (an empty source table once it exists); the table being filled
    // counts with what it holds so far, up to its size on the source.
    CopySample sample(int64_t now_ms, const std::map<std::string, CopiedTable> &on_new_node);
    const std::vector<TableSize> &tables() const { return tables_; }

private:
    std::vector<TableSize> tables_;
    int64_t started_ms_;
};

// "copying from n1: 7/12 tables, 412 MB of 1.2 GB (34%), 61 MB/s, about 13 s left"
std::string describe_copy(const std::string &source_node, const CopySample &s);

}  // namespace zodan
