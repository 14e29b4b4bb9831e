-- zodan 0.3.0 -> 0.4.0
\echo Use "ALTER EXTENSION zodan UPDATE TO '0.4.0'" to load this file. \quit

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
