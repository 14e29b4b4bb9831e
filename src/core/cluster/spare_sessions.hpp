// Sessions a run will need later, opened together with the run's first
// sessions to the other nodes: across a slow link each new session costs
// several round trips (TCP, the startup, the password exchange, its
// settings) before its first statement, and sessions opened at once cost
// them once. The steps that need one take it from here; where none is left
// (a failure when opening ahead, a step that runs again) they open their
// own, which then reports why it cannot be opened.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/cluster/member.hpp"
#include "core/remote.hpp"

namespace zodan {

class SpareSessions {
public:
    // Keeps what was opened ahead, in place of the requests.
    void keep(const std::vector<SessionRequest> &wanted, std::vector<OpenedSession> opened);
    // A session to the member of that kind: one kept, else a new one
    // (throws as Runtime::connect does).
    std::unique_ptr<Connection> take(Runtime &rt, const Member &node, SessionKind kind);
    // Several at once: those kept, and the rest opened together; throws
    // the first failure.
    std::vector<std::unique_ptr<Connection>> take_all(Runtime &rt,
                                                      const std::vector<std::pair<const Member *, SessionKind>> &wanted);
    // The same, each failure in its place (Runtime::open_sessions).
    std::vector<OpenedSession> take_each(Runtime &rt, const std::vector<std::pair<const Member *, SessionKind>> &wanted);
    // Closes the sessions no step took (once the steps that could have are done).
    void release() { kept_.clear(); }
    size_t size() const { return kept_.size(); }
    // How many were opened ahead for the node, of that kind, kept still or
    // taken since (the replication connections' check holds its sessions
    // while the other checks read the nodes' use): the run's own sessions,
    // not room others use. Read by the checks, before any step takes one.
    long long opened_ahead(const std::string &node, SessionKind kind) const;

private:
    struct Kept {
        std::string node, dsn;
        SessionKind kind;
        std::unique_ptr<Connection> conn;
    };
    std::unique_ptr<Connection> take_kept(const Member &node, SessionKind kind);
    std::vector<Kept> kept_;
    std::map<std::pair<std::string, SessionKind>, long long> taken_;
};

}  // namespace zodan
