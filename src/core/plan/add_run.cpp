#include "core/plan/add_run.hpp"

namespace zodan {

std::vector<Member *> AddRun::others() {
    std::vector<Member *> out;
    for (Member &o : view.others) out.push_back(&o);
    return out;
}

Member *AddRun::member(const std::string &name) {
    if (name == view.source.name) return &view.source;
    for (Member &o : view.others)
        if (o.name == name) return &o;
    return nullptr;
}

PathIn &AddRun::path(const std::string &node) {
    if (!record.prepared) record.prepared.emplace();
    return record.prepared->paths[node];
}

void AddRun::detail(const std::string &message, const std::string &detail_text) const {
    if (args.verbose) rt.report(Level::Notice, "  " + message, detail_text);
}

Connection &AddRun::second_new_node_session() {
    if (!second_session_) second_session_ = std::move(rt.connect_all({{args.new_name, args.new_dsn}}).front());
    return *second_session_;
}

InFlight &AddRun::start_others_subscribing() {
    if (!others_subscribing_) others_subscribing_ = std::make_unique<InFlight>(rt);
    return *others_subscribing_;
}

}  // namespace zodan
