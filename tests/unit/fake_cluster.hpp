// A fake Spock cluster for driving the step logic without a server: each
// node keeps just the state add_node and remove_node read and write,
// replication is instantaneous (or lags, or stalls, as a test asks), and
// every call is logged with the batch it was sent in. Statements are told
// apart by their ids (zodan::Stmt, which the functions of spock_sql.cpp
// set), never by their labels or SQL text, so rewording either changes
// nothing here.
#pragma once

#include <functional>
#include <initializer_list>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/text/conninfo.hpp"
#include "core/text/json.hpp"
#include "core/text/secrets.hpp"
#include "core/text/lsn.hpp"
#include "core/cluster/cluster_view.hpp"
#include "core/remote.hpp"

namespace fake {

using zodan::Lsn;
using zodan::Query;
using zodan::QueryResult;
using zodan::Value;

struct Sub {
    std::string provider;
    bool enabled = true;
    std::string status = "replicating";
    // A worker Spock lost track of: it runs and holds the origin while the
    // status says down (see replication_waits.cpp); ending it heals the sub.
    std::string lost_worker_pid;
    // Down until this clock time, when Spock starts its worker again (0: never).
    int64_t restarts_at = 0;
};

// The journal as the node keeps it (spock.zodan_runs, spock.zodan_steps):
// each step's output merged key by key as jsonb's || merges it.
struct JournalStep {
    std::string state;
    zodan::JsonObject output;
};
struct JournalRun {
    std::string operation, src, new_node, fingerprint, state;
    std::map<std::string, JournalStep> steps;
};

struct Node {
    std::string name;
    std::string version = "5.0.9";
    std::string encoding = "UTF8";
    std::string sysid;
    bool registered = false;
    std::map<std::string, std::string> known;  // spock.node: name -> dsn
    std::map<std::string, Sub> subs;
    std::map<std::string, Lsn> progress;  // origin -> applied LSN
    std::map<std::string, Lsn> copied;    // origin -> position the copy contained
    std::map<std::string, Lsn> slots;
    std::map<std::string, Lsn> origins;
    int marks = 0;  // the join window's marks committed here (sql::local_sets_and_slot)
    std::vector<std::string> user_tables;
    // Large objects (core/cluster/large_objects.cpp): the node's own, and lolor.
    long large_objects = 0;
    struct Lolor {
        bool installed = false, available = false, has_rows = false;
        int replicated = 0;   // lolor's tables in the node's sets
        zodan::Value node;    // lolor.node, NULL where unset
    } lolor;
    std::vector<std::string> roles{"pgedge", "postgres"};
    // Replicated data: table -> key -> row (what the comparison hashes).
    std::map<std::string, std::map<std::string, std::string>> data;
    Lsn wal = 0x3000000;
    bool join_lock = false;
    // max_slot_wal_keep_size in bytes (-1: none); WAL written, growing by
    // wal_per_read at every read of it (a node under writes); the
    // wal_status and safe_wal_size of slots (default: reserved, none).
    long long wal_keep_bytes = -1;
    long long wal_written = 0, wal_per_read = 0;
    std::map<std::string, std::pair<std::string, std::optional<long long>>> slot_wal;
    bool refuses_replication = false;
    // Our sessions open on it now (regular, walsenders): what its
    // pg_stat_activity counts besides Spock's own (2 senders, 5 sessions).
    int open_sessions = 0, open_walsenders = 0;
    int max_senders = 32;
    bool stale_statistics = false;  // reltuples says 0 for every table (loaded since its last ANALYZE)  // replication connections fail (pg_hba, role, senders)
    int64_t restart_delay_ms = 5000;  // spock.restart_delay_default
    std::vector<JournalRun> runs;  // run_id = index + 1
    // Rows written during the join window (on a source): commit time (UTC
    // text), origin, table, key; and on a new node, the restamp statements
    // made: the arguments of each call of spock.zodan_restamp.
    struct WindowRow {
        std::string ts, origin, table, key;
    };
    std::vector<WindowRow> window_rows;
    std::vector<std::vector<std::string>> restamped;
    // The structure dump made on this node as a source (zodan's function
    // there): refused with this message and SQLSTATE where set (no library,
    // another version, pg_hba refusing the local connection).
    std::string dump_refusal, dump_refusal_state = "55000";
};

struct Call {
    std::string node;                // "program" for a program run
    std::optional<zodan::Stmt> id;   // none for a program run
    std::string program;             // the program's name (pg_dump, pg_restore)
    std::vector<Value> params;
    int batch;  // calls in flight together (one sent while another still ran) share a batch
};

class Cluster : public zodan::Runtime {
public:
    std::map<std::string, Node> nodes;
    std::vector<Call> calls;
    std::vector<std::string> notices;
    std::vector<std::string> debug_lines;  // Level::Debug (DEBUG1 in the server's log)
    std::vector<std::string> programs;  // program names run, in order
    std::string local_node;  // where the procedure "runs"
    // (node, statement) -> fail with this message
    std::map<std::pair<std::string, zodan::Stmt>, std::string> failures;
    // Replication that is slow or stuck: a sync event is applied only after
    // this many progress reads; a (subscriber, origin) pair never applies.
    int apply_after_polls = 0;
    std::set<std::pair<std::string, std::string>> stalled;
    int progress_reads = 0;
    std::string fail_at;  // like zodan.fail_at_step: "step" or "step:after"
    std::map<std::string, std::string> n_id_collisions;
    std::vector<std::string> copy_dependents;  // objects not made by the copy that depend on it (rollback plan)
    std::vector<std::string> written_locally;  // tables the local-writes check finds  // new name -> existing node whose id it would take
    zodan::VerifySetting verify = zodan::VerifySetting::Auto;  // zodan.verify_data
    bool verify_chunk_key = false;  // tables have a key the comparison may cut them by
    int chunk_bounds_read = 0;
    bool superuser = true;         // the caller's
    zodan::StructureDumpSetting structure_dump_setting = zodan::StructureDumpSetting::Auto;
    // Files written into scratch directories: name -> bytes.
    std::map<std::string, std::string> scratch_files;
    // Called with every statement a node runs, before it runs (a test's
    // view of the moment, e.g. to write on a node meanwhile).
    std::function<void(const std::string &node, const Query &)> on_statement;
    // (node, table) -> key: that row is written again before every read of
    // the table on that node (a hot row under steady writes).
    std::map<std::pair<std::string, std::string>, std::string> hot_rows;
    // Origins applied on the source while its copy point is taken (the
    // pause did not hold) on the first `moving_attempts` attempts.
    int moving_attempts = 0;
    int copy_point_attempts = 0;

    static std::string dsn_of(const std::string &node) {
        return "host=" + node + " dbname=inventory user=pgedge password=s3cret";
    }
    // The arguments of an add of `new_node` through `src`, DSNs included.
    static zodan::AddNodeArgs add_args(const std::string &src, const std::string &new_node);
    // Meshed nodes n1..n<k>, bare n<k+1>..n<total>; the procedure runs on n<total>.
    static Cluster mesh(int k, int total);

    std::unique_ptr<zodan::Connection> connect(const std::string &node, const std::string &dsn) override;
    std::unique_ptr<zodan::Connection> connect_replication(const std::string &node, const std::string &dsn) override;
    std::string run_program(const zodan::Program &program) override;
    std::unique_ptr<zodan::ScratchDir> scratch_dir() override;
    void copy_jobs(const std::vector<zodan::CopyLane> &lanes, const std::vector<zodan::CopyJob> &jobs,
                   const std::function<void(const zodan::CopyState &)> &progress) override;
    int progress_ms = 0;  // zodan.progress_interval
    int progress_interval_ms() override { return progress_ms; }
    void sleep_ms(int ms) override { clock_ += ms; }
    int64_t now_ms() override { return clock_ += 1; }
    void report(zodan::Level level, const std::string &message, const std::string &) override {
        (level == zodan::Level::Debug ? debug_lines : notices).push_back(message);
    }
    std::pair<std::string, std::string> local_identity() override {
        return {nodes.at(local_node).sysid, "inventory"};
    }
    int sync_timeout_ms() override { return 60000; }
    QueryResult read_local(const Query &q) override { return handle(local_node, q); }
    void maybe_fail_at(const std::string &point) override {
        if (!fail_at.empty() && point == fail_at) throw zodan::UserError("injected failure at \"" + point + "\"");
    }
    zodan::VerifySetting verify_data() override { return verify; }
    bool caller_is_superuser() override { return superuser; }
    zodan::StructureDumpSetting structure_dump() override { return structure_dump_setting; }
    std::string library_version() override { return "0.4.0-test"; }

    QueryResult handle(const std::string &node, const Query &q);
    // What a node answers, without on_statement (a merged read answers as
    // its parts would).
    QueryResult answer(const std::string &node, const Query &q);
    // The calls of any of these statements, in order.
    std::vector<Call> calls_of(std::initializer_list<zodan::Stmt> ids) const;
    // The batch a statement sent now belongs to (see Call::batch).
    int batch_for_send();
    void received() { --in_flight_; }

private:
    void sync_event_applied(const std::string &origin, Lsn lsn);
    void worker_started(const std::string &node, Sub &sub);
    void apply_pending();
    std::optional<QueryResult> journal(Node &n, const Query &q);
    void write_hot_row(Node &n, const std::string &table);
    struct Pending {
        std::string origin;
        Lsn lsn;
        int polls_left;
    };
    std::vector<Pending> pending_;
    int64_t clock_ = 0;
    int batch_ = 0;
    int next_batch_ = 1;
    int in_flight_ = 0;  // statements sent and not yet received
};

}  // namespace fake
