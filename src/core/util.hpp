// Small helpers the step logic shares.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "core/text/lsn.hpp"
#include "core/cluster/member.hpp"

namespace zodan {

inline std::string join(const std::vector<std::string> &items, const std::string &sep = ", ") {
    std::string out;
    for (size_t i = 0; i < items.size(); ++i) out += (i ? sep : "") + items[i];
    return out;
}

// The same statement for each member, ready for Runtime::exec_all.
inline std::vector<std::pair<Connection *, Query>> same_query(const std::vector<Member *> &members, const Query &q) {
    std::vector<std::pair<Connection *, Query>> work;
    for (Member *m : members) work.emplace_back(m->conn.get(), q);
    return work;
}

// Sends `q` on a connection that a failure may have left mid-statement,
// from a destructor on the way out of that failure: the statement in
// flight is abandoned, `q` gets two seconds, and nothing is thrown. Where
// it does not get through, the caller says what undoes it anyway.
inline void send_on_the_way_out(Runtime &rt, Connection &conn, const Query &q) noexcept {
    try {
        conn.abandon();
        conn.send(q);
        conn.receive_before(rt.now_ms() + 2000);
    } catch (...) {
    }
}

inline Lsn lsn_of(const Value &v) {
    if (!v) throw std::runtime_error("a node returned no LSN where one was expected");
    return parse_lsn(*v);
}

}  // namespace zodan

namespace zodan {

inline std::vector<std::string> split(const std::string &text, const std::string &sep) {
    std::vector<std::string> out;
    if (text.empty()) return out;
    size_t start = 0;
    for (size_t at; (at = text.find(sep, start)) != std::string::npos; start = at + sep.size())
        out.push_back(text.substr(start, at - start));
    out.push_back(text.substr(start));
    return out;
}

}  // namespace zodan
