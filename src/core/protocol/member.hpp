// A node taking part in a run: its name, how to reach it, its connection.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/remote.hpp"

namespace zodan {

struct Member {
    std::string name;
    std::string dsn;     // as given or as listed in the cluster; never printed unmasked
    std::string dbname;  // from the DSN; slot names depend on it
    std::unique_ptr<Connection> conn;

    Connection &db() const { return *conn; }
};

// The dbname a DSN names; throws UserError when it names none or does not parse.
std::string dsn_dbname(const std::string &name, const std::string &dsn, const std::string &role);

// Parses the DSN, insisting on a dbname (slot names and the database copied
// depend on it), then connects. Throws UserError / RemoteError naming `role`.
Member connect_member(Runtime &rt, const std::string &name, const std::string &dsn, const std::string &role);

// The same for several nodes, connected to at once.
struct MemberToReach {
    std::string name, dsn, role;
};
std::vector<Member> connect_members(Runtime &rt, const std::vector<MemberToReach> &nodes);

}  // namespace zodan
