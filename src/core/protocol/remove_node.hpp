// spock.remove_node: cut every tie between the cluster and one node, on
// every node that can be reached; also the rollback of a failed add_node.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/protocol/member.hpp"

namespace zodan {

struct RemoveNodeArgs {
    std::string target_name, target_dsn;
    bool verbose = true;
    // Roll back even a new node that was written to since its copy, or
    // that holds objects not made by the copy that depend on what it made
    // (what was written, and those objects, go with it).
    bool force = false;
};

class RemoveNode {
public:
    RemoveNode(Runtime &rt, RemoveNodeArgs args);
    void run();

private:
    void find_members();
    void reach_listed_members();  // those of dsn_of_ not tried yet
    void add_members_from(Connection &node);
    void clean_survivor(Member &x);
    void clean_target();
    // Throws when a copied table holds rows written on the target itself.
    void refuse_if_written_to(const std::map<std::string, std::string> &copy_note);
    std::string force_hint() const;
    void note(const std::string &node, const std::string &what) { removed_[node].push_back(what); }

    Runtime &rt_;
    RemoveNodeArgs args_;
    std::optional<Member> target_;
    std::string target_unreachable_;             // why, when it could not be reached
    std::string target_dbname_;                  // from its DSN: names the slots serving it
    std::map<std::string, std::string> dsn_of_;  // surviving members found
    std::vector<Member> survivors_;
    std::map<std::string, std::vector<std::string>> removed_;  // node -> what was removed there
    std::vector<std::string> unreachable_;
};

}  // namespace zodan
