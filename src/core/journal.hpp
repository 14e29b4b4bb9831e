// The run journal on the new node: each step's state, times and outputs,
// written through the node's own connection so every row commits at once,
// independently of the calling transaction (another session can watch it,
// and a later call can resume from it).
#pragma once

#include <cstdint>
#include <string>

#include "core/remote.hpp"

namespace zodan {

class Journal {
public:
    Journal() = default;
    // Starts a run record; `args_fingerprint` identifies the arguments.
    void begin(Connection &new_node, const std::string &operation, const std::string &src_node,
               const std::string &new_node_name, const std::string &masked_src_dsn,
               const std::string &masked_new_dsn, const std::string &args_fingerprint);
    bool active() const { return conn_ != nullptr; }
    int64_t run_id() const { return run_id_; }

    void step_started(int step_no, const std::string &step_name);
    void step_done(int step_no, const std::string &output_json);
    void step_failed(int step_no, const std::string &error);
    void finish(bool ok, const std::string &error = "");

private:
    Connection *conn_ = nullptr;
    int64_t run_id_ = 0;
};

}  // namespace zodan
