-- zodan: zero-downtime add and remove of nodes in a pgEdge Spock cluster.
\echo Use "CREATE EXTENSION zodan" to load this file. \quit

-- The run journal: one row per call of add_node, one per step. Written by
-- the procedure over its own connection to this node, so each row commits
-- at once and another session can watch a run in progress.
CREATE TABLE spock.zodan_runs (
    run_id           bigserial PRIMARY KEY,
    operation        text NOT NULL,
    src_node_name    name,
    new_node_name    name,
    src_dsn          text,          -- password masked
    new_node_dsn     text,          -- password masked
    args_fingerprint text NOT NULL, -- node names and masked DSNs: recognises a retry (no secret)
    state            text NOT NULL CHECK (state IN ('running', 'done', 'failed', 'rolled_back')),
    backend_pid      int,           -- the caller's process, for messages (liveness: the join lock, see docs)
    backend_start    timestamptz,
    started_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at      timestamptz,
    error            text
);
REVOKE ALL ON spock.zodan_runs FROM PUBLIC;

-- A step is known by its name: a later version may add steps without an
-- older journal resuming at the wrong one. step_no is where it shows.
CREATE TABLE spock.zodan_steps (
    run_id      bigint NOT NULL REFERENCES spock.zodan_runs ON DELETE CASCADE,
    step_no     int NOT NULL,
    step_name   text NOT NULL,
    state       text NOT NULL CHECK (state IN ('running', 'done', 'failed')),
    started_at  timestamptz,
    finished_at timestamptz,
    output      jsonb,
    error       text,
    PRIMARY KEY (run_id, step_name)
);

-- Steps of the current or latest add_node run on this node (no secrets).
CREATE VIEW spock.zodan_add_node_status AS
SELECT s.run_id, r.state AS run_state, s.step_no, s.step_name, s.state, s.started_at, s.finished_at,
       s.finished_at - s.started_at AS duration, s.output, s.error
FROM spock.zodan_steps s JOIN spock.zodan_runs r USING (run_id)
WHERE s.run_id = (SELECT max(run_id) FROM spock.zodan_runs WHERE operation = 'add_node')
ORDER BY s.step_no;

-- The initial copy of the current or latest add_node run on this node, as
-- last sampled (every zodan.progress_interval; nothing for a short copy).
CREATE VIEW spock.zodan_copy_progress AS
SELECT s.run_id, r.state AS run_state, s.state AS copy_state,
       p.source, p.tables_done, p.tables_total, p.bytes_done, p.bytes_total,
       coalesce(p.percent, CASE WHEN p.bytes_total > 0 THEN round(100.0 * p.bytes_done / p.bytes_total, 1) END)
           AS percent,
       p.bytes_per_second,
       CASE WHEN p.seconds_left >= 0 THEN make_interval(secs => p.seconds_left) END AS time_left,
       s.started_at, s.finished_at
FROM spock.zodan_steps s JOIN spock.zodan_runs r USING (run_id),
     jsonb_to_record(s.output -> 'progress') AS p(source text, tables_done int, tables_total int,
         bytes_done bigint, bytes_total bigint, percent numeric, bytes_per_second bigint, seconds_left bigint)
WHERE s.step_name = 'copy_source'
  AND s.run_id = (SELECT max(run_id) FROM spock.zodan_runs WHERE operation = 'add_node');

CREATE PROCEDURE spock.add_node(
    src_node_name text,
    src_dsn text,
    new_node_name text,
    new_node_dsn text,
    verb boolean DEFAULT false,
    new_node_location text DEFAULT 'NY',
    new_node_country text DEFAULT 'USA',
    new_node_info jsonb DEFAULT '{}')
LANGUAGE c AS 'MODULE_PATHNAME', 'zodan_add_node';

COMMENT ON PROCEDURE spock.add_node(text, text, text, text, boolean, text, text, jsonb) IS
'Add a node to a running Spock cluster with zero downtime; call it on the new node.';

CREATE PROCEDURE spock.health_check(
    src_node_name text,
    src_dsn text,
    new_node_name text DEFAULT NULL,
    new_node_dsn text DEFAULT NULL,
    check_type text DEFAULT 'pre',
    verb boolean DEFAULT false)
LANGUAGE c AS 'MODULE_PATHNAME', 'zodan_health_check';

COMMENT ON PROCEDURE spock.health_check(text, text, text, text, text, boolean) IS
'Check the preconditions of spock.add_node (pre) or the cluster after it (post); changes nothing.';

CREATE PROCEDURE spock.remove_node(
    target_node_name text,
    target_node_dsn text,
    verbose_mode boolean DEFAULT true,
    force boolean DEFAULT false)
LANGUAGE c AS 'MODULE_PATHNAME', 'zodan_remove_node';

COMMENT ON PROCEDURE spock.remove_node(text, text, boolean, boolean) IS
'Remove a node from the cluster, or roll back a failed add_node of it; runs on any member, even with the target down. force: roll back even a node written to since its copy.';

-- Only superusers by default: each procedure connects to every node with the
-- DSNs it is given. A role granted EXECUTE must put a password into every
-- DSN that the node actually checks (see docs/security.md).
REVOKE ALL ON PROCEDURE spock.add_node(text, text, text, text, boolean, text, text, jsonb) FROM PUBLIC;
REVOKE ALL ON PROCEDURE spock.health_check(text, text, text, text, text, boolean) FROM PUBLIC;
REVOKE ALL ON PROCEDURE spock.remove_node(text, text, boolean, boolean) FROM PUBLIC;

-- Used by spock.add_node on the new node (docs/protocol.md, "Late
-- conflicts"): rewrites the rows of the join window, one transaction per
-- element of origins/stamps, each committed with that origin (a Spock node
-- id) and commit timestamp, as Spock's apply commits a transaction of that
-- node. Entry i runs statements[entry_table[i]] (an UPDATE reading its keys
-- from $1) with entry_keys[i] in transaction entry_xact[i] (ascending). In a
-- session with a replication origin set up, outside a transaction block.
CREATE PROCEDURE spock.zodan_restamp(
    statements text[],
    origins oid[],
    stamps timestamptz[],
    entry_xact int[],
    entry_table int[],
    entry_keys jsonb[],
    INOUT rewritten bigint DEFAULT NULL)
LANGUAGE c AS 'MODULE_PATHNAME', 'zodan_restamp';
REVOKE ALL ON PROCEDURE spock.zodan_restamp(text[], oid[], timestamptz[], int[], int[], jsonb[], bigint) FROM PUBLIC;

-- The steps of spock.add_node, in order, as the installed library has them
-- (scripts and the test harness read them here instead of keeping a list).
CREATE FUNCTION spock.zodan_plan_json() RETURNS text
LANGUAGE c STRICT IMMUTABLE AS 'MODULE_PATHNAME', 'zodan_plan_json';
CREATE VIEW spock.zodan_add_node_steps AS
SELECT (s.n - 1)::int AS step_no, s.step ->> 'name' AS step_name, s.step ->> 'title' AS title
FROM jsonb_array_elements(spock.zodan_plan_json()::jsonb) WITH ORDINALITY AS s(step, n);

-- The paths into the new node of the current or latest add_node run on
-- this node, one row per existing node, typed: the slot on that node, its
-- sync event applied on the source before the copy (NULL for the source),
-- where the copy left its changes (the source: where sub_S_N starts), and
-- the start of the join window. Runs begun before 0.3.0 show none.
CREATE VIEW spock.zodan_add_node_paths AS
SELECT r.run_id, r.state AS run_state, p.key AS node_name, p.value ->> 'slot' AS slot_name,
       (p.value ->> 'sync_lsn')::pg_lsn AS sync_lsn,
       CASE WHEN p.key = r.src_node_name THEN (c.output ->> 'consistent_point')::pg_lsn
            ELSE (c.output -> 'positions' ->> p.key)::pg_lsn END AS copy_lsn,
       (s.output -> 'window_from' ->> p.key)::timestamptz AS window_from
FROM spock.zodan_runs r
JOIN spock.zodan_steps s ON s.run_id = r.run_id AND s.step_name = 'prepare_other_nodes'
CROSS JOIN LATERAL jsonb_each(s.output -> 'paths') AS p
LEFT JOIN spock.zodan_steps c ON c.run_id = r.run_id AND c.step_name = 'copy_source'
WHERE r.run_id = (SELECT max(run_id) FROM spock.zodan_runs WHERE operation = 'add_node')
ORDER BY p.key;
