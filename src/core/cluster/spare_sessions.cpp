#include "core/cluster/spare_sessions.hpp"

#include <algorithm>

namespace zodan {

void SpareSessions::keep(const std::vector<SessionRequest> &wanted, std::vector<OpenedSession> opened) {
    // A failure is left to the step that needs the session: it connects
    // again and reports it in its own words.
    for (size_t i = 0; i < wanted.size() && i < opened.size(); ++i)
        if (opened[i].conn) kept_.push_back({wanted[i].node, wanted[i].dsn, wanted[i].kind, std::move(opened[i].conn)});
}

long long SpareSessions::opened_ahead(const std::string &node, SessionKind kind) const {
    auto taken = taken_.find({node, kind});
    return std::count_if(kept_.begin(), kept_.end(), [&](const Kept &k) { return k.node == node && k.kind == kind; }) +
           (taken == taken_.end() ? 0 : taken->second);
}

std::unique_ptr<Connection> SpareSessions::take_kept(const Member &node, SessionKind kind) {
    const std::string dsn = node.dsn.text();
    auto it = std::find_if(kept_.begin(), kept_.end(), [&](const Kept &k) {
        return k.node == node.name && k.dsn == dsn && k.kind == kind;
    });
    if (it == kept_.end()) return nullptr;
    std::unique_ptr<Connection> conn = std::move(it->conn);
    kept_.erase(it);
    ++taken_[{node.name, kind}];
    return conn;
}

std::unique_ptr<Connection> SpareSessions::take(Runtime &rt, const Member &node, SessionKind kind) {
    return std::move(take_all(rt, {{&node, kind}}).front());
}

std::vector<OpenedSession> SpareSessions::take_each(Runtime &rt,
                                                    const std::vector<std::pair<const Member *, SessionKind>> &wanted) {
    std::vector<OpenedSession> out(wanted.size());
    std::vector<SessionRequest> missing;
    std::vector<size_t> at;
    for (size_t i = 0; i < wanted.size(); ++i) {
        out[i].conn = take_kept(*wanted[i].first, wanted[i].second);
        if (out[i].conn) continue;
        missing.push_back({wanted[i].first->name, wanted[i].first->dsn.text(), wanted[i].second});
        at.push_back(i);
    }
    if (missing.empty()) return out;
    std::vector<OpenedSession> opened = rt.open_sessions(missing);
    for (size_t j = 0; j < opened.size(); ++j) out[at[j]] = std::move(opened[j]);
    return out;
}

std::vector<std::unique_ptr<Connection>> SpareSessions::take_all(
    Runtime &rt, const std::vector<std::pair<const Member *, SessionKind>> &wanted) {
    std::vector<std::unique_ptr<Connection>> out;
    for (OpenedSession &o : take_each(rt, wanted)) {
        if (o.failure) std::rethrow_exception(o.failure);
        out.push_back(std::move(o.conn));
    }
    return out;
}

}  // namespace zodan
