// A node taking part in a run: its name, how to reach it, its connection.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/remote.hpp"
#include "core/text/dsn.hpp"

namespace zodan {

struct Member {
    std::string name;
    Dsn dsn;  // as given or as listed in the cluster
    std::unique_ptr<Connection> conn;

    Connection &db() const { return *conn; }
    // The database the DSN names; slot names depend on it.
    const std::string &dbname() const { return dsn.dbname(); }
};

// Connects to the node. Throws RemoteError naming it.
Member connect_member(Runtime &rt, const std::string &name, const Dsn &dsn);

// The same for several nodes, connected to at once.
struct MemberToReach {
    std::string name;
    Dsn dsn;
};
std::vector<Member> connect_members(Runtime &rt, const std::vector<MemberToReach> &nodes);

}  // namespace zodan
