extern "C" {
#include "postgres.h"
#include "miscadmin.h"
#include "storage/latch.h"
#include "utils/memutils.h"
#include "utils/wait_event.h"
#if PG_VERSION_NUM >= 180000
#include "storage/waiteventset.h"
#endif
}

#include "pg/guard.hpp"
#include "pg/wait_set.hpp"

namespace zodan::pg {

WaitSet::WaitSet(int sockets) {
    // Owned by this object alone (freed in the destructor, which every error
    // path reaches: PostgreSQL errors become C++ exceptions in pg_call).
    set_ = pg_call([&] {
#if PG_VERSION_NUM >= 170000
        WaitEventSet *s = CreateWaitEventSet(nullptr, sockets + 2);
#else
        WaitEventSet *s = CreateWaitEventSet(TopMemoryContext, sockets + 2);
#endif
        AddWaitEventToSet(s, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, nullptr);
        AddWaitEventToSet(s, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, nullptr, nullptr);
        return s;
    });
}

WaitSet::~WaitSet() {
    try {
        pg_call([&] { FreeWaitEventSet(set_); });
    } catch (...) {
        // Nothing may leave a destructor.
    }
}

int WaitSet::add_socket(int fd, unsigned events) {
    // Registered readable, then set to what is asked: an empty mask waits
    // for nothing but the socket's error or hangup (epoll).
    int pos = pg_call([&] { return AddWaitEventToSet(set_, WL_SOCKET_READABLE, fd, nullptr, nullptr); });
    events_.resize(pos + 1, 0);
    events_[pos] = WL_SOCKET_READABLE;
    set_events(pos, events);
    return pos;
}

void WaitSet::set_events(int position, unsigned events) {
    if (events_.at(position) == events) return;
    events_[position] = events;
    pg_call([&] { ModifyWaitEvent(set_, position, events, nullptr); });
}

std::vector<int> WaitSet::wait(long timeout_ms) {
    WaitEvent occurred[16];
    int n = pg_call([&] { return WaitEventSetWait(set_, timeout_ms, occurred, 16, PG_WAIT_EXTENSION); });
    std::vector<int> ready;
    for (int i = 0; i < n; ++i) {
        if (occurred[i].events & WL_LATCH_SET) ResetLatch(MyLatch);
        if (occurred[i].events & (WL_SOCKET_READABLE | WL_SOCKET_WRITEABLE)) ready.push_back(occurred[i].pos);
    }
    check_for_interrupts();
    return ready;
}

}  // namespace zodan::pg
