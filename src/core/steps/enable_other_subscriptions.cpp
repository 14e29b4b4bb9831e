// Step enable_other_subscriptions: the paths into N open (sub_S_N from the
// copy point, every sub_O_N from P_O), and their apply workers are helped
// to start.
#include "core/plan/add_run.hpp"
#include "core/cluster/names.hpp"
#include "core/statements/spock_sql.hpp"
#include "core/waits/waiter.hpp"

namespace zodan {

namespace {

// Spock's manager on N starts one apply worker at a time and, after each,
// sleeps on its latch for up to a second (or, when our enabling commit woke
// it mid-wait, for spock.restart_delay_default) although the worker
// attached long before; nothing else sets its latch. Its latch is set as
// soon as a worker it started has attached, and while an enabled
// subscription still has none.
void help_workers_start(AddRun &run) {
    Runtime &rt = run.rt;
    Connection &n = run.new_node().db();
    std::string last_workers;
    Waiter wait(rt);
    wait.pace(kFirstPollMs, 20, 20);
    for (;;) {
        QueryResult w = n.exec(sql::apply_workers());
        // Done once every worker runs and the manager has left its round
        // (it holds a lock the next steps' sync events need).
        if (w.text(0, "missing", "0") == "0" && w.text(0, "manager_busy", "false") != "true") return;
        const std::string manager = w.text(0, "manager");
        if (!manager.empty()) {
            const std::string workers = w.text(0, "workers");
            if (workers != last_workers || wait.slowest()) rt.wake_local_process(std::stoi(manager));
            // A worker just attached: the next one is tens of ms away.
            if (workers != last_workers) wait.hurry();
            last_workers = workers;
        }
        if (wait.expired())
            throw UserError(wait.timed_out() + " waiting for Spock's apply workers on node \"" + run.args.new_name +
                                "\" to start",
                            "Subscriptions without a worker: " + w.text(0, "without", "?"),
                            "Check that node's log; calling spock.add_node again resumes the run.", Cause::TimedOut);
        wait.sleep();
    }
}

}  // namespace

void enable_other_subscriptions(AddRun &run, Figures &figures) {
    std::vector<std::string> subs;
    for (const Member &o : run.view.others) subs.push_back(subscription_name(o.name, run.args.new_name));
    subs.push_back(subscription_name(run.args.src_name, run.args.new_name));
    // One statement for all; only disabled ones are enabled (enabling an
    // enabled subscription restarts its worker).
    QueryResult enabled = run.new_node().db().exec(sql::enable_disabled(subs));
    for (size_t i = 0; i < enabled.size(); ++i) figures.add(enabled.text(i, "sub_name"), "enabled");
    help_workers_start(run);
}

}  // namespace zodan
