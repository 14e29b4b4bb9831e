#include "fake_cluster.hpp"

#include <algorithm>
#include <functional>

#include "core/protocol/names.hpp"
#include "core/text/text_array.hpp"

namespace fake {

namespace {

bool starts(const std::string &s, const char *prefix) { return s.rfind(prefix, 0) == 0; }

QueryResult one(const std::string &column, const Value &v) { return QueryResult({column}, {{v}}); }
QueryResult none(const std::vector<std::string> &columns) { return QueryResult(columns, {}); }

// Like Spock's: derived from the name, the same in every cluster.
std::string node_id_of(const std::string &name) { return std::to_string(std::hash<std::string>{}(name) & 65535); }

std::string host_of(const std::string &dsn) { return *zodan::conninfo_value(zodan::parse_conninfo(dsn), "host"); }

class Conn : public zodan::Connection {
public:
    Conn(Cluster &c, const std::string &node) : zodan::Connection(node), cluster_(c) {}
    // Like a session's advisory lock: it goes with the session.
    ~Conn() override {
        abandon();
        if (holds_join_lock_) cluster_.nodes.at(node()).join_lock = false;
    }
    void send(const Query &q) override {
        pending_ = q;
        batch_ = cluster_.batch_for_send();
        busy_ = true;
    }
    void abandon() override {
        if (busy_) cluster_.received();
        busy_ = false;
    }
    QueryResult receive() override {
        cluster_.received();
        busy_ = false;
        cluster_.calls.push_back({node(), pending_.name, pending_.params, batch_});
        for (const auto &[key, message] : cluster_.failures)
            if (key.first == node() && starts(pending_.name, key.second.c_str()))
                throw zodan::RemoteError(node(), pending_.name, message);
        if (pending_.name == "take the join lock" && !cluster_.nodes.at(node()).join_lock) holds_join_lock_ = true;
        if (pending_.name == "release the join lock") holds_join_lock_ = false;
        return cluster_.handle(node(), pending_);
    }

private:
    bool holds_join_lock_ = false;
    bool busy_ = false;
    Cluster &cluster_;
    Query pending_;
    int batch_ = 0;
};

class NoDir : public zodan::ScratchDir {
public:
    const std::string &path() const override { return path_; }

private:
    std::string path_ = "/fake/scratch";
};

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
    return connect(node, dsn);
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
    calls.push_back({"program", program.name, {program.dsn}, 0});
    return "";
}

std::unique_ptr<zodan::ScratchDir> Cluster::scratch_dir() { return std::make_unique<NoDir>(); }

void Cluster::copy_jobs(const std::vector<zodan::CopyLane> &lanes, const std::vector<zodan::CopyJob> &jobs,
                        const std::function<void(const zodan::CopyState &)> &progress) {
    // The copy holds what the source held at the copy point: its data, and
    // for each other origin what it had applied of it.
    Node &from = nodes.at(lanes.at(0).from->node());
    Node &to = nodes.at(lanes.at(0).to->node());
    for (const auto &[origin, lsn] : from.progress)
        if (origin != to.name) to.copied[origin] = to.progress[origin] = lsn;
    for (const zodan::CopyJob &job : jobs) to.data[job.table] = from.data[job.table];
    calls.push_back({to.name, "copy the data", {std::to_string(jobs.size()), std::to_string(lanes.size())}, 0});
    zodan::CopyState state;
    state.bytes.assign(jobs.size(), 100);
    state.done.assign(jobs.size(), true);
    if (progress) progress(state);
}

std::vector<Call> Cluster::calls_named(const std::string &prefix) const {
    std::vector<Call> out;
    for (const Call &c : calls)
        if (c.name.rfind(prefix, 0) == 0) out.push_back(c);
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
    const std::string &name = q.name;
    if (name == "look for the journal") return one("here", "true");
    if (name == "record the run") {
        n.runs.push_back({p(0), p(1), p(2), p(5), "running", {}});
        return one("run_id", std::to_string(n.runs.size()));
    }
    if (name == "read the journal") {
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
    if (name == "take over the run") return run().state = "running", QueryResult();
    if (name == "record the run end" || name == "record the run state") return run().state = p(1), QueryResult();
    if (name == "record a step start") return run().steps[p(2)].state = "running", QueryResult();
    if (name == "record a step failure") return run().steps[p(1)].state = "failed", QueryResult();
    if (name == "record a step end" || name == "record a step's progress") {
        JournalStep &step = run().steps[p(1)];
        if (name == "record a step end") step.state = "done";
        zodan::JsonObject given;
        const zodan::JsonValue parsed = zodan::parse_json(p(2));
        for (const auto &[key, value] : parsed.members()) given.add_raw(key, raw_json(value));
        step.output.merge(given);
        return QueryResult();
    }
    if (name == "read the run's record") {
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

std::optional<QueryResult> Cluster::copy_and_compare(Node &n, const Query &q) {
    const std::string &name = q.name;
    auto p = [&](size_t i) { return q.params.at(i).value_or(""); };
    if (name == "read spock.pause_timeout") return one("seconds", "10");
    if (starts(name, "pause the apply workers") || starts(name, "resume the apply workers")) return QueryResult();
    if (name == "list long transactions") return none({"pid", "what", "seconds"});
    if (starts(name, "create slot ") && name.find(" with its snapshot") != std::string::npos) {
        const std::string slot = name.substr(12, name.find(" with its snapshot") - 12);
        n.slots[slot] = n.wal;
        if (++copy_point_attempts <= moving_attempts)  // the pause did not hold: S applied more meanwhile
            for (auto &[origin, lsn] : n.progress) lsn += 0x10;
        return QueryResult({"slot_name", "consistent_point", "snapshot_name", "output_plugin"},
                           {{slot, zodan::format_lsn(n.wal), std::string("00000003-00000002-1"), std::string("spock_output")}});
    }
    if (name == "open the copy's snapshot" || name == "end the transaction" || name == "commit the copy" ||
        starts(name, "create origin") || starts(name, "mark the copy with origin") || name == "date the copied rows" ||
        name == "turn triggers off" || name == "begin the copy" || name == "end the copy's origin")
        return QueryResult();
    if (name == "list the tables to copy") {
        std::vector<std::vector<Value>> rows;
        for (const auto &[table, rows_of] : n.data)
            rows.push_back({table, std::string("8192"), "COPY " + table + " TO STDOUT", "COPY " + table + " FROM STDIN",
                            std::string("false")});
        return QueryResult({"job", "bytes", "out_sql", "in_sql", "binary"}, rows);
    }
    if (name == "mark the start of the join window") return one("xid", "1000");
    if (name == "read the join window's start") return one("ts", "2026-01-01 00:00:00.00000" + n.name.substr(1) + "+00");
    if (name == "list the tables of the join window") {
        std::vector<std::vector<Value>> rows;
        int t = 0;
        for (const auto &[table, rows_of] : n.data) {
            const std::string num = std::to_string(++t);
            rows.push_back({num, table, "select " + table, "UPDATE " + table});
        }
        return QueryResult({"t", "rel", "select_sql", "update_sql"}, rows);
    }
    if (name == "read the rows of the join window") {
        std::map<std::string, std::string> number;
        int t = 0;
        for (const auto &[table, rows_of] : n.data) number[table] = std::to_string(++t);
        std::vector<std::vector<Value>> rows;
        for (const Node::WindowRow &w : n.window_rows)
            if (w.ts >= p(0)) rows.push_back({number.at(w.table), w.ts, w.origin, w.key});
        return QueryResult({"t", "ts", "origin", "key"}, rows);
    }
    if (name == "prepare the restamping") return QueryResult();
    if (name == "restamp rows of the join window") {
        // statements, origins, stamps, entry_xact, entry_table, entry_keys
        std::vector<std::string> call;
        for (size_t i = 0; i < 6; ++i) call.push_back(p(i));
        n.restamped.push_back(call);
        size_t keys = 0;
        for (const std::string &k : zodan::parse_text_array(p(5)))
            for (size_t at = 0; (at = k.find("[\"", at)) != std::string::npos; ++at) ++keys;
        return one("rewritten", std::to_string(keys));
    }
    if (name == "read the sequences") return none({"stmt"});
    if (name == "read the database's oid") return one("oid", "16384");
    if (name == "read the server's major version") return one("major", "15");
    if (name == "read the database's encoding") return one("encoding", n.encoding);
    if (name == "list unused origins") return none({"roname"});
    if (name == "write the local-writes check") return one("stmt", "local writes");
    if (name == "look for rows written on the node") {
        std::vector<std::vector<Value>> rows;
        for (const std::string &t : written_locally) rows.push_back({t});
        return QueryResult({"rel"}, rows);
    }
    if (name == "list the copy's origins") return none({"roname"});
    if (name == "read the settings the restore needs") return one("options", "");
    if (name == "list the tables to compare") {
        std::vector<std::vector<Value>> rows;
        for (const auto &[table, r] : n.data) rows.push_back({table, std::to_string(r.size())});
        return QueryResult({"rel", "rows"}, rows);
    }
    if (starts(name, "write the comparison of "))
        return QueryResult({"sums", "rows"}, {{std::string("sums"), std::string("rows")}});
    if (starts(name, "sum ")) {  // one range per table: its row count and a hash
        const std::string table = name.substr(4, name.find(" by key range") - 4);
        write_hot_row(n, table);
        const auto &rows = n.data[table];
        std::string hash;
        for (const auto &[k, v] : rows) hash += k + "=" + v + ";";
        return QueryResult({"range", "n", "hash"}, {{std::string("0"), std::to_string(rows.size()), std::to_string(std::hash<std::string>{}(hash))}});
    }
    if (starts(name, "read ") && name.find(" by key") != std::string::npos) {
        const std::string table = name.substr(5, name.find(" by key") - 5);
        write_hot_row(n, table);
        std::vector<std::vector<Value>> rows;
        for (const auto &[k, v] : n.data[table]) rows.push_back({k, v});
        return QueryResult({"k", "h"}, rows);
    }
    if (name == "take the join lock") {
        const bool got = !n.join_lock;
        n.join_lock = true;
        return one("got", got ? "true" : "false");
    }
    if (name == "release the join lock") return n.join_lock = false, QueryResult();
    if (name == "find who holds the join lock")
        return QueryResult({"pid", "who", "seconds"}, {{std::string("999"), std::string("zodan: add_node n9"), std::string("3")}});
    if (name == "look at the apply workers")
        return QueryResult({"manager", "workers", "missing", "manager_busy", "without"},
                           {{std::string("100"), std::string("101"), std::string("0"), std::string("false"), Value()}});
    return std::nullopt;
}

QueryResult Cluster::handle(const std::string &node, const Query &q) {
    Node &n = nodes.at(node);
    const std::string &name = q.name;
    auto p = [&](size_t i) { return q.params.at(i).value_or(""); };
    if (on_statement) on_statement(node, q);

    if (auto r = journal(n, q)) return *r;
    if (auto r = copy_and_compare(n, q)) return *r;
    // The physical path (src/core/physical): no node of the fake has zodan's
    // journal there, so none holds a fence to lift.
    if (name == "physical: look for zodan's journal") return one("here", "false");
    if (name == "read the Spock version") return one("extversion", n.version);
    if (name == "read the system identifier") return QueryResult({"sysid", "db"}, {{n.sysid, std::string("inventory")}});
    if (name == "read the local Spock node") return n.registered ? one("node_name", n.name) : none({"node_name"});
    if (name == "read the node's identity")
        return QueryResult({"identity", "node_name", "node_id"},
                           {{n.sysid + "/16384", n.registered ? Value(n.name) : Value(),
                             n.registered ? Value(node_id_of(n.name)) : Value()}});
    if (name == "list the cluster's nodes with their ids") {
        std::vector<std::vector<Value>> rows;
        for (const auto &[k, dsn] : n.known) rows.push_back({k, node_id_of(k), dsn});
        return QueryResult({"node_name", "node_id", "dsn"}, rows);
    }
    if (name == "list the cluster's nodes") {
        std::vector<std::vector<Value>> rows;
        for (const auto &[k, dsn] : n.known) rows.push_back({k, dsn});
        return QueryResult({"node_name", "dsn"}, rows);
    }
    if (starts(name, "look up node ")) return one("n", std::to_string(n.known.count(p(0))));
    if (name == "look for a node id collision") {
        auto taken = n_id_collisions.find(p(0));
        if (taken == n_id_collisions.end()) return none({"node_name", "node_id"});
        return QueryResult({"node_name", "node_id"}, {{taken->second, std::string("4242")}});
    }
    if (name == "read settings and use")
        return QueryResult({"wal_level", "track_commit_timestamp", "shared_preload_libraries", "output_plugin_libraries",
                            "origins_setting", "max_origins", "origins_used", "max_slots", "slots_used", "max_senders",
                            "senders_used", "max_workers", "workers_used", "max_connections", "connections_used",
                            "database_bytes"},
                           {{std::string("logical"), std::string("on"), std::string("spock"), Value(),
                             std::string("max_replication_slots"), std::string("32"), std::to_string(n.origins.size()),
                             std::string("32"), std::to_string(n.slots.size()), std::string("32"), std::string("2"),
                             std::string("48"), std::string("4"), std::string("100"), std::string("5"),
                             std::string("8000000")}});
    if (name == "enable subscriptions") {
        std::vector<std::vector<Value>> rows;
        for (const std::string &sub : zodan::parse_text_array(p(0))) {
            auto it = n.subs.find(sub);
            if (it == n.subs.end() || it->second.enabled) continue;
            it->second.enabled = true;
            rows.push_back({sub, std::string("true")});
        }
        return QueryResult({"sub_name", "enabled"}, rows);
    }
    if (name == "list disabled subscriptions") {
        std::vector<std::vector<Value>> rows;
        for (const auto &[k, s] : n.subs)
            if (!s.enabled) rows.push_back({k});
        return QueryResult({"sub_name"}, rows);
    }
    if (name == "list user tables") {
        std::vector<std::vector<Value>> rows;
        for (const auto &t : n.user_tables) rows.push_back({t});
        return QueryResult({"rel"}, rows);
    }
    if (name == "list login roles" || name == "list roles") {
        std::vector<std::vector<Value>> rows;
        for (const auto &r : n.roles) rows.push_back({r});
        return QueryResult({"rolname"}, rows);
    }
    if (starts(name, "look up subscription ")) return one("n", std::to_string(n.subs.count(p(0))));
    if (name == "count subscriptions") return one("n", std::to_string(n.subs.size()));
    if (name == "count replication sets") return one("n", n.registered ? "3" : "0");
    if (name == "read replication sets") {
        std::vector<std::vector<Value>> rows;
        if (n.registered)
            for (const char *s : {"ddl_sql", "default", "default_insert_only"})
                rows.push_back({std::string(s), std::string("true"), std::string("true"), std::string("true"),
                                std::string("true")});
        return QueryResult({"set_name", "ins", "upd", "del", "trunc"}, rows);
    }
    if (name == "read replication set tables") return none({"set_name", "rel", "att_list", "row_filter"});
    if (name == "read replication set sequences") return none({"set_name", "seq"});
    if (name == "list local schemas") return none({"nspname"});
    if (name == "list user objects") return none({"obj"});
    if (name == "plan the rollback of the copy") {
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
    if (name == "write the lock of the copy's tables") return none({"stmt"});
    if (name == "begin the rollback of the copy" || name == "keep the drops to this node" ||
        name == "drop what the copy brought" || name == "undo a drop that must wait" ||
        name == "commit the rollback of the copy" || name == "abandon the rollback of the copy")
        return QueryResult();
    if (starts(name, "create node ")) {
        n.registered = true;
        n.known[n.name] = p(1);
        return one("node_id", "1234");
    }
    if (starts(name, "advance slot ")) {  // never backwards, like the real one
        auto &slot = n.slots.at(p(0));
        slot = std::max(slot, zodan::parse_lsn(p(1)));
        return one("lsn", zodan::format_lsn(slot));
    }
    if (starts(name, "look up slot ")) {
        auto s = n.slots.find(p(0));
        if (s == n.slots.end()) return none({"active", "lsn"});
        return QueryResult({"active", "lsn"}, {{std::string("false"), zodan::format_lsn(s->second)}});
    }
    if (name == "look up slots") {
        std::vector<std::vector<Value>> rows;
        for (const std::string &slot : zodan::parse_text_array(p(0)))
            if (n.slots.count(slot)) rows.push_back({slot, std::string("0")});
        return QueryResult({"slot_name", "active_pid"}, rows);
    }
    if (starts(name, "stop the walsender of slot ")) return QueryResult();
    if (starts(name, "drop slot ")) return n.slots.erase(p(0)), QueryResult();
    if (starts(name, "name the slot for ")) return one("slot", "spk_" + p(0) + "_" + p(1) + "_" + p(2));
    if (name == "look up subscriptions and their slots") {
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
    if (name == "advance origins") {
        std::vector<std::string> origins = zodan::parse_text_array(p(0)), lsns = zodan::parse_text_array(p(1));
        std::vector<std::vector<Value>> rows;
        for (size_t i = 0; i < origins.size(); ++i) {
            n.origins[origins[i]] = zodan::parse_lsn(lsns[i]);
            rows.push_back({std::string("")});
        }
        return QueryResult({"advanced"}, rows);
    }
    if (starts(name, "create slot ")) {
        n.slots[p(0)] = n.wal;
        return one("lsn", zodan::format_lsn(n.wal));
    }
    if (starts(name, "drop leftover origin ") || starts(name, "drop origin ")) return n.origins.erase(p(0)), QueryResult();
    if (starts(name, "advance origin ")) return n.origins[p(0)] = zodan::parse_lsn(p(1)), QueryResult();
    if (name == "write a sync event") {
        n.wal += 0x100;
        sync_event_applied(node, n.wal);
        return one("lsn", zodan::format_lsn(n.wal));
    }
    if (name == "read replication progress" || name == "read the copy's per-origin positions") {
        if (name == "read replication progress") {
            ++progress_reads;
            apply_pending();
        }
        std::vector<std::vector<Value>> rows;
        for (const std::string &origin : zodan::parse_text_array(p(0))) {
            auto it = n.progress.find(origin);
            if (it != n.progress.end()) rows.push_back({origin, zodan::format_lsn(it->second)});
        }
        return QueryResult({"origin", "lsn"}, rows);
    }
    if (name == "read the apply workers' restart delay") return QueryResult({"ms"}, {{std::to_string(n.restart_delay_ms)}});
    if (name == "read subscription status") {
        for (auto &[k, s] : n.subs)
            if (s.status == "down" && s.restarts_at > 0 && clock_ >= s.restarts_at) worker_started(node, s);
        std::vector<std::vector<Value>> rows;
        for (const auto &[k, s] : n.subs) rows.push_back({k, s.enabled ? s.status : "disabled", s.provider});
        return QueryResult({"subscription_name", "status", "provider_node"}, rows);
    }
    if (starts(name, "end the lost apply worker of ")) {
        std::vector<std::vector<Value>> rows;
        auto it = n.subs.find(p(0));
        if (it != n.subs.end() && !it->second.lost_worker_pid.empty()) {
            rows.push_back({it->second.lost_worker_pid, std::string("t")});
            it->second.lost_worker_pid.clear();
            worker_started(node, it->second);
        }
        return QueryResult({"pid", "ended"}, rows);
    }
    if (starts(name, "read the sync state of ")) return QueryResult({"total", "pending"}, {{std::string("1"), std::string("0")}});
    // Spock's sub_create: N learns the provider's DSN; returns the provider.
    auto make_subscription = [&](const std::string &sub, const std::string &dsn, bool enabled) {
        std::string provider = host_of(dsn);
        n.known[provider] = dsn;
        n.subs[sub] = Sub{provider, enabled, "replicating", ""};
        return provider;
    };
    if (starts(name, "create subscriptions ")) {  // disabled, none copying
        std::vector<std::string> subs = zodan::parse_text_array(p(0)), dsns = zodan::parse_text_array(p(1));
        std::vector<std::vector<Value>> rows;
        for (size_t i = 0; i < subs.size(); ++i) {
            make_subscription(subs[i], dsns.at(i), false);
            rows.push_back({subs[i], std::string("42")});
        }
        return QueryResult({"sub_name", "sub_id"}, rows);
    }
    if (starts(name, "create subscription ")) {
        const std::string provider = make_subscription(p(0), p(1), p(5) == "true");
        if (p(4) == "true") {  // Spock's copy brings the provider's data and per-origin positions
            n.data = nodes.at(provider).data;
            for (const auto &[origin, lsn] : nodes.at(provider).progress)
                if (origin != node && !no_copy_progress_for.count(origin)) n.progress[origin] = n.copied[origin] = lsn;
        }
        return one("sub_id", "42");
    }
    if (starts(name, "disable subscription ")) {
        if (n.subs.count(p(0))) n.subs[p(0)].enabled = false;
        return QueryResult();
    }
    if (starts(name, "look for the workers of ")) return one("n", "0");
    if (starts(name, "drop subscription ")) return n.subs.erase(p(0)), QueryResult();
    if (starts(name, "create replication set ") || starts(name, "alter replication set ") || starts(name, "add ") ||
        starts(name, "remove "))
        return one("ok", "true");
    if (starts(name, "list subscriptions involving ")) {
        std::vector<std::vector<Value>> rows;
        for (const auto &[sub, s] : n.subs) {
            const std::string target = n.name;
            if (s.provider == p(0) || target == p(0))
                rows.push_back({sub, s.provider, target, "spk_inventory_" + s.provider + "_" + sub});
        }
        return QueryResult({"sub_name", "provider", "subscriber", "slot"}, rows);
    }
    if (starts(name, "drop node ")) {
        n.known.erase(p(0));
        if (p(0) == n.name) n.registered = false;
        return one("dropped", "true");
    }
    if (name == "list Spock slots") {
        std::vector<std::vector<Value>> rows;
        for (const auto &[slot, lsn] : n.slots) rows.push_back({slot, std::string("0")});
        return QueryResult({"slot_name", "active_pid"}, rows);
    }
    if (starts(name, "drop replication set ")) return QueryResult();
    if (name == "read lag") return QueryResult({"bytes", "lag"}, {{std::string("0"), std::string("00:00:00")}});
    if (name == "pause" || name == "end the pause") return QueryResult();
    throw std::logic_error("fake cluster: unexpected statement \"" + q.name + "\"");
}

}  // namespace fake
