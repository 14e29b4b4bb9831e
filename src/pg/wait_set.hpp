// One wait over the backend's latch and any number of sockets (libpq
// connections, a child's pipes), so that a cancel, a statement_timeout or a
// terminate ends it at once, and no socket waits behind another. Include
// after the PostgreSQL headers.
#pragma once

#include <vector>

namespace zodan::pg {

class WaitSet {
public:
    // Room for the latch and `sockets` sockets.
    explicit WaitSet(int sockets);
    ~WaitSet();
    WaitSet(const WaitSet &) = delete;
    WaitSet &operator=(const WaitSet &) = delete;

    // Adds a socket waited for with `events` (WL_SOCKET_READABLE /
    // WRITEABLE, or 0: none for now); returns its position.
    int add_socket(int fd, unsigned events);
    void set_events(int position, unsigned events);
    // Waits up to `timeout_ms` (-1: no bound) for any socket or the latch,
    // then checks for interrupts (which may throw PgError). Returns the
    // positions of the sockets that are ready.
    std::vector<int> wait(long timeout_ms);

private:
    struct WaitEventSet *set_;
    std::vector<unsigned> events_;  // per socket position (latch is position 0)
};

}  // namespace zodan::pg
