// The plan of spock.add_node: its steps, in the order docs/protocol.md
// gives them. A step is a value that says its name once (the journal's key,
// zodan.fail_at_step, the NOTICE), what it needs from earlier steps and
// whether it has nothing to do in a run; its body lives in src/core/steps/,
// beside its helpers. Adding a step: a StepId here, an entry in plan.cpp,
// and its own file.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/text/json.hpp"

namespace zodan {

class AddRun;

enum class StepId {
    CheckVersions,
    CheckPreconditions,
    CreateNode,
    PrepareOtherNodes,
    SyncSource,
    CopySource,
    AdvanceSlots,
    MirrorReplicationSets,
    EnableOtherSubscriptions,
    ConfirmInbound,
    VerifyData,
    CreateReverseSubscriptions,
    Confirm,
};

// What a step reports for the journal: figures for the operator, never read
// back (what later steps read is the run's record, run_record.hpp).
using Figures = JsonObject;

struct Step {
    StepId id;
    const char *name;   // the journal's key; never reworded (an older run's journal names it)
    const char *title;  // what the operator reads
    // Steps whose part of the record this one reads; the runner makes sure
    // they are done (in this call or an earlier one) before it runs.
    std::vector<StepId> needs;
    void (*run)(AddRun &run, Figures &figures);
    // Why the step has nothing to do in this run, or "" (nullptr: never idle).
    std::string (*idle)(const AddRun &run) = nullptr;
    // Where a physical run (the new node a standby of the source,
    // docs/physical.md) does the step's work otherwise: its body and title
    // then (nullptr: the same as a logical run's).
    void (*run_physical)(AddRun &run, Figures &figures) = nullptr;
    const char *title_physical = nullptr;
};

// The body and title of `step` in a run of that copy method: the one
// place the method picks what a step does.
using StepBody = void (*)(AddRun &, Figures &);
StepBody body_of(const Step &step, const AddRun &run);
const char *title_of(const Step &step, const AddRun &run);

// Every step, in order.
const std::vector<Step> &add_node_plan();
const Step &step(StepId id);
inline const char *step_name(StepId id) { return step(id).name; }
// The step of that name; nullopt for a name this version does not have
// (a step of an older version's journal).
std::optional<StepId> step_named(const std::string &name);
// The plan as SQL shows it (the view spock.zodan_add_node_steps): a JSON
// array of {"name", "title"}, in order.
std::string plan_json();

}  // namespace zodan
