#include "core/text/conninfo.hpp"

#include <algorithm>
#include <memory>

#include "core/remote.hpp"
#include "core/text/secrets.hpp"
#include "libpq-fe.h"

namespace zodan {

namespace {

}  // namespace

ConnInfo parse_conninfo(const std::string &dsn) {
    char *err = nullptr;
    std::unique_ptr<PQconninfoOption, void (*)(PQconninfoOption *)> options(PQconninfoParse(dsn.c_str(), &err),
                                                                              PQconninfoFree);
    if (!options) {
        std::string why = err ? err : "out of memory";
        if (err) PQfreemem(err);
        while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
        // libpq may quote a word of the string (a piece of a password with
        // a blank in it): every spelling of the string's secrets is masked.
        Secrets secrets;
        secrets.add_dsn(dsn);
        throw InvalidArgument("invalid connection string: " + secrets.scrub(why));
    }
    ConnInfo out;
    for (PQconninfoOption *o = options.get(); o->keyword; ++o)
        if (o->val) out.emplace_back(o->keyword, o->val);
    return out;
}

std::optional<std::string> conninfo_value(const ConnInfo &info, const std::string &keyword) {
    for (const auto &[k, v] : info)
        if (k == keyword) return v;
    return std::nullopt;
}

std::string mask_dsn(const std::string &dsn) {
    // As written (keywords in their order), with every spelling of its
    // secrets masked, whether libpq can read it or not.
    Secrets secrets;
    secrets.add_dsn(dsn);
    return secrets.scrub(dsn);
}

}  // namespace zodan
