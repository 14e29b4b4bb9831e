#include "core/cluster/names.hpp"

#include <algorithm>

#include "core/remote.hpp"

namespace zodan {
std::string subscription_name(const std::string &provider_node, const std::string &subscriber_node) {
    return "sub_" + provider_node + "_" + subscriber_node;
}

void require_node_name_argument(const std::string &argument, const std::string &value) {
    if (value.size() <= kNodeNameMaxBytes) return;
    // The name itself may be very long: its start is enough to recognise it,
    // cut before any byte >= 0x80 so that no character is split.
    std::string start = value.substr(0, 20);
    while (!start.empty() && static_cast<unsigned char>(start.back()) >= 0x80) start.pop_back();
    throw InvalidArgument(argument + " \"" + start + "...\" is " + std::to_string(value.size()) +
                          " bytes long; a node name has at most " + std::to_string(kNodeNameMaxBytes) +
                          " bytes (Spock stores it as type name)");
}

std::optional<std::string> new_node_name_problem(const std::string &name, const std::vector<std::string> &existing) {
    constexpr size_t kNameMaxBytes = kNodeNameMaxBytes;
    if (name.empty()) return "the new node's name is empty";
    // Subscription names, which carry node names, are held to the rules of
    // replication slot names; Spock checks them only in sub_create.
    for (unsigned char ch : name)
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_'))
            return "node name \"" + name + "\" may only contain lower case letters, digits and '_' (it becomes part "
                   "of subscription names such as " + subscription_name(existing.empty() ? "n1" : existing[0], name) + ")";
    for (const std::string &other : existing)
        for (const std::string &sub : {subscription_name(other, name), subscription_name(name, other)})
            if (sub.size() > kNameMaxBytes)
                return "subscription name \"" + sub + "\" would be longer than " + std::to_string(kNameMaxBytes) +
                       " bytes";
    return std::nullopt;
}

}  // namespace zodan
