#include "core/cluster/health_check.hpp"

#include <set>

#include "core/cluster/checks.hpp"
#include "core/cluster/headroom.hpp"
#include "core/cluster/member.hpp"
#include "core/physical/window.hpp"

namespace zodan {

namespace {

// The node a check is about, from its name: the checks name their node
// last ("spock version on n1", "subscriptions of n2", "mesh seen from n3")
// or speak of the new node; the others are about the cluster as a whole.
std::string node_of(const std::string &check, const std::set<std::string> &nodes, const std::string &new_node) {
    for (const char *word : {" on ", " of ", " from "}) {
        const size_t at = check.rfind(word);
        if (at == std::string::npos) continue;
        const std::string last = check.substr(at + std::string(word).size());
        if (nodes.count(last)) return last;
    }
    if (!new_node.empty() && check.find("new node") != std::string::npos) return new_node;
    return "";
}

std::vector<CheckResult> run_checks(Runtime &rt, ClusterView &view, const std::string &check_type) {
    std::vector<CheckResult> results;
    // Without a new node, 'pre' asks whether the cluster can take one and
    // 'post' whether it is whole.
    // A fence a dead physical add left (docs/physical.md), as add and remove lift it.
    physical::lift_dead_fences_if_idle(rt, view.existing(), "health_check");
    if (check_type == "pre") {
        results = check_versions(rt, view);
        if (view.has_new_node())
            for (CheckResult &r : check_preconditions(rt, view)) results.push_back(std::move(r));
        else
            results.push_back(check_subscriptions_enabled(rt, view));
    } else {
        results = check_joined(rt, view);
    }
    return results;
}

void require_arguments(const AddNodeArgs &args, const std::string &check_type) {
    if (check_type != "pre" && check_type != "post")
        throw InvalidArgument("check_type must be 'pre' or 'post', not '" + check_type + "'");
    if (args.new_name.empty() != args.new_dsn.empty())
        throw InvalidArgument("health_check needs both new_node_name and new_node_dsn, or neither");
}

}  // namespace

std::vector<HealthRow> health_check_rows(Runtime &rt, const AddNodeArgs &args, const std::string &check_type) {
    require_arguments(args, check_type);
    ClusterView view = discover_cluster(rt, args);
    std::set<std::string> nodes;
    for (const Member *m : view.existing()) nodes.insert(m->name);
    if (view.has_new_node()) nodes.insert(view.new_node.name);
    std::vector<HealthRow> rows;
    for (CheckResult &r : run_checks(rt, view, check_type))
        rows.push_back({node_of(r.name, nodes, view.has_new_node() ? view.new_node.name : ""), r.name, r.passed,
                        std::move(r.message), std::move(r.hint)});
    return rows;
}

void health_check(Runtime &rt, const AddNodeArgs &args, const std::string &check_type) {
    require_arguments(args, check_type);
    ClusterView view = discover_cluster(rt, args);
    std::vector<CheckResult> results = run_checks(rt, view, check_type);
    if (args.verbose && view.source_database_bytes)
        rt.report(Level::Notice, "the database of " + args.src_name + " is " + human_bytes(view.source_database_bytes));
    size_t failures = 0;
    for (const CheckResult &r : results) {
        if (r.passed) {
            rt.report(Level::Notice, "check passed: " + r.name);
        } else {
            ++failures;
            rt.report(Level::Notice, "check FAILED: " + r.name + ": " + r.message, args.verbose ? r.hint : "");
        }
    }
    if (failures)
        throw UserError("health_check " + check_type + ": " + std::to_string(failures) + " of " +
                            std::to_string(results.size()) + " checks failed",
                        "", "See the NOTICEs above for each failed check and what to do.");
    rt.report(Level::Notice, "health_check " + check_type + ": all " + std::to_string(results.size()) + " checks passed");
}

}  // namespace zodan
