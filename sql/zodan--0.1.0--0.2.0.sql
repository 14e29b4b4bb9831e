-- zodan 0.1.0 -> 0.2.0
\echo Use "ALTER EXTENSION zodan UPDATE TO '0.2.0'" to load this file. \quit

-- Steps are known by name: an unfinished 0.1.0 run resumes at the step it
-- stopped in, whatever steps 0.2.0 adds (its rows already carry the names).
ALTER TABLE spock.zodan_steps DROP CONSTRAINT zodan_steps_pkey;
ALTER TABLE spock.zodan_steps ADD PRIMARY KEY (run_id, step_name);

-- The copy's progress may carry its own percentage (the product's own copy
-- streams bytes that are not the tables' sizes).
CREATE OR REPLACE VIEW spock.zodan_copy_progress AS
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

-- remove_node takes force.
DROP PROCEDURE spock.remove_node(text, text, boolean);
CREATE PROCEDURE spock.remove_node(
    target_node_name text,
    target_node_dsn text,
    verbose_mode boolean DEFAULT true,
    force boolean DEFAULT false)
LANGUAGE c AS 'MODULE_PATHNAME', 'zodan_remove_node';
COMMENT ON PROCEDURE spock.remove_node(text, text, boolean, boolean) IS
'Remove a node from the cluster, or roll back a failed add_node of it; runs on any member, even with the target down. force: roll back even a node written to since its copy.';
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
