// A node taking part in a run: its name, how to reach it, its connection.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/remote.hpp"
#include "core/text/dsn.hpp"

namespace zodan {

struct Member {
    std::string name;
    Dsn dsn;  // as given or as listed in the cluster
    std::unique_ptr<Connection> conn;
    // Spock's version there (sql::spock_version's rows) as the first read
    // of the node found it, where that read had it: step 0 reads it no more.
    std::optional<QueryResult> spock_version;
    // Whether it has zodan's journal (sql::journal_here), read the same way.
    std::optional<bool> journal_here;

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
