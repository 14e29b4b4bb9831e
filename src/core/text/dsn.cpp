#include "core/text/dsn.hpp"

#include "core/remote.hpp"

namespace zodan {

Dsn Dsn::parse(const std::string &node, const std::string &text, const std::string &role) {
    Dsn d;
    d.text_ = text;
    d.masked_ = mask_dsn(text);
    // `role` is an argument's name (src_dsn, ...): the caller's bad
    // argument; or it describes a DSN a node stores: the cluster's state.
    const Cause cause = role.find(' ') == std::string::npos ? Cause::BadArgument : Cause::Precondition;
    try {
        d.info_ = parse_conninfo(text);
    } catch (const InvalidArgument &e) {
        throw UserError(role + " of node \"" + node + "\" is not a valid connection string: " + e.what(), "",
                        "Use libpq key=value form, for example host=... port=... dbname=... user=...", cause);
    }
    d.dbname_ = d.value("dbname").value_or("");
    if (d.dbname_.empty())
        throw UserError(role + " of node \"" + node + "\" names no dbname", "DSN: " + d.masked_,
                        "Add dbname=<database> to the connection string: each node's database must be explicit.",
                        cause);
    return d;
}

}  // namespace zodan
