-- zodan 0.3.0 -> 0.4.0
\echo Use "ALTER EXTENSION zodan UPDATE TO '0.4.0'" to load this file. \quit

-- ---------------------------------------------------------------------------
-- Results a script can read (docs/add_node.md, "Results"): one row per call
-- of spock.add_node or spock.remove_node that got past its checks, from the
-- journal of the node it ran on (spock.remove_node journals its steps from
-- 0.4.0 on, operation 'remove_node'). Every figure is read from the steps'
-- outputs, so runs journaled by an earlier version show too.
CREATE VIEW spock.zodan_results AS
SELECT r.run_id,
       r.operation,
       r.new_node_name::text AS node_name,  -- the node added or removed
       r.src_node_name::text AS src_node_name,  -- add: the source; remove: the node it ran on
       r.state AS status,
       -- false: the call found nothing to do (note says why); NULL while it runs
       CASE WHEN r.state = 'running' THEN NULL
            WHEN x.note IS NOT NULL THEN false
            WHEN r.operation = 'remove_node' THEN x.removed OR x.rolled_back
            ELSE x.past_checks END AS changed,
       x.note,
       -- the other members of the cluster, as the run found them
       (SELECT pg_catalog.array_agg(m ORDER BY m)
          FROM pg_catalog.unnest(pg_catalog.string_to_array(x.members, ',')) AS m) AS members,
       r.started_at,
       r.finished_at,
       round(extract(epoch FROM coalesce(r.finished_at, pg_catalog.clock_timestamp()) - r.started_at)::numeric, 3)
           AS seconds,
       x.rows_compared,
       x.failed_step,
       r.error
FROM spock.zodan_runs r
CROSS JOIN LATERAL (
    SELECT max(s.output ->> 'nothing_to_do') AS note,
           max(s.output ->> 'members') FILTER (WHERE s.step_name IN
               ('prepare_other_nodes', 'already_member', 'check_target')) AS members,
           max((s.output ->> 'rows')::bigint) FILTER (WHERE s.step_name = 'verify_data') AS rows_compared,
           max(s.step_name) FILTER (WHERE s.state = 'failed') AS failed_step,
           coalesce(bool_or(s.output -> 'removed' IS NOT NULL AND s.output -> 'removed' <> '{}'::jsonb), false)
               AS removed,
           coalesce(bool_or(s.step_name = 'roll_back_add'), false) AS rolled_back,
           coalesce(bool_or(s.step_name NOT IN ('check_versions', 'check_preconditions')), false) AS past_checks
    FROM spock.zodan_steps s WHERE s.run_id = r.run_id
) x;

COMMENT ON VIEW spock.zodan_results IS
'One row per call of spock.add_node or spock.remove_node journaled on this node: status, whether it changed anything, the other members, seconds, rows compared.';

-- The result of this session's latest call (the row of spock.zodan_results
-- whose run this session started or resumed); no row before any.
CREATE FUNCTION spock.zodan_last_result() RETURNS SETOF spock.zodan_results
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT res.*
    FROM spock.zodan_results res JOIN spock.zodan_runs r ON r.run_id = res.run_id
    WHERE r.backend_pid = pg_catalog.pg_backend_pid()
      AND r.backend_start = (SELECT a.backend_start FROM pg_catalog.pg_stat_activity a
                             WHERE a.pid = pg_catalog.pg_backend_pid())
    ORDER BY r.run_id DESC
    LIMIT 1
$$;

COMMENT ON FUNCTION spock.zodan_last_result() IS
'The result of the latest spock.add_node or spock.remove_node this session ran (a row of spock.zodan_results).';

-- spock.health_check's checks as rows: one per check and node (node_name
-- NULL for a check of the cluster as a whole). A failed check is a row with
-- passed false, not an ERROR; the procedure stays as it was.
CREATE FUNCTION spock.health_check_report(
    src_node_name text,
    src_dsn text,
    new_node_name text DEFAULT NULL,
    new_node_dsn text DEFAULT NULL,
    check_type text DEFAULT 'pre')
RETURNS TABLE (node_name text, check_name text, passed boolean, message text, hint text)
LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'zodan_health_check_report';

COMMENT ON FUNCTION spock.health_check_report(text, text, text, text, text) IS
'The checks of spock.health_check as rows (one per check and node); changes nothing.';

-- Superusers only by default, like the procedures (it connects with the
-- DSNs it is given) and the journal.
REVOKE ALL ON FUNCTION spock.health_check_report(text, text, text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION spock.zodan_last_result() FROM PUBLIC;
REVOKE ALL ON spock.zodan_results FROM PUBLIC;

-- ---------------------------------------------------------------------------
-- The checks a long join needs (docs/add_node.md, "Long joins"): the
-- comparison's progress, as the add's verify_data step last noted it in the
-- journal every zodan.progress_interval (like spock.zodan_copy_progress for
-- the copy). rows_total is what the source's statistics say.
CREATE VIEW spock.zodan_verify_progress AS
SELECT s.run_id, r.state AS run_state, s.state AS verify_state,
       p.source, p.tables_done, p.tables_total, p.rows_done, p.rows_total,
       CASE WHEN p.rows_total > 0 THEN least(100.0, round(100.0 * p.rows_done / p.rows_total, 1)) END AS percent,
       CASE WHEN p.seconds_left >= 0 THEN make_interval(secs => p.seconds_left) END AS time_left,
       s.started_at, s.finished_at
FROM spock.zodan_steps s JOIN spock.zodan_runs r USING (run_id),
     jsonb_to_record(s.output -> 'progress') AS p(source text, tables_done int, tables_total int,
         rows_done bigint, rows_total bigint, seconds_left bigint)
WHERE s.step_name = 'verify_data'
  AND s.run_id = (SELECT max(run_id) FROM spock.zodan_runs WHERE operation = 'add_node');
-- ---------------------------------------------------------------------------
