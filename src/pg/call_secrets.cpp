#include "pg/call_secrets.hpp"

#include <cstring>
#include <memory>

#include "libpq-fe.h"

namespace zodan::pg {

Secrets &call_secrets() {
    static Secrets secrets;
    return secrets;
}

void remember_dsn_secrets(const std::string &dsn) {
    call_secrets().add_dsn(dsn);
    char *err = nullptr;
    std::unique_ptr<PQconninfoOption, void (*)(PQconninfoOption *)> options(PQconninfoParse(dsn.c_str(), &err),
                                                                              PQconninfoFree);
    if (err) PQfreemem(err);  // libpq refuses it; connecting will say why
    if (!options) return;
    for (PQconninfoOption *o = options.get(); o->keyword; ++o)
        if (o->val && (std::strcmp(o->keyword, "password") == 0 || std::strcmp(o->keyword, "sslpassword") == 0))
            call_secrets().add_secret(o->val);
}

}  // namespace zodan::pg
