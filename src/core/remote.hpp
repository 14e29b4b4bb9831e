// The one seam between the step logic and the world: "run this SQL on node X".
//
// The step logic only ever talks to nodes through these interfaces. In the
// extension they are backed by asynchronous libpq connections that wait on
// the backend's latch (src/pg/); in the unit tests by a fake cluster.
#pragma once

#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "core/statements/statement_id.hpp"

namespace zodan {

using Value = std::optional<std::string>;  // NULL is std::nullopt

// One statement with its parameters. `id` says which statement it is (the
// fake cluster dispatches on it); `name` is its label for the operator and
// for logs, free to change wording or carry values, and never read back;
// `sql` never contains user input: values travel in `params`.
struct Query {
    Stmt id;
    std::string name;
    std::string sql;
    std::vector<Value> params;
    // Sent with the simple query protocol (no parameters): replication
    // commands, which a walsender takes in no other form.
    bool simple = false;
    // What the statement acts on when no parameter carries it (the slot a
    // replication command creates, the table a statement written by a node
    // reads): for the fake cluster; the product never reads it.
    std::string subject = {};
};

class QueryResult {
public:
    QueryResult() = default;
    QueryResult(std::vector<std::string> columns, std::vector<std::vector<Value>> rows)
        : columns_(std::move(columns)), rows_(std::move(rows)) {}

    size_t size() const { return rows_.size(); }
    bool empty() const { return rows_.empty(); }
    const std::vector<std::vector<Value>> &rows() const { return rows_; }

    // Cell by row and column name; throws std::out_of_range naming the column.
    const Value &at(size_t row, const std::string &column) const;
    // Same, but NULL becomes `fallback`.
    std::string text(size_t row, const std::string &column, const std::string &fallback = "") const;
    // The single value of a one-row, one-column result; throws if the shape differs.
    Value scalar() const;

private:
    std::vector<std::string> columns_;
    std::vector<std::vector<Value>> rows_;
};

// Why a call failed, as a script branches on it: each cause reports its own
// SQLSTATE (sqlstate_of; the table in docs/errors.md says what to do).
enum class Cause {
    Precondition,    // 55000 object_not_in_prerequisite_state: fix, then call again
    LockHeld,        // 55P03 lock_not_available: another run holds the join lock; retry later
    TimedOut,        // 57014 query_canceled: a wait or statement passed zodan.sync_timeout
    Unreachable,     // 08001 a node could not be connected to
    ConnectionLost,  // 08006 connection_failure: a node was lost mid-statement
    BadArgument,     // 22023 invalid_parameter_value
    Privilege,       // 42501 insufficient_privilege
    UndefinedNode,   // 42704 undefined_object: a named node does not exist where it must
    Divergence,      // ZD001 (the product's own): the new node differs from the source
};

// The five-character SQLSTATE of a cause.
const char *sqlstate_of(Cause cause);

// The SQLSTATE a call reports when it ends with `e` (a C++ exception of the
// step logic): a remote node's own where it gave one, else the cause's;
// XX000 (internal_error) for anything that is not one of ours.
std::string sqlstate_for(const std::exception &e);

// A remote call failed. Carries the node, what was being done and the
// server's own words (already scrubbed of secrets). Its SQLSTATE is the
// node's own where the node gave one (a remote error is reported as the
// node raised it); one libpq made up has none: the connection was lost
// (08006), or, connecting, never made (08001).
class RemoteError : public std::runtime_error {
public:
    RemoteError(std::string node, std::string action, std::string server_message,
                std::string sqlstate = "", std::string hint = "", std::string detail = "")
        : std::runtime_error("node \"" + node + "\": " + action + " failed: " + server_message),
          node_(std::move(node)), server_message_(std::move(server_message)),
          sqlstate_(std::move(sqlstate)), hint_(std::move(hint)), detail_(std::move(detail)) {}
    const std::string &node() const { return node_; }
    const std::string &server_message() const { return server_message_; }
    const std::string &sqlstate() const { return sqlstate_; }
    const std::string &hint() const { return hint_; }
    const std::string &detail() const { return detail_; }

private:
    std::string node_, server_message_, sqlstate_, hint_, detail_;
};

// A statement passed the deadline it was given; it was cancelled on the
// node (SQLSTATE 57014, as the throwers pass).
class StatementTimedOut : public RemoteError {
public:
    using RemoteError::RemoteError;
};

// The caller passed an argument that cannot be used (SQLSTATE 22023,
// Cause::BadArgument); the message names it. A node's malformed reply is
// not the caller's bad argument but an internal error. (A UserError with
// Cause::BadArgument is the same where a DETAIL or HINT helps.)
class InvalidArgument : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// An error the operator must act on: a failed precondition or a run that
// cannot go on. `hint` says what to do; `cause` what kind of failure it is
// (a failed precondition unless said otherwise).
class UserError : public std::runtime_error {
public:
    UserError(std::string message, std::string detail = "", std::string hint = "", Cause cause = Cause::Precondition)
        : std::runtime_error(std::move(message)), detail_(std::move(detail)), hint_(std::move(hint)), cause_(cause) {}
    const std::string &detail() const { return detail_; }
    const std::string &hint() const { return hint_; }
    Cause cause() const { return cause_; }

private:
    std::string detail_, hint_;
    Cause cause_;
};

// The caller's role may not do what the call needs (SQLSTATE 42501,
// insufficient_privilege): use this server's own credentials without being
// a superuser. A UserError otherwise (message, detail, hint).
class PermissionDenied : public UserError {
public:
    PermissionDenied(std::string message, std::string detail = "", std::string hint = "")
        : UserError(std::move(message), std::move(detail), std::move(hint), Cause::Privilege) {}
};

// The host's own session behind a Connection (src/pg: the libpq session),
// for the host's code that drives sessions below the statement level (the
// copy's COPY streams). Only declared here: the step logic cannot use it.
class HostSession;

// Round trips to the nodes, as a link's delay would cost them: every
// statement sent and waited for is one to its node; a statement that starts
// while another is in flight overlaps it and adds nothing to the sequence
// (`sequential`: the longest chain of round trips each begun after the one
// before had ended, which at a delay of d per round trip costs at least
// that many times d). Per node the same chain, over that node's statements
// alone. Opening a connection is counted apart: it costs several round
// trips below the statements (TCP, the startup, the password exchange).
struct RoundTripCount {
    long long sequential = 0;
    std::map<std::string, long long> per_node;
    std::map<std::string, long long> connections;
    // What was counted since `before` (a snapshot of the same tally).
    RoundTripCount since(const RoundTripCount &before) const;
};

class RoundTrips {
public:
    // The process's tally: a backend runs one call at a time, and the unit
    // tests one run at a time; a run reads differences of it.
    static RoundTrips &tally();
    void opened(const std::string &node) { ++count_.connections[node]; }
    // A statement sent: the stamp its end is measured against.
    uint64_t sent() { return ++clock_; }
    void ended(const std::string &node, uint64_t started);
    const RoundTripCount &count() const { return count_; }

private:
    uint64_t clock_ = 0, chain_end_ = 0;
    std::map<std::string, uint64_t> node_chain_end_;
    RoundTripCount count_;
};

// One open connection to one node. Every statement that goes through it is
// counted (RoundTrips) here, whatever the connection behind: the
// subclasses implement the *_query/_result functions.
class Connection {
public:
    virtual ~Connection();
    const std::string &node() const { return node_; }
    // Starts a statement without waiting for it (one at a time per connection).
    void send(const Query &query) {
        send_query(query);
        started_ = RoundTrips::tally().sent();
    }
    // Waits for the statement started by send(); throws RemoteError on failure.
    QueryResult receive() {
        Ending ending(*this);
        return receive_result();
    }
    // Same, bounded by a deadline shared with other connections (Runtime::now_ms clock).
    QueryResult receive_before(int64_t deadline_ms) {
        Ending ending(*this);
        return receive_result_before(deadline_ms);
    }
    // Gives up the statement in flight, if any: cancelled on the node, and
    // the connection usable again. Never throws.
    void abandon() {
        abandon_query();
        round_trip_ended();
    }
    // Whether receive() would return without waiting (the statement in
    // flight has finished, or failed). Never waits.
    virtual bool finished() { return true; }
    // For a host that waits on several connections at once, in one wait
    // over their sockets: the socket that becomes readable when the
    // statement in flight progresses (then finished() says whether it
    // ended); -1 when there is none to wait on (a connection that answers
    // without waiting, or one that was lost): it is then waited on alone.
    virtual int wait_socket() const { return -1; }
    // The host's session behind this connection; nullptr where there is
    // none (the unit tests' fake).
    virtual HostSession *host_session() { return nullptr; }
    QueryResult exec(const Query &query) {
        send(query);
        return receive();
    }

protected:
    explicit Connection(std::string node) : node_(std::move(node)) { RoundTrips::tally().opened(node_); }
    virtual void send_query(const Query &query) = 0;
    virtual QueryResult receive_result() = 0;
    virtual QueryResult receive_result_before(int64_t /*deadline_ms*/) { return receive_result(); }
    virtual void abandon_query() {}

private:
    // The statement's round trip ends with its result, its failure or its
    // cancel, however receive() leaves.
    struct Ending {
        Connection &conn;
        explicit Ending(Connection &c) : conn(c) {}
        ~Ending() { conn.round_trip_ended(); }
    };
    void round_trip_ended() noexcept;

    std::string node_;
    uint64_t started_ = 0;  // the statement in flight's stamp; 0: none
};

// What the caller asks of the copy (zodan.copy_method): physical when the
// new node is a hot standby (Auto), or insisted on either way.
enum class CopyMethodSetting { Auto, Logical, Physical };

// Whether the add compares N with S at the end (zodan.verify_data): auto
// compares after a logical copy, which the product made itself, and not
// after a physical one, which is PostgreSQL's replay of S's WAL and would
// make the call as long as reading the whole database twice
// (docs/add_node.md, settings).
enum class VerifySetting { Auto, On, Off };

// Where the copy's structure dump is made (zodan.structure_dump): Auto on
// the source by a function of zodan's library there (one round trip for the
// archive), else on the new node's host (one round trip per catalog query
// pg_dump makes across the link); Local always the latter; Source the
// former or the add fails (docs/operator-add.md).
enum class StructureDumpSetting { Auto, Local, Source };

// Log: the server's log only (what the caller need not act on and may not
// see happen every time). Debug: for whoever raised the log's level
// (DEBUG1), e.g. each step's round trips.
enum class Level { Notice, Warning, Log, Debug };

// A program of this server's own bin directory (pg_dump, pg_restore), run
// by the procedure's backend on the new node.
struct Program {
    std::string what;               // for messages: "dump the structure of n1"
    std::string name;               // "pg_dump"
    std::vector<std::string> args;  // never a secret
    // The node it connects to, if any: given as --dbname without the
    // password, which travels in the child's environment instead.
    std::string dsn;
    std::vector<std::pair<std::string, std::string>> env;  // e.g. PGOPTIONS
    // Called about every 250 ms while the program runs (progress reports, the
    // watch over the join's slots); what it throws ends the program.
    std::function<void()> while_running = {};
};

// One table's data copied from the source into the new node: a COPY ... TO
// STDOUT run on the source inside the copy's snapshot, fed into a COPY ...
// FROM STDIN on the new node.
struct CopyJob {
    std::string table;   // the table it fills
    std::string label;   // for messages: the table, and which part of it
    Query out, in;
    long long estimated_bytes = 0;  // its heap size on the source
};

// A pair of connections a copy job runs over: the source session (in the
// snapshot) and the new node's session (in its own transaction).
struct CopyLane {
    Connection *from;
    Connection *to;
};

// Bytes streamed so far per job, and whether it is done.
struct CopyState {
    std::vector<long long> bytes;
    std::vector<bool> done;
};

// A scratch directory that is removed with its contents when destroyed.
class ScratchDir {
public:
    virtual ~ScratchDir() = default;
    virtual const std::string &path() const = 0;
    // Writes `bytes` to a new file `name` in it (readable by the server's
    // OS user only); returns the file's path. Throws UserError on failure.
    virtual std::string write_file(const std::string &name, const std::string &bytes) = 0;
    // The size of file `name` in it, in bytes; -1 when it cannot be read.
    virtual long long size_of(const std::string &name) const = 0;
};

// A session to open: a regular one, or a walsender (replication=database)
// that takes replication commands only.
enum class SessionKind { Regular, Replication };
struct SessionRequest {
    std::string node;
    std::string dsn;
    SessionKind kind = SessionKind::Regular;
    // Its first statement follows at once: the session's settings may
    // travel with it instead of costing a round trip of their own.
    bool first_statement_follows = false;
};
// One session of Runtime::open_sessions: opened, or why not (what connect()
// would have thrown).
struct OpenedSession {
    std::unique_ptr<Connection> conn;
    std::exception_ptr failure;
};

// Sends each statement on its connection, in order. A send may wait (a
// session's settings go first) and fail: those already sent are then
// given up (Connection::abandon), not left busy, and the failure thrown.
void send_each(const std::vector<std::pair<Connection *, Query>> &work);

// What the step logic needs from its host besides connections.
class Runtime {
public:
    virtual ~Runtime() = default;
    // Opens a connection; throws RemoteError (never showing a password).
    virtual std::unique_ptr<Connection> connect(const std::string &node, const std::string &dsn) = 0;
    // Runs one statement on each of several connections at the same time and
    // returns their results in order. Every statement is waited for even when
    // one fails; then the first failure is thrown.
    virtual std::vector<QueryResult> exec_all(const std::vector<std::pair<Connection *, Query>> &work);
    // The same with a deadline of its own: a statement still running then
    // is cancelled, and its result is empty (nullopt) instead of an error.
    virtual std::vector<std::optional<QueryResult>> exec_all_until(const std::vector<std::pair<Connection *, Query>> &work,
                                                                   int64_t deadline_ms);
    // Interruptible sleep: a cancel or statement_timeout ends it at once.
    virtual void sleep_ms(int ms) = 0;
    virtual int64_t now_ms() = 0;
    // A progress line for the operator; `detail` may hold unstable facts
    // (LSNs, timings, DSNs already masked).
    virtual void report(Level level, const std::string &message, const std::string &detail = "") = 0;
    // system_identifier and database of the backend that runs the procedure.
    virtual std::pair<std::string, std::string> local_identity() = 0;
    // Upper bound of every wait (zodan.sync_timeout), in milliseconds.
    virtual int sync_timeout_ms() = 0;
    // How often to report a long copy's progress (zodan.progress_interval); 0: never.
    virtual int progress_interval_ms() { return 0; }
    // Process id of the backend that runs the procedure.
    virtual int backend_pid() { return 0; }
    // Reads this database's own catalog without keeping any lock afterwards
    // (Spock's catalogs change under us through other sessions).
    virtual QueryResult read_local(const Query &query) = 0;
    // Between two steps: ends the calling session's transaction and starts
    // another where the call allows it (CALL outside a transaction block), so
    // a long add does not hold back vacuum on this node.
    virtual void between_steps() {}
    // Opens several connections at once (each attempt bounded by
    // zodan.connect_timeout); returns them in order or throws the first
    // failure.
    std::vector<std::unique_ptr<Connection>> connect_all(
        const std::vector<std::pair<std::string, std::string>> &node_and_dsn);
    // Opens several sessions at once, each of its kind: across a slow link
    // a session costs several round trips before its first statement, and
    // sessions opened together cost them once. A session that cannot be
    // opened is reported in its place, not thrown (a cancel is).
    virtual std::vector<OpenedSession> open_sessions(const std::vector<SessionRequest> &wanted);
    // A replication connection (walsender, replication=database): only
    // simple-protocol statements.
    virtual std::unique_ptr<Connection> connect_replication(const std::string &node, const std::string &dsn) = 0;
    // Runs a program of this server's bin directory to its end; returns
    // its standard output. Throws UserError naming `what` with its error
    // output (secrets masked) when it fails. A cancel kills it.
    virtual std::string run_program(const Program &program) = 0;
    virtual std::unique_ptr<ScratchDir> scratch_dir() = 0;
    // Runs the jobs over the lanes, each lane one job at a time, taking the
    // next from the queue in order; `progress` is called now and then with
    // the state so far. Throws the first failure (RemoteError naming the
    // table); the lanes' transactions are then unusable.
    virtual void copy_jobs(const std::vector<CopyLane> &lanes, const std::vector<CopyJob> &jobs,
                           const std::function<void(const CopyState &)> &progress) = 0;
    // Sets the latch of process `pid` of this server (Spock's manager, so
    // that it notices a worker it started has attached). Nothing else.
    virtual void wake_local_process(int /*pid*/) {}
    // Whether the caller is a superuser (may use the server's own credentials).
    virtual bool caller_is_superuser() { return true; }
    // Settings of the procedure's own (zodan.*), read fresh.
    virtual int copy_streams() { return 4; }
    virtual VerifySetting verify_data() { return VerifySetting::Auto; }
    // zodan.copy_method (docs/physical.md).
    virtual CopyMethodSetting copy_method() { return CopyMethodSetting::Auto; }
    // zodan.structure_dump (docs/operator-add.md).
    virtual StructureDumpSetting structure_dump() { return StructureDumpSetting::Auto; }
    // The version of zodan's library the procedure runs in (zodan.control's
    // default_version at its build): a source's library must be the same to
    // dump the structure there.
    virtual std::string library_version() { return ""; }
    // Whether the server the procedure runs on is still in recovery (a hot
    // standby), read fresh: it changes when the standby is promoted.
    virtual bool in_recovery() { return false; }
    // Test-only fault injection (zodan.fail_at_step): throws when `point` is
    // the one named ("step" before a step's work, "step:after" after it).
    virtual void maybe_fail_at(const std::string & /*point*/) {}
    // Test-only (zodan.pause_at_step): whether to pause at the named step.
    virtual bool pause_requested(const std::string & /*step*/) { return false; }
    // Test-only (zodan.skip_fence): a physical add promotes the standby
    // without its fence, for the test that shows what the fence prevents.
    virtual bool skip_fence() { return false; }
};

}  // namespace zodan
