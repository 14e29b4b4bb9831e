// The caller's own statement carries DSNs (CALL spock.add_node('n1',
// 'host=... password=...', ...)), and PostgreSQL writes statements into its
// log in many places: log_statement, the STATEMENT: line after an entry
// (log_min_error_statement), a prepared statement's "parameters:" DETAIL.
// A log hook masks the secrets of any statement in all of them, at every
// level, for the statement's whole life (docs/security.md, "What is
// masked"); while one of our procedures runs, with every secret the call
// has seen, and its final error leaves the statement out. pg_stat_activity
// shows our calls masked.
#pragma once

namespace zodan::pg {

// Installs the log hook and the transaction callback (from _PG_init).
void install_statement_log_guard();
// Marks a procedure call in progress: errors raised during it, ours or
// PostgreSQL's (cancel, timeout, terminate), are logged without the
// statement, and the call's secrets are masked in every entry. A
// transaction abort ends the mark; so does end_call(). It also masks the
// statement shown in pg_stat_activity. C-only data in its frame:
// call it before any C++ object of the entry point exists.
void begin_call();
void end_call();

}  // namespace zodan::pg
