// The run journal on the new node: each step's state, times and outputs,
// written through the node's own connection so every row commits at once,
// independently of the calling transaction (another session can watch it,
// and a later call can resume from it or roll it back).
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>

#include "core/journal/run_record.hpp"
#include "core/plan/plan.hpp"
#include "core/remote.hpp"

namespace zodan {

// What an earlier run left in the journal.
struct PriorRun {
    int64_t run_id = 0;
    std::string state;            // running, done, failed, rolled_back
    std::string src_name, new_name;
    bool same_arguments = false;  // fingerprint equals the current call's
    bool alive = false;           // its session still runs
    int backend_pid = 0;
    // Steps with a row (done or not); a step this version does not have
    // (an older version's) is left out.
    std::set<StepId> started_steps;
    std::set<StepId> done_steps;

    // Changed the cluster (got past the checks) and did not finish.
    bool unfinished() const {
        if (state != "running" && state != "failed") return false;
        for (StepId s : started_steps)
            if (s != StepId::CheckVersions && s != StepId::CheckPreconditions) return true;
        return false;
    }
};

class Journal {
public:
    // The latest run of `operation` recorded on this node, if any. It is
    // alive while a session holds the join lock on this node (the lock of
    // a running call: see join_lock.hpp).
    static std::optional<PriorRun> latest(Connection &node, const std::string &operation,
                                          const std::string &args_fingerprint);
    // The run's record as its steps' outputs hold it (run_record.hpp).
    static AddRecord read_record(Connection &node, int64_t run_id);
    static void set_state(Connection &node, int64_t run_id, const std::string &state);

    // Starts a run record.
    void begin(Connection &new_node, const std::string &operation, const std::string &src_node,
               const std::string &new_node_name, const std::string &masked_src_dsn, const std::string &masked_new_dsn,
               const std::string &args_fingerprint, int backend_pid);
    // Takes over an unfinished run for this session.
    void resume(Connection &new_node, int64_t run_id, int backend_pid);
    int64_t run_id() const { return run_id_; }

    // A step is known by its name; `order` is only where it shows.
    void step_started(StepId step, int order);
    // The step's part of the record and its figures.
    void step_done(StepId step, const AddRecord &record, const Figures &figures);
    // The step's part of the record now, before the step ends: what a
    // resume or a rollback needs should the call stop inside the step.
    void save(StepId step, const AddRecord &record);
    // Figures before the step ends (a long copy's progress).
    void step_note(StepId step, const Figures &figures);
    void step_failed(StepId step, const std::string &error);
    void finish(bool ok, const std::string &error = "");

    // The same by name, for a run whose steps are not add_node's (a
    // remove's, a call that found nothing to do): its figures only, no
    // record to merge.
    void step_started(const std::string &name, int order);
    void step_done(const std::string &name, const Figures &figures);
    void step_failed(const std::string &name, const std::string &error);
    bool open() const { return conn_ != nullptr; }

private:
    Connection *conn_ = nullptr;
    int64_t run_id_ = 0;
};

}  // namespace zodan
