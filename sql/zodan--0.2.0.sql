-- zodan: zero-downtime add and remove of nodes in a pgEdge Spock cluster.
\echo Use "CREATE EXTENSION zodan" to load this file. \quit

-- Before anything is created: the published PL/pgSQL scripts (zodan.sql and
-- zodremove.sql of Spock's samples/Z0DAN, loaded with \i) define
-- procedures of the same names in schema spock. Left in place, they make
-- this script fail half-way ("already exists") or every later CALL
-- ambiguous ("is not unique"); so refuse first, naming what is there and
-- giving the one statement that drops it (docs/operator-add.md, "Moving from
-- the published scripts"). What belongs to an extension is not theirs.
DO $zodan_coexist$
DECLARE
    clash text;
    leftovers text;
    others int;
BEGIN
    WITH script AS (
        SELECT p.oid, p.proname,
               pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(p.proname) || '(' ||
                   pg_catalog.pg_get_function_identity_arguments(p.oid) || ')' AS signature,
               p.proname IN ('add_node', 'remove_node', 'health_check') AS clashes
        FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'spock'
          AND p.proname IN (
            -- Every routine that zodan.sql and zodremove.sql of Spock 5.0.9,
            -- 5.0.11 and 6.0 create.
            'add_node', 'remove_node', 'health_check',
            'check_commit_timestamp_and_advance_slot', 'check_node_exists', 'check_repset_exists_on_node',
            'check_slot_exists_on_node', 'check_spock_version_compatibility',
            'create_disable_subscriptions_and_slots', 'create_new_to_source_subscription', 'create_node',
            'create_nodes_only', 'create_replication_slot', 'create_replication_slots',
            'create_source_to_new_subscription', 'create_sub', 'create_sub_on_new_node_to_src_node',
            'enable_disabled_subscriptions', 'enable_sub', 'extract_dbname_from_dsn', 'finalize_node_removal',
            'gather_cluster_info_for_removal', 'gen_sub_name', 'get_node_slots', 'get_spock_nodes',
            'monitor_lag_with_dblink', 'monitor_replication_lag', 'node_repset_list',
            'present_final_cluster_state', 'remove_node_from_cluster_registry', 'remove_node_replication_sets',
            'remove_node_subscriptions', 'repset_diff', 'show_all_nodes', 'show_all_subscription_status',
            'sync_event', 'sync_repsets_from_source', 'sync_timeout', 'trigger_source_sync_and_wait_on_new_node',
            'trigger_sync_on_other_nodes_and_wait_on_source', 'validate_node_removal_prerequisites',
            'verify_node_prerequisites', 'verify_subscription_replicating', 'version_major_minor',
            'version_to_array', 'wait_for_replication_catchup_with_dblink')
          -- Spock's own functions (spock.sync_event(), ...) are its members.
          AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                          WHERE d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND d.objid = p.oid
                            AND d.deptype = 'e'))
    SELECT pg_catalog.string_agg(signature, ', ' ORDER BY proname, oid) FILTER (WHERE clashes),
           pg_catalog.string_agg(signature, ', ' ORDER BY NOT clashes, proname, oid),
           pg_catalog.count(*) FILTER (WHERE NOT clashes)
    INTO clash, leftovers, others
    FROM script;

    IF clash IS NOT NULL THEN
        RAISE EXCEPTION 'the procedures of the published zodan scripts are installed: %', clash
            USING ERRCODE = 'duplicate_function',
                  DETAIL = 'Loading zodan.sql or zodremove.sql (Spock''s samples/Z0DAN) with \i created them, '
                           'with ' || others || ' other routines of those scripts; the extension defines '
                           'spock.add_node, spock.remove_node and spock.health_check itself. Nothing was created.',
                  HINT = 'Drop what the scripts created, then CREATE EXTENSION zodan again: DROP ROUTINE '
                         || leftovers || ';';
    END IF;
END
$zodan_coexist$;

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
