// The run journal on the new node: each step's state, times and outputs,
// written through the node's own connection so every row commits at once,
// independently of the calling transaction (another session can watch it,
// and a later call can resume from it or roll it back).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>

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
    std::set<std::string> started_steps;  // steps with a row (done or not), by name
    std::set<std::string> done_steps;

    // Changed the cluster (got past the checks) and did not finish.
    bool unfinished() const {
        if (state != "running" && state != "failed") return false;
        for (const std::string &s : started_steps)
            if (s != "check_versions" && s != "check_preconditions") return true;
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
    // Outputs of one step as (key, text) pairs, nested objects flattened "key.field".
    static std::map<std::string, std::string> step_output(Connection &node, int64_t run_id,
                                                          const std::string &step_name);
    static void set_state(Connection &node, int64_t run_id, const std::string &state);

    // Starts a run record.
    void begin(Connection &new_node, const std::string &operation, const std::string &src_node,
               const std::string &new_node_name, const std::string &masked_src_dsn, const std::string &masked_new_dsn,
               const std::string &args_fingerprint, int backend_pid);
    // Takes over an unfinished run for this session.
    void resume(Connection &new_node, int64_t run_id, int backend_pid);
    int64_t run_id() const { return run_id_; }

    // A step is known by its name; `order` is only where it shows.
    void step_started(const std::string &step_name, int order);
    void step_done(const std::string &step_name, const std::string &output_json);
    // Records part of a step's output before the step ends (merged into what is there).
    void step_note(const std::string &step_name, const std::string &output_json);
    void step_failed(const std::string &step_name, const std::string &error);
    void finish(bool ok, const std::string &error = "");

private:
    Connection *conn_ = nullptr;
    int64_t run_id_ = 0;
};

}  // namespace zodan
