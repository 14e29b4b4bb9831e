// The paths into the new node as N's catalog holds them: sub_X_N, made
// disabled, each asking its provider for the provider's own sets.
// prepare_other_nodes makes the source's, then sends the others' (in flight
// until the copy's end: AddRun::others_subscribing).
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
// The same with its reads made by the caller (with others): `sets`, the
// names of each provider's own sets; `on_n`, subscriptions_on_new_node() of
// a list that holds `providers` from row `first_row` on.
void subscribe_new_node(AddRun &run, const std::vector<Member *> &providers,
                        const std::vector<std::vector<std::string>> &sets, const QueryResult &on_n, size_t first_row,
                        InFlight *in_flight);
// The set names in a read of sql::local_sets().
std::vector<std::string> set_names_of(const QueryResult &local_sets);

// sub_P_N for each provider P as N has it (sql::subscription_slots): present,
// slot, sub, origin_left.
QueryResult subscriptions_on_new_node(AddRun &run, const std::vector<Member *> &providers);

// The names of a node's own replication sets.
std::vector<std::string> local_set_names(Member &node);

}  // namespace zodan
