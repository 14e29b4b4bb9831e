-- zodan 0.2.0 -> 0.3.0
\echo Use "ALTER EXTENSION zodan UPDATE TO '0.3.0'" to load this file. \quit

-- zodan.copy_method no longer offers Spock's own sync (a run of 0.2.0 that
-- copied with it is rolled back, not resumed).

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
