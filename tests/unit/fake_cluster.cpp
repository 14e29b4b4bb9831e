#include "fake_cluster.hpp"

#include <algorithm>
#include <functional>

#include "core/cluster/names.hpp"
#include "core/statements/spock_sql.hpp"
#include "core/text/text_array.hpp"

namespace fake {

namespace {

QueryResult one(const std::string &column, const Value &v) { return QueryResult({column}, {{v}}); }
QueryResult none(const std::vector<std::string> &columns) { return QueryResult(columns, {}); }
// Whether a key is within the interval ($2, $3] a narrowed comparison
// statement reads (an unset bound is open; keys are numbers there).
bool in_interval(const std::string &key, const Query &q) {
    if (q.params.size() < 3) return true;
    const long long k = std::stoll(key);
    return (!q.params[1] || k > std::stoll(*q.params[1])) && (!q.params[2] || k <= std::stoll(*q.params[2]));
}

// Like Spock's: derived from the name, the same in every cluster.
std::string node_id_of(const std::string &name) { return std::to_string(std::hash<std::string>{}(name) & 65535); }

std::string host_of(const std::string &dsn) { return *zodan::conninfo_value(zodan::parse_conninfo(dsn), "host"); }

class Conn : public zodan::Connection {
public:
    Conn(Cluster &c, const std::string &node, bool walsender = false)
        : zodan::Connection(node), cluster_(c), walsender_(walsender) {
        ++(walsender_ ? c.nodes.at(node).open_walsenders : c.nodes.at(node).open_sessions);
    }
    // Like a session's advisory lock: it goes with the session.
    ~Conn() override {
        abandon();
        if (holds_join_lock_) cluster_.nodes.at(node()).join_lock = false;
        --(walsender_ ? cluster_.nodes.at(node()).open_walsenders : cluster_.nodes.at(node()).open_sessions);
    }
    void send_query(const Query &q) override {
        pending_ = q;
        batch_ = cluster_.batch_for_send();
        busy_ = true;
    }
    void abandon_query() override {
        if (busy_) cluster_.received();
        busy_ = false;
    }
    QueryResult receive_result() override {
        cluster_.received();
        busy_ = false;
        cluster_.calls.push_back({node(), pending_.id, "", pending_.params, batch_});
        auto failure = cluster_.failures.find({node(), pending_.id});
        if (failure != cluster_.failures.end()) throw zodan::RemoteError(node(), pending_.name, failure->second);
        if (pending_.id == zodan::Stmt::JoinLockTake && !cluster_.nodes.at(node()).join_lock) holds_join_lock_ = true;
        if (pending_.id == zodan::Stmt::JoinLockRelease) holds_join_lock_ = false;
        return cluster_.handle(node(), pending_);
    }

private:
    bool holds_join_lock_ = false;
    bool busy_ = false;
    Cluster &cluster_;
    bool walsender_;
    Query pending_;
    int batch_ = 0;
};

class NoDir : public zodan::ScratchDir {
public:
    explicit NoDir(std::map<std::string, std::string> &files) : files_(files) {}
    const std::string &path() const override { return path_; }
    std::string write_file(const std::string &name, const std::string &bytes) override {
        files_[name] = bytes;
        return path_ + "/" + name;
    }
    long long size_of(const std::string &name) const override {
        auto f = files_.find(name);
        return f == files_.end() ? -1 : static_cast<long long>(f->second.size());
    }

private:
    std::map<std::string, std::string> &files_;
    std::string path_ = "/fake/scratch";
};

// The archive a source's dump function returns, as text results carry a bytea.
std::string fake_archive_hex(const std::string &node) {
    static const char digits[] = "0123456789abcdef";
    std::string out = "\\x";
    for (unsigned char c : "PGDMP structure of " + node) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}

// A parsed value written back as JSON (the fake keeps outputs as text).
std::string raw_json(const zodan::JsonValue &v) {
    using K = zodan::JsonValue::Kind;
    switch (v.kind()) {
    case K::Null: return "null";
    case K::Bool:
    case K::Number: return v.text();
    case K::String: return zodan::json_quote(v.text());
    case K::Array: {
        std::string out = "[";
        for (size_t i = 0; i < v.items().size(); ++i) out += (i ? ", " : "") + raw_json(v.items()[i]);
        return out + "]";
    }
    case K::Object: {
        zodan::JsonObject o;
        for (const auto &[key, value] : v.members()) o.add_raw(key, raw_json(value));
        return o.str();
    }
    }
    return "null";
}

std::string csv(const std::map<std::string, JournalStep> &steps, bool done_only) {
    std::string out;
    for (const auto &[name, step] : steps)
        if (!done_only || step.state == "done") out += (out.empty() ? "" : ",") + name;
    return out;
}

}  // namespace

zodan::AddNodeArgs Cluster::add_args(const std::string &src, const std::string &new_node) {
    zodan::AddNodeArgs a;
    a.src_name = src;
    a.src_dsn = dsn_of(src);
    a.new_name = new_node;
    a.new_dsn = dsn_of(new_node);
    return a;
}

Cluster Cluster::mesh(int k, int total) {
    Cluster c;
    for (int i = 1; i <= total; ++i) {
        Node n;
        n.name = "n" + std::to_string(i);
        n.sysid = std::to_string(7000 + i);
        c.nodes[n.name] = n;
    }
    for (int i = 1; i <= k; ++i) {
        Node &n = c.nodes["n" + std::to_string(i)];
        n.registered = true;
        n.data["public.items"] = {{"1", "one"}, {"2", "two"}, {"3", "three"}};
        for (int j = 1; j <= k; ++j) {
            std::string other = "n" + std::to_string(j);
            n.known[other] = dsn_of(other);
            if (j != i) {
                n.subs["sub_" + other + "_" + n.name] = Sub{other, true, "replicating", ""};
                n.progress[other] = 0x2000000 + 0x10 * j;  // what it has applied of each other node
            }
        }
    }
    c.local_node = "n" + std::to_string(total);
    return c;
}

std::unique_ptr<zodan::Connection> Cluster::connect(const std::string &node, const std::string &dsn) {
    std::string host = host_of(dsn);
    if (!nodes.count(host)) throw zodan::RemoteError(node, "connecting", "could not connect to server");
    return std::make_unique<Conn>(*this, host);
}

std::unique_ptr<zodan::Connection> Cluster::connect_replication(const std::string &node, const std::string &dsn) {
    auto n = nodes.find(host_of(dsn));
    if (n != nodes.end() && n->second.refuses_replication)
        throw zodan::RemoteError(node, "connecting",
                                 "FATAL:  must be superuser or replication role to start walsender", "42501");
    if (n == nodes.end()) return connect(node, dsn);
    return std::make_unique<Conn>(*this, n->first, true);
}

int Cluster::batch_for_send() {
    // A statement sent while another is still on its node runs at the same
    // time as that one: one batch, until nothing is in flight any more.
    if (in_flight_ == 0 || batch_ == 0) batch_ = next_batch_++;
    ++in_flight_;
    return batch_;
}

std::string Cluster::run_program(const zodan::Program &program) {
    programs.push_back(program.name);
    if (program.name == "pg_dump") scratch_files["structure.dump"] = "PGDMP dumped here";
    if (program.while_running) {
        sleep_ms(300);
        program.while_running();
    }
    calls.push_back({"program", std::nullopt, program.name, {program.dsn}, 0});
    return "";
}

std::unique_ptr<zodan::ScratchDir> Cluster::scratch_dir() { return std::make_unique<NoDir>(scratch_files); }

void Cluster::copy_jobs(const std::vector<zodan::CopyLane> &lanes, const std::vector<zodan::CopyJob> &jobs,
                        const std::function<void(const zodan::CopyState &)> &progress) {
    // The copy holds what the source held at the copy point: its data, and
    // for each other origin what it had applied of it.
    Node &from = nodes.at(lanes.at(0).from->node());
    Node &to = nodes.at(lanes.at(0).to->node());
    for (const auto &[origin, lsn] : from.progress)
        if (origin != to.name) to.copied[origin] = to.progress[origin] = lsn;
    for (const zodan::CopyJob &job : jobs) {
        to.data[job.table] = from.data[job.table];
        calls.push_back({from.name, job.out.id, "", {}, 0});
        calls.push_back({to.name, job.in.id, "", {}, 0});
    }
    zodan::CopyState state;
    state.bytes.assign(jobs.size(), 100);
    state.done.assign(jobs.size(), true);
    if (progress) progress(state);
}

std::vector<Call> Cluster::calls_of(std::initializer_list<zodan::Stmt> ids) const {
    std::vector<Call> out;
    for (const Call &c : calls)
        if (c.id && std::find(ids.begin(), ids.end(), *c.id) != ids.end()) out.push_back(c);
    return out;
}

// Spock's worker for `sub` on `node` starts again and catches up with its provider.
void Cluster::worker_started(const std::string &node, Sub &sub) {
    sub.status = "replicating";
    sub.restarts_at = 0;
    stalled.erase({node, sub.provider});
    Lsn &applied = nodes.at(node).progress[sub.provider];
    applied = std::max(applied, nodes.at(sub.provider).wal);
}

void Cluster::sync_event_applied(const std::string &origin, Lsn lsn) {
    if (apply_after_polls > 0) {
        pending_.push_back({origin, lsn, apply_after_polls});
        return;
    }
    for (auto &[name, n] : nodes)
        for (auto &[sub, s] : n.subs)
            if (s.provider == origin && s.enabled && !stalled.count({name, origin}))
                n.progress[origin] = std::max(n.progress[origin], lsn);
}

void Cluster::apply_pending() {
    std::vector<Pending> due;
    for (auto it = pending_.begin(); it != pending_.end();) {
        if (--it->polls_left <= 0) {
            due.push_back(*it);
            it = pending_.erase(it);
        } else {
            ++it;
        }
    }
    const int lag = apply_after_polls;
    apply_after_polls = 0;
    for (const Pending &p : due) sync_event_applied(p.origin, p.lsn);
    apply_after_polls = lag;
}

std::optional<QueryResult> Cluster::journal(Node &n, const Query &q) {
    auto p = [&](size_t i) { return q.params.at(i).value_or(""); };
    auto run = [&]() -> JournalRun & { return n.runs.at(std::stoul(p(0)) - 1); };
    using zodan::Stmt;
    if (q.id == Stmt::JournalExists) return one("here", "true");
    if (q.id == Stmt::JournalBegin) {
        n.runs.push_back({p(0), p(1), p(2), p(5), "running", {}});
        return one("run_id", std::to_string(n.runs.size()));
    }
    if (q.id == Stmt::JournalRead) {
        for (size_t i = n.runs.size(); i-- > 0;) {
            const JournalRun &r = n.runs[i];
            if (r.operation != p(0)) continue;
            // The calling session is never alive in the fake: each run() is a new call.
            return QueryResult({"run_id", "state", "src_name", "new_name", "same_args", "pid", "alive", "started", "done"},
                               {{std::to_string(i + 1), r.state, r.src, r.new_node,
                                 std::string(r.fingerprint == p(1) ? "true" : "false"), std::string("0"),
                                 std::string("false"), csv(r.steps, false), csv(r.steps, true)}});
        }
        return none({"run_id"});
    }
    if (q.id == Stmt::JournalTakeOver) return run().state = "running", QueryResult();
    if (q.id == Stmt::JournalFinish || q.id == Stmt::JournalRunState) return run().state = p(1), QueryResult();
    if (q.id == Stmt::JournalStepStart) return run().steps[p(2)].state = "running", QueryResult();
    if (q.id == Stmt::JournalStepFailed) return run().steps[p(1)].state = "failed", QueryResult();
    if (q.id == Stmt::JournalStepDone || q.id == Stmt::JournalStepNote) {
        JournalStep &step = run().steps[p(1)];
        if (q.id == Stmt::JournalStepDone) step.state = "done";
        zodan::JsonObject given;
        const zodan::JsonValue parsed = zodan::parse_json(p(2));
        for (const auto &[key, value] : parsed.members()) given.add_raw(key, raw_json(value));
        step.output.merge(given);
        return QueryResult();
    }
    if (q.id == Stmt::JournalReadRecord) {
        std::vector<std::vector<Value>> rows;
        for (const auto &[step, state] : run().steps)
            if (!state.output.empty()) rows.push_back({step, state.output.str()});
        return QueryResult({"step_name", "output"}, rows);
    }
    return std::nullopt;
}

void Cluster::write_hot_row(Node &n, const std::string &table) {
    auto hot = hot_rows.find({n.name, table});
    if (hot != hot_rows.end()) n.data[table][hot->second] += "+";
}

QueryResult Cluster::handle(const std::string &node, const Query &q) {
    if (on_statement) on_statement(node, q);
    return answer(node, q);
}

namespace {

// A merged read's rows (sql::part_of splits them): each part's rows,
// tagged with its name, in the columns of them all.
QueryResult tagged(const std::vector<std::pair<std::string, std::pair<zodan::Stmt, QueryResult>>> &parts) {
    std::vector<std::string> columns{"part"};
    for (const auto &[name, part] : parts)
        for (const std::string &c : zodan::sql::part_columns(part.first))
            if (std::find(columns.begin(), columns.end(), c) == columns.end()) columns.push_back(c);
    std::vector<std::vector<Value>> rows;
    for (const auto &[name, part] : parts) {
        const std::vector<std::string> &own = zodan::sql::part_columns(part.first);
        for (size_t i = 0; i < part.second.size(); ++i) {
            std::vector<Value> row{name};
            for (size_t c = 1; c < columns.size(); ++c)
                row.push_back(std::find(own.begin(), own.end(), columns[c]) != own.end() ? part.second.at(i, columns[c])
                                                                                          : Value());
            rows.push_back(std::move(row));
        }
    }
    return QueryResult(columns, rows);
}

// One column of a many-row answer as a text[] value, as array_agg prints it.
Value array_of(const QueryResult &r, const std::string &column) {
    std::vector<std::string> items;
    for (size_t i = 0; i < r.size(); ++i) items.push_back(r.text(i, column));
    return zodan::text_array_literal(items);
}

// The first row's value of a column, NULL where there is no row.
Value scalar_of(const QueryResult &r, const std::string &column) { return r.empty() ? Value() : r.at(0, column); }

// Results side by side: the columns of each, one row (each part has one).
QueryResult side_by_side(const std::vector<std::pair<std::vector<std::string>, QueryResult>> &parts) {
    std::vector<std::string> columns;
    std::vector<Value> row;
    for (const auto &[cols, r] : parts)
        for (const std::string &c : cols) {
            columns.push_back(c);
            row.push_back(r.at(0, c));
        }
    return QueryResult(columns, {row});
}

}  // namespace

QueryResult Cluster::answer(const std::string &node, const Query &q) {
    using zodan::Stmt;
    namespace sql = zodan::sql;
    Node &n = nodes.at(node);
    auto p = [&](size_t i) { return q.params.at(i).value_or(""); };
    // A merged read answers as its parts would, each asked alone.
    auto part = [&](const Query &sub) { return std::make_pair(sub.id, answer(node, sub)); };
    // Spock's sub_create: N learns the provider's DSN; returns the provider.
    auto make_subscription = [&](const std::string &sub, const std::string &dsn, bool enabled) {
        std::string provider = host_of(dsn);
        n.known[provider] = dsn;
        n.subs[sub] = Sub{provider, enabled, "replicating", ""};
        return provider;
    };

    // Every id has its case and no default: the compiler (-Wswitch, an
    // error for the unit tests) names an id added without one.
    switch (q.id) {
    case Stmt::JournalExists:
    case Stmt::JournalRead:
    case Stmt::JournalReadRecord:
    case Stmt::JournalRunState:
    case Stmt::JournalBegin:
    case Stmt::JournalTakeOver:
    case Stmt::JournalStepStart:
    case Stmt::JournalStepDone:
    case Stmt::JournalStepNote:
    case Stmt::JournalStepFailed:
    case Stmt::JournalFinish:
        if (auto r = journal(n, q)) return *r;
        break;

    // The checks a long join needs.
    case Stmt::IndexCount: return one("n", std::to_string(n.data.size()));
    case Stmt::IndexBuilds:
        return QueryResult({"rel", "phase", "pct"}, {{std::string("public.items"), std::string("building index: scanning table"), std::string("40")}});
    case Stmt::IdentifySystem: return QueryResult({"systemid"}, {{n.sysid}});
    case Stmt::WalRetention:
        n.wal_written += n.wal_per_read;
        return QueryResult({"keep_bytes", "wal"}, {{std::to_string(n.wal_keep_bytes), std::to_string(n.wal_written)}});
    case Stmt::JoinSlotsWal: {
        const std::string slot = q.params.at(0).value_or("");
        if (!n.slots.count(slot)) return none({"slot", "wal_status", "safe_wal_size", "keep_bytes"});
        auto w = n.slot_wal.find(slot);
        const std::string status = w == n.slot_wal.end() ? "reserved" : w->second.first;
        Value safe = w == n.slot_wal.end() || !w->second.second ? Value() : Value(std::to_string(*w->second.second));
        return QueryResult({"slot", "wal_status", "safe_wal_size", "keep_bytes"},
                           {{slot, status, safe, std::to_string(n.wal_keep_bytes)}});
    }

    // Reading a node.
    case Stmt::SpockVersion: return one("extversion", n.version);
    case Stmt::LocalIdentity: return QueryResult({"sysid", "db"}, {{n.sysid, std::string("inventory")}});
    case Stmt::LocalNodeName: return n.registered ? one("node_name", n.name) : none({"node_name"});
    case Stmt::NodeIdentity:
        return QueryResult({"identity", "node_name", "node_id"},
                           {{n.sysid + "/16384", n.registered ? Value(n.name) : Value(),
                             n.registered ? Value(node_id_of(n.name)) : Value()}});
    case Stmt::ClusterNodes: {
        std::vector<std::vector<Value>> rows;
        for (const auto &[k, dsn] : n.known) rows.push_back({k, node_id_of(k), dsn});
        return QueryResult({"node_name", "node_id", "dsn"}, rows);
    }
    case Stmt::NodesWithDsn: {
        std::vector<std::vector<Value>> rows;
        for (const auto &[k, dsn] : n.known) rows.push_back({k, dsn});
        return QueryResult({"node_name", "dsn"}, rows);
    }
    case Stmt::NodeExists: return one("n", std::to_string(n.known.count(p(0))));
    case Stmt::NodeIdTaken: {
        auto taken = n_id_collisions.find(p(0));
        if (taken == n_id_collisions.end()) return none({"node_name", "node_id"});
        return QueryResult({"node_name", "node_id"}, {{taken->second, std::string("4242")}});
    }
    case Stmt::NodeCapacity:
        return QueryResult({"wal_level", "track_commit_timestamp", "shared_preload_libraries", "output_plugin_libraries",
                            "origins_setting", "max_origins", "origins_used", "max_slots", "slots_used", "max_senders",
                            "senders_used", "max_workers", "workers_used", "max_connections", "connections_used",
                            "database_bytes"},
                           {{std::string("logical"), std::string("on"), std::string("spock"), Value(),
                             std::string("max_replication_slots"), std::string("32"), std::to_string(n.origins.size()),
                             std::string("32"), std::to_string(n.slots.size()), std::to_string(n.max_senders),
                             std::to_string(2 + n.open_walsenders), std::string("48"), std::string("4"),
                             std::string("100"), std::to_string(5 + n.open_sessions),
                             std::string("8000000")}});
    case Stmt::DisabledSubscriptions: {
        std::vector<std::vector<Value>> rows;
        for (const auto &[k, s] : n.subs)
            if (!s.enabled) rows.push_back({k});
        return QueryResult({"sub_name"}, rows);
    }
    case Stmt::UserTables: {
        std::vector<std::vector<Value>> rows;
        for (const auto &t : n.user_tables) rows.push_back({t});
        return QueryResult({"rel"}, rows);
    }
    case Stmt::LoginRoles:
    case Stmt::Roles: {
        std::vector<std::vector<Value>> rows;
        for (const auto &r : n.roles) rows.push_back({r});
        return QueryResult({"rolname"}, rows);
    }
    case Stmt::SubscriptionCount: return one("n", std::to_string(n.subs.size()));
    case Stmt::ReplicationSetCount: return one("n", n.registered ? "3" : "0");
    case Stmt::LocalSets: {
        std::vector<std::vector<Value>> rows;
        if (n.registered)
            for (const char *s : {"ddl_sql", "default", "default_insert_only"})
                rows.push_back({std::string(s), std::string("true"), std::string("true"), std::string("true"),
                                std::string("true")});
        return QueryResult({"set_name", "ins", "upd", "del", "trunc"}, rows);
    }
    case Stmt::LocalSetTables: return none({"set_name", "rel", "att_list", "row_filter"});
    case Stmt::LocalSetSequences: return none({"set_name", "seq"});
    case Stmt::SchemasToSkip: return none({"nspname"});

    // Reads merged into one round trip (spock_sql.hpp).
    case Stmt::SourceView:
        return tagged({{"local", part(sql::local_node_name())},
                       {"nodes", part(sql::nodes_with_dsn())},
                       {"version", part(sql::spock_version())},
                       {"journal", part(sql::journal_here())}});
    case Stmt::MemberView:
        return tagged({{"local", part(sql::local_node_name())},
                       {"version", part(sql::spock_version())},
                       {"journal", part(sql::journal_here())}});
    case Stmt::LocalSetsAll:
        return tagged({{"sets", part(sql::local_sets())},
                       {"tables", part(sql::local_set_tables())},
                       {"sequences", part(sql::local_set_sequences())}});
    case Stmt::MeshView:
        return tagged({{"nodes", part(sql::nodes_with_dsn())}, {"subscriptions", part(sql::subscription_status())}});
    case Stmt::ProgressAndStatus:
        return tagged({{"progress", part(sql::applied_through(zodan::parse_text_array(p(0))))},
                       {"subscriptions", part(sql::subscription_status())}});
    case Stmt::LocalSetsAndSlot: {
        const size_t slots = answer(node, sql::slot_exists(p(0))).size();
        return QueryResult({"sets", "slots", "xid"},
                           {{array_of(answer(node, sql::local_sets()), "set_name"), std::to_string(slots),
                             p(1) == "true" && slots == 0 ? Value(std::to_string(1000 + n.marks++)) : Value()}});
    }
    case Stmt::PreconditionReads: {
        const std::string name = p(0);
        const QueryResult taken = answer(node, sql::node_id_taken(name));
        const QueryResult checks(
            {"encoding", "login_roles", "roles", "user_tables", "disabled_subs", "known", "taken_name", "taken_id",
             "local_node", "subscriptions", "sets"},
            {{scalar_of(answer(node, sql::database_encoding()), "encoding"),
              array_of(answer(node, sql::login_roles()), "rolname"), array_of(answer(node, sql::roles()), "rolname"),
              p(1) == "true" ? array_of(answer(node, sql::user_tables()), "rel") : Value(),
              array_of(answer(node, sql::disabled_subscriptions()), "sub_name"),
              scalar_of(answer(node, sql::node_exists(name)), "n"), scalar_of(taken, "node_name"),
              scalar_of(taken, "node_id"), scalar_of(answer(node, sql::local_node_name()), "node_name"),
              scalar_of(answer(node, sql::subscription_count()), "n"),
              scalar_of(answer(node, sql::replication_set_count()), "n")}});
        return side_by_side({{{"sysid", "db"}, answer(node, sql::local_identity())},
                             {{"wal_level", "track_commit_timestamp", "shared_preload_libraries",
                               "output_plugin_libraries", "origins_setting", "max_origins", "origins_used", "max_slots",
                               "slots_used", "max_senders", "senders_used", "max_workers", "workers_used",
                               "max_connections", "connections_used", "database_bytes"},
                              answer(node, sql::node_capacity())},
                             {{"keep_bytes", "wal"}, answer(node, sql::wal_retention())},
                             {{"native", "lolor_installed", "lolor_available", "lolor_replicated", "lolor_node"},
                              answer(node, sql::large_objects())},
                             {{"encoding", "login_roles", "roles", "user_tables", "disabled_subs", "known",
                               "taken_name", "taken_id", "local_node", "subscriptions", "sets"},
                              checks}});
    }

    // Rolling back a copy.
    case Stmt::UserObjects: return none({"obj"});
    case Stmt::CopyRollbackPlan: {
        // The copy made public.items; copy_dependents depend on it.
        const std::vector<std::string> cols = {"role", "what", "stmt", "verb", "target", "grp", "ord", "copy"};
        std::vector<std::vector<Value>> rows;
        rows.push_back({std::string("drop"), std::string("table public.items"), std::string("DROP TABLE public.items"),
                        std::string("DROP TABLE"), std::string("public.items"), std::string("3"), std::string("16500"),
                        std::string("true")});
        for (const std::string &o : copy_dependents)
            rows.push_back({std::string("other"), o, Value(), Value(), Value(), std::string("0"), std::string("16600"),
                            std::string("false")});
        rows.push_back({std::string("table"), std::string("c:16500"), Value(), Value(), Value(), std::string("0"),
                        std::string("16500"), std::string("true")});
        return QueryResult(cols, rows);
    }
    case Stmt::CopiedTablesLock: return none({"stmt"});
    case Stmt::BeginRollback:
    case Stmt::DdlReplicationOff:
    case Stmt::DropInSavepoint:
    case Stmt::UndoDrop:
    case Stmt::CommitRollback:
    case Stmt::AbandonRollback:
        return QueryResult();
    case Stmt::TablesWrittenLocally: return one("stmt", "local writes");
    case Stmt::LocalWrites: {
        std::vector<std::vector<Value>> rows;
        for (const std::string &t : written_locally) rows.push_back({t});
        return QueryResult({"rel"}, rows);
    }

    // Nodes, slots, origins.
    case Stmt::NodeCreate:
        n.registered = true;
        n.known[n.name] = p(1);
        return one("node_id", "1234");
    case Stmt::NodeDrop:
        n.known.erase(p(0));
        if (p(0) == n.name) n.registered = false;
        return one("dropped", "true");
    case Stmt::SlotName: return one("slot", "spk_" + p(0) + "_" + p(1) + "_" + p(2));
    case Stmt::CreateSlot:
        n.slots[p(0)] = n.wal;
        return one("lsn", zodan::format_lsn(n.wal));
    case Stmt::CreateSlotThenSyncEvent: {
        n.slots[p(0)] = n.wal;
        const QueryResult event = answer(node, sql::sync_event());
        return QueryResult({"lsn", "sync_lsn"}, {{zodan::format_lsn(n.slots[p(0)]), event.scalar()}});
    }
    case Stmt::SlotExists: {
        auto s = n.slots.find(p(0));
        if (s == n.slots.end()) return none({"active", "lsn"});
        return QueryResult({"active", "lsn"}, {{std::string("false"), zodan::format_lsn(s->second)}});
    }
    case Stmt::AdvanceSlot: {  // never backwards, like the real one
        auto &slot = n.slots.at(p(0));
        slot = std::max(slot, zodan::parse_lsn(p(1)));
        return one("lsn", zodan::format_lsn(slot));
    }
    case Stmt::SlotsNamed: {
        std::vector<std::vector<Value>> rows;
        for (const std::string &slot : zodan::parse_text_array(p(0)))
            if (n.slots.count(slot)) rows.push_back({slot, std::string("0")});
        return QueryResult({"slot_name", "active_pid"}, rows);
    }
    case Stmt::TerminateSlotUser: return QueryResult();
    case Stmt::DropSlot: return n.slots.erase(p(0)), QueryResult();
    case Stmt::SpockSlots: {
        std::vector<std::vector<Value>> rows;
        for (const auto &[slot, lsn] : n.slots) rows.push_back({slot, std::string("0")});
        return QueryResult({"slot_name", "active_pid"}, rows);
    }
    case Stmt::DropOriginIfExists:
    case Stmt::DropOrigin:
        return n.origins.erase(p(0)), QueryResult();
    case Stmt::AdvanceOrigin: return n.origins[p(0)] = zodan::parse_lsn(p(1)), QueryResult();
    case Stmt::AdvanceOrigins: {
        std::vector<std::string> origins = zodan::parse_text_array(p(0)), lsns = zodan::parse_text_array(p(1));
        std::vector<std::vector<Value>> rows;
        for (size_t i = 0; i < origins.size(); ++i) {
            n.origins[origins[i]] = zodan::parse_lsn(lsns[i]);
            rows.push_back({std::string("")});
        }
        return QueryResult({"advanced"}, rows);
    }
    case Stmt::UnusedOriginsAmong: return none({"roname"});

    // Replication and subscriptions.
    case Stmt::SyncEvent:
        n.wal += 0x100;
        sync_event_applied(node, n.wal);
        return one("lsn", zodan::format_lsn(n.wal));
    case Stmt::AppliedThrough: {
        ++progress_reads;
        apply_pending();
        std::vector<std::vector<Value>> rows;
        for (const std::string &origin : zodan::parse_text_array(p(0))) {
            auto it = n.progress.find(origin);
            if (it != n.progress.end()) rows.push_back({origin, zodan::format_lsn(it->second)});
        }
        return QueryResult({"origin", "lsn"}, rows);
    }
    case Stmt::ApplyRestartDelay: return QueryResult({"ms"}, {{std::to_string(n.restart_delay_ms)}});
    case Stmt::SubscriptionStatus: {
        for (auto &[k, s] : n.subs)
            if (s.status == "down" && s.restarts_at > 0 && clock_ >= s.restarts_at) worker_started(node, s);
        std::vector<std::vector<Value>> rows;
        for (const auto &[k, s] : n.subs) rows.push_back({k, s.enabled ? s.status : "disabled", s.provider});
        return QueryResult({"subscription_name", "status", "provider_node"}, rows);
    }
    case Stmt::EndLostApplyWorkers: {
        std::vector<std::vector<Value>> rows;
        auto it = n.subs.find(p(0));
        if (it != n.subs.end() && !it->second.lost_worker_pid.empty()) {
            rows.push_back({it->second.lost_worker_pid, std::string("t")});
            it->second.lost_worker_pid.clear();
            worker_started(node, it->second);
        }
        return QueryResult({"pid", "ended"}, rows);
    }
    case Stmt::SubCreateDisabled: {  // disabled, none copying
        std::vector<std::string> subs = zodan::parse_text_array(p(0)), dsns = zodan::parse_text_array(p(1));
        std::vector<std::vector<Value>> rows;
        for (size_t i = 0; i < subs.size(); ++i) {
            make_subscription(subs[i], dsns.at(i), false);
            rows.push_back({subs[i], std::string("42")});
        }
        return QueryResult({"sub_name", "sub_id"}, rows);
    }
    case Stmt::SubCreate: {
        make_subscription(p(0), p(1), p(5) == "true");
        return one("sub_id", "42");
    }
    case Stmt::SubCreateIfAbsent:
        if (n.subs.count(p(0))) return none({"sub_id"});
        make_subscription(p(0), p(1), p(5) == "true");
        return one("sub_id", "42");
    case Stmt::SubCreateThenEnable: {
        const bool absent = n.subs.count(p(0)) == 0;
        if (absent) make_subscription(p(0), p(1), false);
        n.subs.at(p(0)).enabled = true;
        return QueryResult({"made", "enabled"}, {{std::string(absent ? "1" : "0"), std::string("true")}});
    }
    case Stmt::EnableDisabled: {
        std::vector<std::vector<Value>> rows;
        for (const std::string &sub : zodan::parse_text_array(p(0))) {
            auto it = n.subs.find(sub);
            if (it == n.subs.end() || it->second.enabled) continue;
            it->second.enabled = true;
            rows.push_back({sub, std::string("true")});
        }
        return QueryResult({"sub_name", "enabled"}, rows);
    }
    case Stmt::SubDisable:
        if (n.subs.count(p(0))) n.subs[p(0)].enabled = false;
        return QueryResult();
    case Stmt::SubDrop: return n.subs.erase(p(0)), QueryResult();
    case Stmt::SubscriptionWorkers: return one("n", "0");
    case Stmt::ApplyWorkers:
        return QueryResult({"manager", "workers", "missing", "manager_busy", "without"},
                           {{std::string("100"), std::string("101"), std::string("0"), std::string("false"), Value()}});
    case Stmt::SubscriptionSlots: {
        std::vector<std::string> dbs = zodan::parse_text_array(p(0)), providers = zodan::parse_text_array(p(1)),
                                 subs = zodan::parse_text_array(p(2));
        std::vector<std::vector<Value>> rows;
        for (size_t i = 0; i < subs.size(); ++i) {
            const std::string named = "spk_" + dbs[i] + "_" + providers[i] + "_" + subs[i];
            auto it = n.subs.find(subs[i]);
            const bool present = it != n.subs.end();
            rows.push_back({subs[i], present ? "spk_inventory_" + it->second.provider + "_" + subs[i] : named,
                            std::string(present ? "true" : "false"),
                            std::string(n.origins.count(named) ? "true" : "false")});
        }
        return QueryResult({"sub", "slot", "present", "origin_left"}, rows);
    }
    case Stmt::SubscriptionsInvolving: {
        std::vector<std::vector<Value>> rows;
        for (const auto &[sub, s] : n.subs) {
            const std::string target = n.name;
            if (s.provider == p(0) || target == p(0))
                rows.push_back({sub, s.provider, target, "spk_inventory_" + s.provider + "_" + sub});
        }
        return QueryResult({"sub_name", "provider", "subscriber", "slot"}, rows);
    }
    case Stmt::LagFrom: return QueryResult({"bytes", "lag"}, {{std::string("0"), std::string("00:00:00")}});

    // Replication sets.
    case Stmt::RepsetCreate:
    case Stmt::RepsetAlter:
    case Stmt::RepsetAddTable:
    case Stmt::RepsetRemoveTable:
    case Stmt::RepsetAddSeq:
    case Stmt::RepsetRemoveSeq:
        return one("ok", "true");
    case Stmt::RepsetDrop: return QueryResult();

    // The copy point and the copy.
    case Stmt::PauseApplyWorkers: return one("seconds", "10");
    case Stmt::ResumeApplyWorkers: return QueryResult();
    case Stmt::TransactionsHoldingXids: return none({"pid", "what", "seconds"});
    case Stmt::CreateSlotExportingSnapshot: {
        const std::string &slot = q.subject;  // a replication command: no parameters
        n.slots[slot] = n.wal;
        if (++copy_point_attempts <= moving_attempts)  // the pause did not hold: S applied more meanwhile
            for (auto &[origin, lsn] : n.progress) lsn += 0x10;
        return QueryResult({"slot_name", "consistent_point", "snapshot_name", "output_plugin"},
                           {{slot, zodan::format_lsn(n.wal), std::string("00000003-00000002-1"), std::string("spock_output")}});
    }
    case Stmt::BeginInSnapshot:
    case Stmt::Rollback:
    case Stmt::Commit:
    case Stmt::CreateOrigin:
    case Stmt::SetupOriginSession:
    case Stmt::MarkCopiedRows:
    case Stmt::ReplicaRole:
    case Stmt::BeginCopyTarget:
    case Stmt::ResetOriginSession:
        return QueryResult();
    case Stmt::CopyJobList: {
        // Each table in two parts, whose labels (worded unlike the real
        // one's) say nothing the copy may read its table from.
        std::vector<std::vector<Value>> rows;
        for (const auto &[table, rows_of] : n.data)
            for (const char *part : {"1", "2"})
                rows.push_back({"part " + std::string(part) + " of 2 of " + table, table, std::string("8192"),
                                "COPY " + table + " TO STDOUT", "COPY " + table + " FROM STDIN", std::string("false")});
        return QueryResult({"job", "rel", "bytes", "out_sql", "in_sql", "binary"}, rows);
    }
    case Stmt::SequenceValues: return none({"stmt"});
    case Stmt::DatabaseOid: return one("oid", "16384");
    case Stmt::ServerMajor: return one("major", "15");
    case Stmt::DatabaseEncoding: return one("encoding", n.encoding);
    case Stmt::CopyOrigins: return none({"roname"});
    case Stmt::RestoreSettings: return one("options", "");
    case Stmt::CreateDumpFunction:
        // A missing library (58P01) is met by CREATE FUNCTION ... LANGUAGE c.
        if (!n.dump_refusal.empty() && n.dump_refusal_state == "58P01")
            throw zodan::RemoteError(node, q.name, n.dump_refusal, n.dump_refusal_state);
        return QueryResult();
    case Stmt::DumpStructure:
        if (!n.dump_refusal.empty())
            throw zodan::RemoteError(node, q.name, n.dump_refusal, n.dump_refusal_state);
        return one("archive", fake_archive_hex(node));

    // The join window.
    case Stmt::WindowMarkTime:
        return QueryResult({"ts", "long"}, {{q.params.at(1) ? Value("2026-01-01 00:00:00.00000" + n.name.substr(1) + "+00")
                                                            : Value(),
                                             std::to_string(answer(node, sql::transactions_holding_xids(500)).size())}});
    case Stmt::WindowTables: {
        std::vector<std::vector<Value>> rows;
        int t = 0;
        for (const auto &[table, rows_of] : n.data) {
            const std::string num = std::to_string(++t);
            rows.push_back({num, table, "select " + table, "UPDATE " + table});
        }
        return QueryResult({"t", "rel", "select_sql", "update_sql"}, rows);
    }
    case Stmt::WindowRows: {
        std::map<std::string, std::string> number;
        int t = 0;
        for (const auto &[table, rows_of] : n.data) number[table] = std::to_string(++t);
        std::vector<std::vector<Value>> rows;
        for (const Node::WindowRow &w : n.window_rows)
            if (w.ts >= p(0)) rows.push_back({number.at(w.table), w.ts, w.origin, w.key});
        return QueryResult({"t", "ts", "origin", "key"}, rows);
    }
    case Stmt::RestampSession: return QueryResult();
    case Stmt::Restamp: {
        // statements, origins, stamps, entry_xact, entry_table, entry_keys
        std::vector<std::string> call;
        for (size_t i = 0; i < 6; ++i) call.push_back(p(i));
        n.restamped.push_back(call);
        size_t keys = 0;
        for (const std::string &k : zodan::parse_text_array(p(5)))
            for (size_t at = 0; (at = k.find("[\"", at)) != std::string::npos; ++at) ++keys;
        return one("rewritten", std::to_string(keys));
    }

    // The comparison.
    case Stmt::VerifyTables: {
        std::vector<std::vector<Value>> rows;
        for (const auto &[table, r] : n.data)
            rows.push_back({table, std::to_string(n.stale_statistics ? 0 : r.size()),
                            verify_chunk_key ? Value(std::string("id")) : Value(),
                            verify_chunk_key ? Value(std::string("bigint")) : Value()});
        return QueryResult({"rel", "rows", "key_col", "key_type"}, rows);
    }
    case Stmt::VerifyStatements: {  // read as the product writes them: a scan of the table, which a key interval narrows
        std::vector<std::vector<Value>> rows;
        const std::vector<std::string> rels = zodan::parse_text_array(p(0));
        for (size_t i = 0; i < rels.size(); ++i)
            rows.push_back({std::to_string(i + 1), "sums FROM " + rels[i] + " AS zodan_row", "rows FROM " + rels[i] + " AS zodan_row"});
        return QueryResult({"t", "sums", "rows"}, rows);
    }
    case Stmt::VerifyChunkBounds: {  // keys are numbers here; each table's part as it would be alone
        std::vector<std::vector<Value>> rows;
        const std::vector<std::string> rels = zodan::parse_text_array(q.subject);
        for (size_t t = 0; t < rels.size(); ++t) {
            const Value &lo = q.params.at(t + 1);
            std::vector<long long> keys;
            for (const auto &[k, v] : n.data[rels[t]])
                if (!lo || std::stoll(k) > std::stoll(*lo)) keys.push_back(std::stoll(k));
            std::sort(keys.begin(), keys.end());
            keys.resize(std::min(keys.size(), static_cast<size_t>(std::stoll(*q.params.at(0)))));
            ++chunk_bounds_read;
            rows.push_back({std::to_string(t), std::to_string(keys.size()),
                            keys.empty() ? Value() : Value(std::to_string(keys.back()))});
        }
        return QueryResult({"t", "n", "hi"}, rows);
    }
    case Stmt::VerifySums: {  // one range per table (or key interval): its row count and a hash
        write_hot_row(n, q.subject);
        std::string hash;
        size_t count = 0;
        for (const auto &[k, v] : n.data[q.subject])
            if (in_interval(k, q)) hash += k + "=" + v + ";", ++count;
        return QueryResult({"range", "n", "hash"}, {{std::string("0"), std::to_string(count), std::to_string(std::hash<std::string>{}(hash))}});
    }
    case Stmt::VerifySumsMerged: {  // several tables read whole, each as VerifySums alone
        std::vector<std::vector<Value>> rows;
        const std::vector<std::string> rels = zodan::parse_text_array(q.subject);
        for (size_t t = 0; t < rels.size(); ++t) {
            Query alone = q;
            alone.id = Stmt::VerifySums;
            alone.subject = rels[t];
            const QueryResult r = answer(node, alone);
            for (size_t i = 0; i < r.size(); ++i) rows.push_back({std::to_string(t), r.at(i, "range"), r.at(i, "n"), r.at(i, "hash")});
        }
        return QueryResult({"part", "range", "n", "hash"}, rows);
    }
    case Stmt::VerifyRows: {
        write_hot_row(n, q.subject);
        std::vector<std::vector<Value>> rows;
        for (const auto &[k, v] : n.data[q.subject])
            if (in_interval(k, q)) rows.push_back({k, v});
        return QueryResult({"k", "h"}, rows);
    }

    // The join lock.
    case Stmt::JoinLockTake: {
        const bool got = !n.join_lock;
        n.join_lock = true;
        return one("got", got ? "true" : "false");
    }
    case Stmt::JoinLockRelease: return n.join_lock = false, QueryResult();
    case Stmt::JoinLockHolder:
        return QueryResult({"pid", "who", "seconds"}, {{std::string("999"), std::string("zodan: add_node n9"), std::string("3")}});

    case Stmt::LargeObjects:
        return QueryResult({"native", "lolor_installed", "lolor_available", "lolor_replicated", "lolor_node"},
                           {{std::to_string(n.large_objects), std::string(n.lolor.installed ? "t" : "f"),
                             std::string(n.lolor.available ? "t" : "f"), std::to_string(n.lolor.replicated),
                             n.lolor.node}});
    case Stmt::LolorHasRows: return one("has_rows", n.lolor.has_rows ? "t" : "f");

    case Stmt::PauseHere:
    case Stmt::PauseEnd:
        return QueryResult();

    // The physical path (src/core/physical): no node of the fake has zodan's
    // journal there, so none holds a fence to lift.
    case Stmt::PhysicalJournalHere: return one("here", "false");
    // No node of the fake is a promoted copy: none replayed a fence.
    case Stmt::PhysicalReplayedFence:
    case Stmt::PhysicalDeadFences:
        return QueryResult();
    case Stmt::PhysicalInstanceIdentity:
    case Stmt::PhysicalZodanVersion:
    case Stmt::PhysicalWalReceiver:
    case Stmt::PhysicalSynchronousStandby:
    case Stmt::PhysicalFilteredTables:
    case Stmt::PhysicalWriteProbe:
    case Stmt::PhysicalProbeSeen:
    case Stmt::PhysicalDropProbe:
    case Stmt::PhysicalBegin:
    case Stmt::PhysicalCommit:
    case Stmt::PhysicalRollback:
    case Stmt::PhysicalDisableInbound:
    case Stmt::PhysicalRecordFence:
    case Stmt::PhysicalEndWalsender:
    case Stmt::PhysicalClearStatsSnapshot:
    case Stmt::PhysicalFencedSlots:
    case Stmt::PhysicalApplyWorkersRunning:
    case Stmt::PhysicalEndApplyWorkers:
    case Stmt::PhysicalEnableFenced:
    case Stmt::PhysicalForgetFence:
    case Stmt::PhysicalReplayed:
    case Stmt::PhysicalPromote:
    case Stmt::PhysicalLocalNode:
    case Stmt::PhysicalDropJournalRows:
    case Stmt::PhysicalDropLogicalSlots:
    case Stmt::PhysicalDropSpockOrigins:
    case Stmt::PhysicalStripSpockCatalog:
    case Stmt::PhysicalResetStandbySetting:
    case Stmt::PhysicalReloadConfiguration:
    case Stmt::PhysicalDropPhysicalSlot:
    case Stmt::PhysicalAmendFence:
    case Stmt::PhysicalRequestPromotion:
    case Stmt::PhysicalReplayEnd:
    case Stmt::PhysicalEnabledInbound:
    case Stmt::PhysicalDropOtherRuns:
    case Stmt::PhysicalDirectStandby:
    case Stmt::PhysicalReplayState:
    case Stmt::PhysicalOtherSpockDatabases:
    // Not modelled: no test reaches them (a copy's statements go through
    // copy_jobs; a session's set-up is the libpq connection's own).
    case Stmt::SessionSetUp:
    case Stmt::TableShapes:
    case Stmt::TerminateSubscriptionWorkers:
    case Stmt::RelationsMissing:
    case Stmt::LockCopiedTables:
    case Stmt::SetSequence:
    case Stmt::CopyOut:
    case Stmt::CopyIn:
        break;
    }
    throw std::logic_error(std::string("fake cluster: no answer for statement ") + zodan::stmt_name(q.id) + " (\"" +
                           q.name + "\")");
}

}  // namespace fake
