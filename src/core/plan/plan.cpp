#include "core/plan/plan.hpp"

#include <stdexcept>

#include "core/plan/add_run.hpp"

namespace zodan {

// The step bodies (src/core/steps/, one file each).
void check_versions(AddRun &, Figures &);
void check_preconditions(AddRun &, Figures &);
void create_node(AddRun &, Figures &);
void prepare_other_nodes(AddRun &, Figures &);
void sync_source(AddRun &, Figures &);
void copy_source(AddRun &, Figures &);
void advance_slots(AddRun &, Figures &);
void mirror_replication_sets(AddRun &, Figures &);
void enable_other_subscriptions(AddRun &, Figures &);
void confirm_inbound(AddRun &, Figures &);
void verify_data(AddRun &, Figures &);
void create_reverse_subscriptions(AddRun &, Figures &);
void confirm(AddRun &, Figures &);
std::string no_other_nodes(const AddRun &);
std::string verify_data_off(const AddRun &);
// The physical path's bodies (src/core/steps/, docs/physical.md).
void check_standby(AddRun &, Figures &);
void prepare_other_nodes_physical(AddRun &, Figures &);
void seed_from_standby(AddRun &, Figures &);
std::string registered_by_the_seed(const AddRun &);

const std::vector<Step> &add_node_plan() {
    using S = StepId;
    static const std::vector<Step> plan = {
        {S::CheckVersions, "check_versions", "check Spock versions", {}, &check_versions},
        {S::CheckPreconditions, "check_preconditions", "check preconditions", {}, &check_preconditions, nullptr,
         &check_standby, "check the standby and the preconditions"},
        {S::CreateNode, "create_node", "register the new node", {}, &create_node, &registered_by_the_seed},
        {S::PrepareOtherNodes, "prepare_other_nodes", "create slots and disabled subscriptions for the other nodes",
         {}, &prepare_other_nodes, nullptr, &prepare_other_nodes_physical,
         "create slots for the new node on the other nodes"},
        {S::SyncSource, "sync_source", "bring the source up to date", {}, &sync_source, &no_other_nodes},
        {S::CopySource, "copy_source", "copy the source to the new node", {S::PrepareOtherNodes}, &copy_source, nullptr,
         &seed_from_standby, "promote the standby at a fence in the source's WAL"},
        {S::AdvanceSlots, "advance_slots", "skip what the copy already holds", {S::PrepareOtherNodes, S::CopySource},
         &advance_slots, &no_other_nodes},
        {S::MirrorReplicationSets, "mirror_replication_sets", "mirror replication sets", {}, &mirror_replication_sets},
        {S::EnableOtherSubscriptions, "enable_other_subscriptions", "open the paths to the new node", {},
         &enable_other_subscriptions},
        {S::ConfirmInbound, "confirm_inbound", "confirm the paths to the new node",
         {S::PrepareOtherNodes, S::MirrorReplicationSets}, &confirm_inbound},
        {S::VerifyData, "verify_data", "compare the new node with the source", {}, &verify_data, &verify_data_off},
        {S::CreateReverseSubscriptions, "create_reverse_subscriptions", "open the paths from the new node", {},
         &create_reverse_subscriptions},
        {S::Confirm, "confirm", "confirm the cluster", {}, &confirm},
    };
    return plan;
}

StepBody body_of(const Step &step, const AddRun &run) {
    return run.record.copy_method == CopyMethod::Physical && step.run_physical ? step.run_physical : step.run;
}

const char *title_of(const Step &step, const AddRun &run) {
    return run.record.copy_method == CopyMethod::Physical && step.title_physical ? step.title_physical : step.title;
}

const Step &step(StepId id) {
    for (const Step &s : add_node_plan())
        if (s.id == id) return s;
    throw std::logic_error("a step missing from the plan");
}

std::optional<StepId> step_named(const std::string &name) {
    for (const Step &s : add_node_plan())
        if (name == s.name) return s.id;
    return std::nullopt;
}

std::string plan_json() {
    std::string out = "[";
    for (const Step &s : add_node_plan())
        out += (out.size() > 1 ? ", " : "") + JsonObject().add("name", s.name).add("title", s.title).str();
    return out + "]";
}

}  // namespace zodan
