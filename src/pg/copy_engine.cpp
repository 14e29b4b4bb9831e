// The copy's data streams: on each lane a COPY ... TO STDOUT on the source
// feeds a COPY ... FROM STDIN on the new node, chunk by chunk, and all lanes
// advance in one wait over their sockets and the latch (a cancel stops every
// stream at once). Lanes take the next job from the queue as they finish.
#include <chrono>
#include <string>
#include <vector>
#include <tuple>
#include <stdexcept>

extern "C" {
#include "postgres.h"
#include "miscadmin.h"
#include "libpq-fe.h"
#include "storage/latch.h"
}

#include "pg/backend_runtime.hpp"
#include "pg/call_secrets.hpp"
#include "pg/guard.hpp"
#include "pg/libpq_connection.hpp"
#include "pg/wait_set.hpp"

namespace zodan::pg {

namespace {

std::string last_error(PGconn *conn) {
    std::string s = PQerrorMessage(conn);
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

// The one result a statement ends with, once libpq has all of it.
std::string error_of(PGresult *res, PGconn *conn) {
    const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
    return primary ? primary : last_error(conn);
}

// About what a CopyData message of the new node's fills before it goes.
constexpr size_t kBatchBytes = 64 * 1024;

struct Lane {
    HostSession *from = nullptr, *to = nullptr;
    int job = -1;
    // Releasing: no job is left for it, and its source transaction is ending.
    enum class Phase { Idle, Starting, Streaming, Flushing, Ending, Releasing, Released } phase = Phase::Idle;
    bool out_started = false, in_started = false;
    bool consumed = false;  // input was read since the last chunk
    std::string batch;    // rows read from the source, not yet queued for the new node
    bool more = false;    // stopped for fairness with rows still buffered: wait no longer than a poll
    unsigned from_events = 0, to_events = 0;
    int from_pos = 0, to_pos = 0;
};

}  // namespace

void BackendRuntime::copy_jobs(const std::vector<CopyLane> &lanes_in, const std::vector<CopyJob> &jobs,
                               const std::function<void(const CopyState &)> &progress) {
    std::vector<Lane> lanes(lanes_in.size());
    for (size_t i = 0; i < lanes_in.size(); ++i) {
        lanes[i].from = lanes_in[i].from->host_session();
        lanes[i].to = lanes_in[i].to->host_session();
        if (!lanes[i].from || !lanes[i].to) throw std::logic_error("copy lanes need libpq connections");
    }
    CopyState state;
    state.bytes.assign(jobs.size(), 0);
    state.done.assign(jobs.size(), false);
    size_t next_job = 0, finished = 0;

    auto fail = [&](Lane &lane, HostSession *side, const std::string &why) {
        // Both ends are mid-COPY: closed, not cancelled (their transactions go).
        for (Lane &l : lanes) {
            l.from->mark_broken();
            l.to->mark_broken();
        }
        throw RemoteError(side->node_name(), "copy table " + jobs[lane.job].label, call_secrets().scrub(why));
    };

    // Hands the rows read so far to the new node's output buffer, as one message.
    auto queue_batch = [&](Lane &lane) {
        if (lane.batch.empty()) return;
        PGconn *dst = lane.to->raw();
        if (PQputCopyData(dst, lane.batch.data(), static_cast<int>(lane.batch.size())) != 1)
            fail(lane, lane.to, last_error(dst));
        state.bytes[lane.job] += static_cast<long long>(lane.batch.size());
        lane.batch.clear();
    };
    // The same, and starts sending them; false when the socket did not take
    // them all (the lane then waits until it does, so memory stays bounded
    // by a batch and the socket's buffers).
    auto send_batch = [&](Lane &lane) {
        if (lane.batch.empty()) return true;
        queue_batch(lane);
        PGconn *dst = lane.to->raw();
        const int flushed = PQflush(dst);
        if (flushed < 0) fail(lane, lane.to, last_error(dst));
        if (flushed == 1) {
            lane.phase = Lane::Phase::Flushing;
            lane.to_events = WL_SOCKET_WRITEABLE;
            return false;
        }
        return true;
    };

    // Whether the command sent last on `side` (a COPY's end, a ROLLBACK) has
    // completed, flushing and reading without blocking; false with `events`
    // set to what to wait for. A failure fails the copy.
    auto command_done = [&](Lane &lane, HostSession *side, unsigned &events) {
        PGconn *conn = side->raw();
        const int flushed = PQflush(conn);
        if (flushed < 0) fail(lane, side, last_error(conn));
        if (flushed == 1) {
            events = WL_SOCKET_WRITEABLE;
            return false;
        }
        if (!PQconsumeInput(conn)) fail(lane, side, last_error(conn));
        if (PQisBusy(conn)) {
            events = WL_SOCKET_READABLE;
            return false;
        }
        PGresult *res = PQgetResult(conn);
        const bool ok = res && PQresultStatus(res) == PGRES_COMMAND_OK;
        const std::string why = ok ? "" : error_of(res, conn);
        PQclear(res);
        while (PGresult *more = PQgetResult(conn)) PQclear(more);
        if (!ok) fail(lane, side, why);
        return true;
    };

    // Advances one lane as far as it goes without blocking; sets what it waits for.
    auto advance = [&](Lane &lane) {
        lane.from_events = lane.to_events = 0;
        lane.more = false;
        // A lane whose source never runs dry yields after this many rows, so
        // the other lanes and interrupts are served.
        int rows_left = 4096;
        for (;;) {
            PGconn *src = lane.from->raw(), *dst = lane.to->raw();
            switch (lane.phase) {
            case Lane::Phase::Idle: {
                if (next_job >= jobs.size()) {
                    // A lane with nothing left ends its source transaction at
                    // once: the locks it holds on the tables it copied could
                    // otherwise hold up DDL on the source (Spock applying a
                    // peer's ALTER TABLE) that another lane's next table then
                    // queues behind, a wait no deadlock check sees through us.
                    if (!PQsendQuery(src, "ROLLBACK")) fail(lane, lane.from, last_error(src));
                    lane.phase = Lane::Phase::Releasing;
                    continue;
                }
                lane.job = static_cast<int>(next_job++);
                const CopyJob &job = jobs[lane.job];
                if (!PQsendQuery(src, job.out.sql.c_str())) fail(lane, lane.from, last_error(src));
                if (!PQsendQuery(dst, job.in.sql.c_str())) fail(lane, lane.to, last_error(dst));
                lane.out_started = lane.in_started = false;
                lane.phase = Lane::Phase::Starting;
                continue;
            }
            case Lane::Phase::Starting: {
                // Both statements must reach their COPY state.
                for (auto [conn, side, started] : {std::make_tuple(src, lane.from, &lane.out_started),
                                                   std::make_tuple(dst, lane.to, &lane.in_started)}) {
                    if (*started) continue;
                    if (PQflush(conn) == 1) {
                        (conn == src ? lane.from_events : lane.to_events) = WL_SOCKET_WRITEABLE;
                        continue;
                    }
                    if (!PQconsumeInput(conn)) fail(lane, side, last_error(conn));
                    if (PQisBusy(conn)) {
                        (conn == src ? lane.from_events : lane.to_events) = WL_SOCKET_READABLE;
                        continue;
                    }
                    PGresult *res = PQgetResult(conn);
                    const ExecStatusType want = conn == src ? PGRES_COPY_OUT : PGRES_COPY_IN;
                    const bool ok = res && PQresultStatus(res) == want;
                    const std::string why = ok ? "" : error_of(res, conn);
                    PQclear(res);
                    if (!ok) fail(lane, side, why);
                    *started = true;
                }
                if (!(lane.out_started && lane.in_started)) return;
                lane.phase = Lane::Phase::Streaming;
                continue;
            }
            case Lane::Phase::Streaming: {
                // Rows go to the new node many to a message (COPY data need
                // not keep to rows): a message per row would cost the new
                // node a message read for every row.
                if (lane.batch.size() >= kBatchBytes && !send_batch(lane)) return;
                char *buf = nullptr;
                const int n = PQgetCopyData(src, &buf, 1);
                if (n > 0) {
                    lane.batch.append(buf, static_cast<size_t>(n));
                    PQfreemem(buf);
                    lane.consumed = false;
                    if (--rows_left == 0) {
                        lane.more = true;
                        return;
                    }
                    continue;
                }
                if (n == 0) {
                    // Nothing whole buffered: read what the socket has, try
                    // once more; before waiting for the source, send what
                    // we hold so the new node never waits on us.
                    if (!lane.consumed) {
                        if (!PQconsumeInput(src)) fail(lane, lane.from, last_error(src));
                        lane.consumed = true;
                        continue;
                    }
                    lane.consumed = false;
                    if (!send_batch(lane)) return;
                    lane.from_events = WL_SOCKET_READABLE;
                    return;
                }
                lane.consumed = false;
                if (n == -2) fail(lane, lane.from, last_error(src));
                // -1: the source's COPY is done; its own result follows.
                PGresult *res = PQgetResult(src);
                const bool ok = res && PQresultStatus(res) == PGRES_COMMAND_OK;
                const std::string why = ok ? "" : error_of(res, src);
                PQclear(res);
                while (PGresult *more = PQgetResult(src)) PQclear(more);
                if (!ok) fail(lane, lane.from, why);
                // The last rows go out with the end: Ending flushes both.
                queue_batch(lane);
                if (PQputCopyEnd(dst, nullptr) < 0) fail(lane, lane.to, last_error(dst));
                lane.phase = Lane::Phase::Ending;
                continue;
            }
            case Lane::Phase::Flushing: {
                const int flushed = PQflush(dst);
                if (flushed < 0) fail(lane, lane.to, last_error(dst));
                if (flushed == 1) {
                    lane.to_events = WL_SOCKET_WRITEABLE;
                    return;
                }
                lane.phase = Lane::Phase::Streaming;
                continue;
            }
            case Lane::Phase::Ending: {
                if (!command_done(lane, lane.to, lane.to_events)) return;
                state.done[lane.job] = true;
                ++finished;
                lane.job = -1;
                lane.phase = Lane::Phase::Idle;
                continue;
            }
            case Lane::Phase::Releasing: {
                if (!command_done(lane, lane.from, lane.from_events)) return;
                lane.phase = Lane::Phase::Released;
                return;
            }
            case Lane::Phase::Released:
                return;
            }
        }
    };

    WaitSet waits(static_cast<int>(lanes.size() * 2));
    for (Lane &lane : lanes) {
        lane.from_pos = waits.add_socket(lane.from->socket(), 0);
        lane.to_pos = waits.add_socket(lane.to->socket(), 0);
    }
    int64_t next_report = now_ms() + 250;
    auto all_released = [&] {
        for (const Lane &lane : lanes)
            if (lane.phase != Lane::Phase::Released) return false;
        return true;
    };
    for (;;) {
        bool more = false;
        for (Lane &lane : lanes) {
            advance(lane);
            waits.set_events(lane.from_pos, lane.from_events);
            waits.set_events(lane.to_pos, lane.to_events);
            more = more || lane.more;
        }
        if (finished == jobs.size() && all_released()) break;
        if (progress && now_ms() >= next_report) {
            progress(state);
            next_report = now_ms() + 250;
        }
        waits.wait(more ? 0 : 250);
    }
    if (progress) progress(state);
}

}  // namespace zodan::pg
