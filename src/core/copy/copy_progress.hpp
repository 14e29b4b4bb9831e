// How far the initial copy into the new node is: tables and bytes done of
// what the source holds, the rate so far and the time left. Pure arithmetic
// over what the nodes report, so it is unit-tested without a server.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/remote.hpp"

namespace zodan {

struct CopySample {
    int tables_done = 0, tables_total = 0;
    long long bytes_done = 0, bytes_total = 0;
    double bytes_per_second = 0;  // since the first sample
    long long seconds_left = -1;  // -1: not known yet
    // The share done: bytes_done (streamed) and bytes_total (the source's
    // table sizes) measure different things.
    double fraction = 0;
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

// "copying from n1: 7/12 tables, 412 MB streamed (34% of 1.2 GB of tables), 61 MB/s, about 13 s left"
std::string describe_copy(const std::string &source_node, const CopySample &s);

// The index and constraint builds on the new node after the data
// (pg_restore's post-data section, one program run): how many of the
// source's indexes N has so far, and what PostgreSQL reports building
// (pg_stat_progress_create_index).
struct IndexSample {
    long long made = 0, total = 0;  // total: the source's indexes outside the skipped schemas (about)
    std::vector<std::string> building;  // "public.big (building index: scanning table, 40% of blocks)"
    long long seconds = 0;              // since the builds began
};
// "building indexes on n4: 3 of about 12 made, now on public.big (building index: scanning table, 40% of blocks); 12 s in"
std::string describe_indexes(const std::string &node, const IndexSample &s);

// Every zodan.progress_interval while the builds run, a NOTICE as above:
// reads N over `on_new` (idle meanwhile) and, once, S's index count over
// `on_source`.
class IndexReports {
public:
    IndexReports(Runtime &rt, Connection &on_source, Connection &on_new, std::string new_node);
    void operator()();

private:
    Runtime &rt_;
    Connection &source_, &new_;
    std::string node_;
    int64_t started_, next_;
    long long total_ = -1;
};

}  // namespace zodan
