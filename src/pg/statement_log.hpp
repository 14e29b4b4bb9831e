// The caller's own statement carries DSNs, passwords included
// (CALL spock.add_node('n1', 'host=... password=...', ...)). PostgreSQL logs
// that text with an error (log_min_error_statement), and Spock blanks it only
// for ERROR, not for the FATAL of a terminated caller. While one of our
// procedures runs, an error report leaves the statement out of the log; a
// statement naming one of them is logged with its secrets masked
// (log_statement and the like), and pg_stat_activity shows it masked.
#pragma once

namespace zodan::pg {

// Installs the log hook and the transaction callback (from _PG_init).
void install_statement_log_guard();
// Marks a procedure call in progress: errors raised during it, ours or
// PostgreSQL's (cancel, timeout, terminate), are logged without the
// statement. A transaction abort ends the mark; so does end_call(). It also
// masks the statement shown in pg_stat_activity. C-only data in its frame:
// call it before any C++ object of the entry point exists.
void begin_call();
void end_call();

}  // namespace zodan::pg
