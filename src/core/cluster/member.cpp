#include "core/cluster/member.hpp"

#include <stdexcept>


namespace zodan {

Member connect_member(Runtime &rt, const std::string &name, const Dsn &dsn) {
    Member m;
    m.name = name;
    m.dsn = dsn;
    m.conn = rt.connect(name, dsn.text());
    return m;
}

std::vector<Member> connect_members(Runtime &rt, const std::vector<MemberToReach> &nodes) {
    std::vector<Member> out;
    std::vector<std::pair<std::string, std::string>> wanted;
    for (const MemberToReach &n : nodes) {
        Member m;
        m.name = n.name;
        m.dsn = n.dsn;
        out.push_back(std::move(m));
        wanted.emplace_back(n.name, n.dsn.text());
    }
    std::vector<std::unique_ptr<Connection>> conns = rt.connect_all(wanted);
    for (size_t i = 0; i < out.size(); ++i) out[i].conn = std::move(conns[i]);
    return out;
}

}  // namespace zodan
