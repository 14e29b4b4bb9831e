// The paths into the new node as N's catalog holds them: sub_X_N, made
// disabled, each asking its provider for the provider's own sets.
// prepare_other_nodes makes the source's, copy_source the others' (while
// the copy runs).
#pragma once

#include <vector>

#include "core/plan/add_run.hpp"
#include "core/waits/in_flight.hpp"

namespace zodan {

// sub_P_N on N for each provider P lacking it; records the slot each has
// or will get (Spock's rule) as the run's path from P. In line on N's
// session, or, given `in_flight`, all in one statement sent on N's second
// session and left in `in_flight`.
void subscribe_new_node(AddRun &run, const std::vector<Member *> &providers, InFlight *in_flight);
// The same with its reads made by the caller (with others): `sets`, each
// provider's local_sets(); `on_n`, subscriptions_on_new_node() of a list
// that begins with `providers`.
void subscribe_new_node(AddRun &run, const std::vector<Member *> &providers, const std::vector<QueryResult> &sets,
                        const QueryResult &on_n, InFlight *in_flight);

// sub_P_N for each provider P as N has it (sql::subscription_slots): present,
// slot, sub, origin_left.
QueryResult subscriptions_on_new_node(AddRun &run, const std::vector<Member *> &providers);

// The names of a node's own replication sets.
std::vector<std::string> local_set_names(Member &node);

}  // namespace zodan
