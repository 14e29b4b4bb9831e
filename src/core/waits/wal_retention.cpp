#include "core/waits/wal_retention.hpp"

#include <algorithm>

#include "core/cluster/headroom.hpp"
#include "core/text/text_array.hpp"
#include "core/statements/spock_sql.hpp"
#include "core/util.hpp"

namespace zodan {

namespace {

constexpr int kLookEveryMs = 1000;

Query join_slots_wal(const std::string &slot) {
    return {Stmt::JoinSlotsWal, "read the WAL status of slot " + slot,
            "SELECT s.slot_name::text AS slot, s.wal_status, s.safe_wal_size::text AS safe_wal_size, "
            "CASE WHEN k.setting::bigint < 0 THEN -1 ELSE k.setting::bigint * 1024 * 1024 END::text AS keep_bytes "
            "FROM pg_catalog.pg_replication_slots s, pg_catalog.pg_settings k "
            "WHERE k.name = 'max_slot_wal_keep_size' AND s.slot_name = $1",
            {slot}};
}

std::string limit_text(long long keep_bytes) {
    return "max_slot_wal_keep_size = " + std::to_string(keep_bytes / (1024 * 1024)) + "MB";
}

std::string raise_hint(const std::string &node, long long needed_bytes) {
    const long long mb = std::max(1LL, (needed_bytes + 1024 * 1024 - 1) / (1024 * 1024));
    return "On \"" + node + "\": ALTER SYSTEM SET max_slot_wal_keep_size = '" + std::to_string(mb) +
           "MB' (or -1, no limit); SELECT pg_reload_conf(); the disk must hold that much WAL besides what it holds.";
}

thread_local SlotWatch *current_watch = nullptr;

}  // namespace

long long expected_hold_seconds(long long source_bytes) {
    return kJoinBaseSeconds + std::max(0LL, source_bytes) / kAssumedJoinBytesPerSecond;
}

long long WalRetentionFigures::estimated_bytes() const {
    return static_cast<long long>(wal_bytes_per_second * static_cast<double>(hold_seconds));
}

WalRetentionVerdict judge_wal_retention(const WalRetentionFigures &f) {
    const std::string name = "WAL kept for the join on " + f.node;
    if (f.keep_bytes < 0) return {{name, true, "", ""}, ""};
    const long long estimate = f.estimated_bytes();
    const std::string figures = "about " + human_bytes(estimate) + " of WAL (" +
                                human_bytes(static_cast<long long>(f.wal_bytes_per_second)) + "/s written now, for about " +
                                std::to_string(f.hold_seconds) + " s)";
    if (estimate > f.keep_bytes)
        return {{name, false,
                 "node \"" + f.node + "\" would keep " + figures + " for the new node's slot, more than its " +
                     limit_text(f.keep_bytes) + ": the slot would be invalidated before the join ends",
                 raise_hint(f.node, 2 * estimate) +
                     " Or add the node while that node writes less. (The estimate is the node's WAL rate over one "
                     "second times the time a join of the source's size is expected to take: docs/add_node.md.)"},
                ""};
    if (2 * estimate > f.keep_bytes)
        return {{name, true, "", ""},
                "node \"" + f.node + "\" is expected to keep " + figures + " for the new node's slot, more than half of its " +
                    limit_text(f.keep_bytes) + "; the join stops if the slot comes near the limit"};
    return {{name, true, "", ""}, ""};
}

std::vector<CheckResult> check_wal_retention(Runtime &rt, ClusterView &view, long long source_bytes,
                                            const std::optional<WalSample> &sampled) {
    std::vector<Member *> nodes = view.existing();
    const std::vector<QueryResult> first =
        sampled ? sampled->reads : rt.exec_all(same_query(nodes, sql::wal_retention()));
    const int64_t t0 = sampled ? sampled->at_ms : rt.now_ms();
    std::vector<Member *> limited;
    std::vector<long long> keep, wal0;
    std::vector<CheckResult> out;
    for (size_t i = 0; i < nodes.size(); ++i) {
        const long long k = std::stoll(first[i].text(0, "keep_bytes", "-1"));
        view.wal_keep_bytes[nodes[i]->name] = k;
        if (k < 0) continue;
        limited.push_back(nodes[i]);
        keep.push_back(k);
        wal0.push_back(std::stoll(first[i].text(0, "wal", "0")));
    }
    if (limited.empty()) return out;
    // A second of WAL from the first sample, however long ago it was taken.
    const int64_t waited = rt.now_ms() - t0;
    if (waited < kWalSampleMs) rt.sleep_ms(static_cast<int>(kWalSampleMs - waited));
    std::vector<QueryResult> second = rt.exec_all(same_query(limited, sql::wal_retention()));
    const double seconds = std::max<double>(0.001, static_cast<double>(rt.now_ms() - t0) / 1000.0);
    for (size_t i = 0; i < limited.size(); ++i) {
        WalRetentionFigures f;
        f.node = limited[i]->name;
        f.keep_bytes = keep[i];
        f.wal_bytes_per_second =
            static_cast<double>(std::max(0LL, std::stoll(second[i].text(0, "wal", "0")) - wal0[i])) / seconds;
        f.hold_seconds = expected_hold_seconds(source_bytes);
        WalRetentionVerdict v = judge_wal_retention(f);
        if (!v.warning.empty())
            rt.report(Level::Warning, v.warning,
                      "The estimate is the node's WAL rate over one second times the time a join of the source's "
                      "size is expected to take (docs/add_node.md).");
        out.push_back(std::move(v.result));
    }
    return out;
}

std::optional<UserError> slot_at_risk(const SlotState &s) {
    const std::string where = "replication slot " + s.slot + " on node \"" + s.node + "\"";
    const std::string hint =
        raise_hint(s.node, 2 * std::max(s.keep_bytes, 1LL)) +
        " Then call spock.add_node again: it resumes. Or pause the writes on that node until the join has passed.";
    if (s.wal_status == "lost")
        return UserError(where + " has lost WAL the new node needs: " + limit_text(s.keep_bytes) +
                             " let a checkpoint remove it (wal_status lost)",
                         "", "The new node cannot get that node's changes any more: remove it (spock.remove_node) "
                             "and add it again, with max_slot_wal_keep_size raised on \"" + s.node + "\".");
    if (s.wal_status == "unreserved")
        return UserError(where + " keeps more WAL for the new node than " + limit_text(s.keep_bytes) +
                             " allows (wal_status unreserved): the next checkpoint there invalidates it",
                         "", hint);
    if (s.safe_wal_size && s.keep_bytes > 0 && *s.safe_wal_size < s.keep_bytes / 10)
        return UserError(where + " is within " + human_bytes(std::max(0LL, *s.safe_wal_size)) + " of " +
                             limit_text(s.keep_bytes) + " (safe_wal_size); past it, a checkpoint there invalidates the slot",
                         "", hint);
    return std::nullopt;
}

SlotWatch::SlotWatch(Runtime &rt, std::vector<Member *> nodes, Slots slots,
                     const std::map<std::string, long long> &known_keep_bytes)
    : rt_(rt), slots_(std::move(slots)), previous_(current_watch) {
    // Only the nodes with a limit are watched: elsewhere a slot keeps all
    // the WAL it needs, and the watch costs nothing. The limits the checks
    // read are taken as they are; the others (a resumed call) read here.
    std::vector<Member *> unknown;
    for (Member *n : nodes) {
        auto k = known_keep_bytes.find(n->name);
        if (k == known_keep_bytes.end())
            unknown.push_back(n);
        else if (k->second >= 0)
            watched_.push_back({n, k->second, nullptr});
    }
    if (!unknown.empty()) {
        std::vector<QueryResult> read = rt.exec_all(same_query(unknown, sql::wal_retention()));
        for (size_t i = 0; i < unknown.size(); ++i) {
            const long long k = std::stoll(read[i].text(0, "keep_bytes", "-1"));
            if (k >= 0) watched_.push_back({unknown[i], k, nullptr});
        }
    }
    current_watch = this;
}

SlotWatch::~SlotWatch() { current_watch = previous_; }

void SlotWatch::look() {
    if (watched_.empty() || looking_) return;
    looking_ = true;
    struct Done {
        bool &flag;
        ~Done() { flag = false; }
    } done{looking_};
    const std::map<std::string, std::string> slots = slots_();
    std::vector<std::pair<Connection *, Query>> work;
    std::vector<Watched *> asked;
    for (Watched &w : watched_) {
        auto slot = slots.find(w.node->name);
        if (slot == slots.end() || slot->second.empty()) continue;
        if (!w.conn) w.conn = rt_.connect(w.node->name, w.node->dsn.text());
        work.emplace_back(w.conn.get(), join_slots_wal(slot->second));
        asked.push_back(&w);
    }
    if (work.empty()) return;  // no slot made yet: the next chance looks again
    next_look_ = rt_.now_ms() + kLookEveryMs;
    std::vector<QueryResult> read = rt_.exec_all(work);
    for (size_t i = 0; i < asked.size(); ++i) {
        if (read[i].empty()) continue;  // not made yet
        SlotState s;
        s.node = asked[i]->node->name;
        s.slot = read[i].text(0, "slot");
        s.wal_status = read[i].text(0, "wal_status");
        if (read[i].at(0, "safe_wal_size")) s.safe_wal_size = std::stoll(read[i].text(0, "safe_wal_size"));
        s.keep_bytes = std::stoll(read[i].text(0, "keep_bytes", "-1"));
        if (std::optional<UserError> e = slot_at_risk(s)) throw *e;
    }
}

void SlotWatch::look_now() {
    if (current_watch) current_watch->look();
}

void SlotWatch::look_if_due() {
    SlotWatch *w = current_watch;
    if (!w || w->watched_.empty() || w->looking_ || w->rt_.now_ms() < w->next_look_) return;
    w->look();
}

}  // namespace zodan
