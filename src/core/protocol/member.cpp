#include "core/protocol/member.hpp"

#include <stdexcept>

#include "core/text/conninfo.hpp"
#include "core/text/secrets.hpp"

namespace zodan {

std::string dsn_dbname(const std::string &name, const std::string &dsn, const std::string &role) {
    ConnInfo info;
    try {
        info = parse_conninfo(dsn);
    } catch (const InvalidArgument &e) {
        throw UserError(role + " of node \"" + name + "\" is not a valid connection string: " + e.what(), "",
                        "Use libpq key=value form, for example host=... port=... dbname=... user=...");
    }
    auto db = conninfo_value(info, "dbname");
    if (!db || db->empty())
        throw UserError(role + " of node \"" + name + "\" names no dbname", "DSN: " + mask_dsn(dsn),
                        "Add dbname=<database> to the connection string: each node's database must be explicit.");
    return *db;
}

Member connect_member(Runtime &rt, const std::string &name, const std::string &dsn, const std::string &role) {
    Member m;
    m.name = name;
    m.dsn = dsn;
    m.dbname = dsn_dbname(name, dsn, role);
    m.conn = rt.connect(name, dsn);
    return m;
}

std::vector<Member> connect_members(Runtime &rt, const std::vector<MemberToReach> &nodes) {
    std::vector<Member> out;
    std::vector<std::pair<std::string, std::string>> wanted;
    for (const MemberToReach &n : nodes) {
        Member m;
        m.name = n.name;
        m.dsn = n.dsn;
        m.dbname = dsn_dbname(n.name, n.dsn, n.role);
        out.push_back(std::move(m));
        wanted.emplace_back(n.name, n.dsn);
    }
    std::vector<std::unique_ptr<Connection>> conns = rt.connect_all(wanted);
    for (size_t i = 0; i < out.size(); ++i) out[i].conn = std::move(conns[i]);
    return out;
}

}  // namespace zodan
