#include "fake_cluster.hpp"

#include <functional>

#include "core/protocol/names.hpp"
#include "core/text/sql_quote.hpp"

namespace fake {

namespace {

bool has(const std::string &s, const char *part) { return s.find(part) != std::string::npos; }

QueryResult one(const std::string &column, const Value &v) { return QueryResult({column}, {{v}}); }

std::string host_of(const std::string &dsn) { return *zodan::Dsn::parse(dsn).get("host"); }

class Conn : public zodan::Connection {
public:
    Conn(Cluster &c, const std::string &node) : zodan::Connection(node), cluster_(c) {}
    void send(const Query &q) override {
        pending_ = q;
        batch_ = cluster_.current_batch();
    }
    QueryResult receive() override {
        cluster_.calls.push_back({node(), pending_.name, pending_.params, batch_});
        for (const auto &[key, message] : cluster_.failures)
            if (key.first == node() && has(pending_.name, key.second.c_str()))
                throw zodan::RemoteError(node(), pending_.name, message);
        return cluster_.handle(node(), pending_);
    }

private:
    Cluster &cluster_;
    Query pending_;
    int batch_ = 0;
};

}  // namespace

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
        for (int j = 1; j <= k; ++j) {
            std::string other = "n" + std::to_string(j);
            n.known[other] = dsn_of(other);
            if (j != i) n.subs["sub_" + other + "_" + n.name] = Sub{other};
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

std::vector<QueryResult> Cluster::exec_all(const std::vector<std::pair<zodan::Connection *, Query>> &work) {
    batch_ = next_batch_++;
    struct Reset {
        int &b;
        ~Reset() { b = 0; }
    } reset{batch_};
    return Runtime::exec_all(work);
}

std::vector<Call> Cluster::calls_named(const std::string &prefix) const {
    std::vector<Call> out;
    for (const Call &c : calls)
        if (c.name.rfind(prefix, 0) == 0) out.push_back(c);
    return out;
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

namespace {

// The flat JSON objects JsonObject writes, one level of nesting: each
// "key": value, and "key.field" for the fields of a nested object.
void flatten_json(const std::string &json, std::map<std::string, std::string> &out) {
    size_t pos = 0;
    auto skip = [&] { while (pos < json.size() && (json[pos] == ' ' || json[pos] == ',' || json[pos] == ':')) ++pos; };
    auto string_at = [&] {
        std::string v;
        for (++pos; pos < json.size() && json[pos] != '"'; ++pos) {
            if (json[pos] == '\\') ++pos;
            v += json[pos];
        }
        ++pos;
        return v;
    };
    auto scalar_at = [&] {
        if (json[pos] == '"') return string_at();
        size_t end = json.find_first_of(",}", pos);
        std::string v = json.substr(pos, end - pos);
        pos = end;
        return v;
    };
    std::function<void(const std::string &)> object = [&](const std::string &prefix) {
        ++pos;  // {
        for (skip(); pos < json.size() && json[pos] != '}'; skip()) {
            std::string key = prefix + string_at();
            skip();
            if (json[pos] == '{') object(key + ".");
            else out[key] = scalar_at();
        }
        ++pos;  // }
    };
    if (!json.empty()) object("");
}

std::string csv(const std::map<int, JournalStep> &steps, bool done_only) {
    std::string out;
    for (const auto &[no, step] : steps)
        if (!done_only || step.state == "done") out += (out.empty() ? "" : ",") + std::to_string(no);
    return out;
}

}  // namespace

std::optional<QueryResult> Cluster::journal(Node &n, const Query &q) {
    auto p = [&](size_t i) { return q.params.at(i).value_or(""); };
    auto run = [&]() -> JournalRun & { return n.runs.at(std::stoul(p(0)) - 1); };
    auto step = [&]() -> JournalStep & { return run().steps[std::stoi(p(1))]; };
    if (q.name == "record the run") {
        n.runs.push_back({p(0), p(1), p(2), p(5), "running", {}});
        return QueryResult({"run_id"}, {{std::to_string(n.runs.size())}});
    }
    if (q.name == "read the journal") {
        for (size_t i = n.runs.size(); i-- > 0;) {
            const JournalRun &r = n.runs[i];
            if (r.operation != p(0)) continue;
            // The calling session is never alive in the fake: each run() is a new call.
            return QueryResult({"run_id", "state", "src_name", "new_name", "same_args", "pid", "alive", "started", "done"},
                               {{std::to_string(i + 1), r.state, r.src, r.new_node,
                                 std::string(r.fingerprint == p(1) ? "true" : "false"), std::string("0"),
                                 std::string("false"), csv(r.steps, false), csv(r.steps, true)}});
        }
        return QueryResult({"run_id"}, {});
    }
    if (q.name == "take over the run") return run().state = "running", QueryResult();
    if (q.name == "record the run end" || q.name == "record the run state") return run().state = p(1), QueryResult();
    if (q.name == "record a step start") return step().state = "running", QueryResult();
    if (q.name == "record a step failure") return step().state = "failed", QueryResult();
    if (q.name == "record a step end" || q.name == "record a step's progress") {
        if (q.name == "record a step end") step().state = "done";
        flatten_json(p(2), step().output);
        return QueryResult();
    }
    if (q.name == "read a step's output") {
        std::vector<std::vector<Value>> rows;
        for (const auto &[k, v] : step().output) rows.push_back({k, v});
        return QueryResult({"key", "value"}, rows);
    }
    return std::nullopt;
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

QueryResult Cluster::handle(const std::string &name, const Query &q) {
    Node &n = nodes.at(name);
    const std::string &sql = q.sql;
    auto p = [&](size_t i) { return q.params.at(i).value_or(""); };

    if (has(sql, "extname = 'spock'")) return one("extversion", n.version);
    if (has(sql, "pg_control_system")) return QueryResult({"sysid", "db"}, {{n.sysid, std::string("inventory")}});
    if (has(sql, "spock.local_node l JOIN"))
        return n.registered ? one("node_name", n.name) : QueryResult({"node_name"}, {});
    if (has(sql, "DISTINCT ON (n.node_name)")) {
        std::vector<std::vector<Value>> rows;
        for (const auto &[k, dsn] : n.known) rows.push_back({k, dsn});
        return QueryResult({"node_name", "dsn"}, rows);
    }
    if (has(sql, "FROM spock.node WHERE node_name")) return one("n", std::to_string(n.known.count(p(0))));
    if (has(sql, "current_setting('wal_level')"))
        return QueryResult({"wal_level", "track_commit_timestamp", "shared_preload_libraries", "output_plugin_libraries",
                            "origins_setting", "max_origins", "origins_used", "max_slots", "slots_used",
                            "max_senders", "senders_used", "max_workers", "workers_used", "max_connections",
                            "connections_used", "database_bytes"},
                           {{std::string("logical"), std::string("on"), std::string("spock"), Value(),
                             std::string("max_replication_slots"), std::string("32"), std::to_string(n.origins.size()),
                             std::string("32"),
                             std::to_string(n.slots.size()), std::string("32"), std::string("2"), std::string("48"),
                             std::string("4"), std::string("100"), std::string("5"), std::string("8000000")}});
    if (has(sql, "spock.sub_enable(sub_name")) {
        std::vector<std::vector<Value>> rows;
        for (const std::string &sub : zodan::parse_text_array(p(0))) {
            auto it = n.subs.find(sub);
            if (it == n.subs.end() || it->second.enabled) continue;
            it->second.enabled = true;
            rows.push_back({sub, std::string("true")});
        }
        return QueryResult({"sub_name", "enabled"}, rows);
    }
    if (has(sql, "NOT sub_enabled")) {
        std::vector<std::vector<Value>> rows;
        for (const auto &[k, s] : n.subs)
            if (!s.enabled) rows.push_back({k});
        return QueryResult({"sub_name"}, rows);
    }
    if (has(sql, "relkind IN")) {
        std::vector<std::vector<Value>> rows;
        for (const auto &t : n.user_tables) rows.push_back({t});
        return QueryResult({"rel"}, rows);
    }
    if (has(sql, "pg_roles")) {
        std::vector<std::vector<Value>> rows;
        for (const auto &r : n.roles) rows.push_back({r});
        return QueryResult({"rolname"}, rows);
    }
    if (has(sql, "sub_slot_name::text AS slot FROM spock.subscription WHERE sub_name")) {
        auto it = n.subs.find(p(0));
        if (it == n.subs.end()) return QueryResult({"slot"}, {});
        return one("slot", "spk_inventory_" + it->second.provider + "_" + p(0));
    }
    if (has(sql, "FROM spock.subscription WHERE sub_name")) return one("n", std::to_string(n.subs.count(p(0))));
    if (has(sql, "count(*) AS n FROM spock.subscription")) return one("n", std::to_string(n.subs.size()));
    if (has(sql, "count(*) AS n FROM spock.replication_set")) return one("n", n.registered ? "3" : "0");
    if (has(sql, "FROM spock.replication_set WHERE set_nodeid")) {
        std::vector<std::vector<Value>> rows;
        if (n.registered)
            for (const char *s : {"ddl_sql", "default", "default_insert_only"})
                rows.push_back({std::string(s), std::string("true"), std::string("true"), std::string("true"),
                                std::string("true")});
        return QueryResult({"set_name", "ins", "upd", "del", "trunc"}, rows);
    }
    if (has(sql, "replication_set_table")) return QueryResult({"set_name", "rel", "att_list", "row_filter"}, {});
    if (has(sql, "replication_set_seq")) return QueryResult({"set_name", "seq"}, {});
    if (has(sql, "FROM pg_catalog.pg_namespace n")) return QueryResult({"nspname"}, {});
    if (has(sql, "spock.node_create")) {
        n.registered = true;
        n.known[n.name] = p(1);
        return one("node_id", "1234");
    }
    if (has(sql, "pg_replication_slot_advance")) {  // never backwards, like the real one
        auto &slot = n.slots.at(p(0));
        slot = std::max(slot, zodan::parse_lsn(p(1)));
        return one("lsn", zodan::format_lsn(slot));
    }
    if (has(sql, "FROM pg_catalog.pg_replication_slots")) {
        auto s = n.slots.find(p(0));
        if (s == n.slots.end()) return QueryResult({"active", "lsn"}, {});
        return QueryResult({"active", "lsn"}, {{std::string("false"), zodan::format_lsn(s->second)}});
    }
    if (has(sql, "spock_gen_slot_name")) return one("slot", "spk_" + p(0) + "_" + p(1) + "_" + p(2));
    if (has(sql, "pg_create_logical_replication_slot")) {
        n.slots[p(0)] = n.wal;
        return one("lsn", zodan::format_lsn(n.wal));
    }
    if (has(sql, "pg_replication_origin_drop")) {
        n.origins.erase(p(0));
        return QueryResult();
    }
    if (has(sql, "pg_replication_origin_advance")) {
        n.origins[p(0)] = zodan::parse_lsn(p(1));
        return QueryResult();
    }
    if (has(sql, "pg_try_advisory_lock")) return one("locked", "true");
    if (has(sql, "spock.sync_event")) {
        n.wal += 0x100;
        sync_event_applied(name, n.wal);
        return one("lsn", zodan::format_lsn(n.wal));
    }
    if (has(sql, "pg_replication_origin_status")) {
        ++progress_reads;
        apply_pending();
    }
    if (has(sql, "FROM spock.progress") || has(sql, "pg_replication_origin_status")) {
        std::vector<std::vector<Value>> rows;
        for (const std::string &origin : zodan::parse_text_array(p(0))) {
            auto it = n.progress.find(origin);
            if (it != n.progress.end()) rows.push_back({origin, zodan::format_lsn(it->second)});
        }
        return QueryResult({"origin", "lsn"}, rows);
    }
    if (has(sql, "sub_show_status")) {
        std::vector<std::vector<Value>> rows;
        for (const auto &[k, s] : n.subs) rows.push_back({k, s.enabled ? s.status : "disabled", s.provider});
        return QueryResult({"subscription_name", "status", "provider_node"}, rows);
    }
    if (has(sql, "local_sync_status")) return QueryResult({"total", "pending"}, {{std::string("1"), std::string("0")}});
    if (has(sql, "spock.sub_create")) {
        std::string provider = host_of(p(1));
        n.known[provider] = p(1);
        Sub s{provider, p(5) == "true"};
        n.subs[p(0)] = s;
        if (p(4) == "true")  // a copy brings the provider's per-origin positions
            for (const auto &[origin, lsn] : nodes.at(provider).progress)
                if (origin != name && !no_copy_progress_for.count(origin)) n.progress[origin] = n.copied[origin] = lsn;
        return one("sub_id", "42");
    }
    if (has(sql, "spock.repset_")) return one("ok", "true");
    if (has(sql, "lag_tracker")) return QueryResult({"bytes", "lag"}, {{std::string("0"), std::string("00:00:00")}});
    if (has(sql, "to_regclass('spock.zodan_runs')")) return one("here", "true");
    if (auto r = journal(n, q)) return *r;
    throw std::logic_error("fake cluster: unexpected statement \"" + q.name + "\"");
}

}  // namespace fake
