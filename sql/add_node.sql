-- n4 joins meshed n1..n3, which hold rows in the built-in replication sets
-- and in the user-created set inventory_set. Runs on n4.
\set VERBOSITY terse
\getenv n1_dsn N1_DSN
\getenv n2_dsn N2_DSN
\getenv n3_dsn N3_DSN
\getenv n4_dsn N4_DSN

CALL spock.add_node(
    src_node_name := 'n1', src_dsn := :'n1_dsn',
    new_node_name := 'n4', new_node_dsn := :'n4_dsn',
    new_node_location := 'Los Angeles', new_node_country := 'USA',
    new_node_info := '{"rack": "r4"}');

-- The schema and the rows arrived.
SELECT count(*) AS items, sum(qty) AS qty FROM items;
SELECT count(*) AS orders FROM orders;
SELECT count(*) AS audit_rows FROM audit_log;
SELECT node_name, location, country, info FROM spock.node WHERE node_name = 'n4';

-- Every node has its subscriptions replicating, from each of the other three.
SELECT subscription_name, status, provider_node FROM spock.sub_show_status() ORDER BY 1;
\c :n1_dsn
SELECT subscription_name, status FROM spock.sub_show_status() ORDER BY 1;
\c :n2_dsn
SELECT subscription_name, status FROM spock.sub_show_status() ORDER BY 1;
\c :n3_dsn
SELECT subscription_name, status FROM spock.sub_show_status() ORDER BY 1;

-- n4's replication sets and memberships equal n1's.
\c :n1_dsn
SELECT string_agg(format('%s:%s:%s:%s:%s', set_name, replicate_insert, replicate_update,
                         replicate_delete, replicate_truncate), ' ' ORDER BY set_name) AS n1_sets
FROM spock.replication_set WHERE set_nodeid = (SELECT node_id FROM spock.local_node) \gset
SELECT string_agg(set_name || ':' || set_reloid::regclass::text, ' ' ORDER BY set_name, set_reloid::regclass::text) AS n1_members
FROM spock.replication_set_table JOIN spock.replication_set USING (set_id)
WHERE set_nodeid = (SELECT node_id FROM spock.local_node) \gset
\c :n4_dsn
\set VERBOSITY terse
SELECT string_agg(format('%s:%s:%s:%s:%s', set_name, replicate_insert, replicate_update,
                         replicate_delete, replicate_truncate), ' ' ORDER BY set_name) = :'n1_sets' AS same_sets
FROM spock.replication_set WHERE set_nodeid = (SELECT node_id FROM spock.local_node);
SELECT string_agg(set_name || ':' || set_reloid::regclass::text, ' ' ORDER BY set_name, set_reloid::regclass::text) = :'n1_members' AS same_members,
       :'n1_members' AS members
FROM spock.replication_set_table JOIN spock.replication_set USING (set_id)
WHERE set_nodeid = (SELECT node_id FROM spock.local_node);

-- Writes on each node reach the other three.
\c :n1_dsn
INSERT INTO items VALUES (10001, 'from n1', 1);
INSERT INTO orders VALUES (10001, 1, 'from n1');
SELECT spock.sync_event() AS n1_lsn \gset
\c :n2_dsn
INSERT INTO items VALUES (10002, 'from n2', 2);
SELECT spock.sync_event() AS n2_lsn \gset
\c :n3_dsn
INSERT INTO items VALUES (10003, 'from n3', 3);
SELECT spock.sync_event() AS n3_lsn \gset
\c :n4_dsn
INSERT INTO items VALUES (10004, 'from n4', 4);
INSERT INTO orders VALUES (10004, 4, 'from n4');
INSERT INTO audit_log VALUES (10004, 'from n4');
SELECT spock.sync_event() AS n4_lsn \gset
CALL spock.wait_for_sync_event(NULL, 'n1', :'n1_lsn', 30);
CALL spock.wait_for_sync_event(NULL, 'n2', :'n2_lsn', 30);
CALL spock.wait_for_sync_event(NULL, 'n3', :'n3_lsn', 30);
SELECT id, name FROM items WHERE id > 10000 ORDER BY id;
\c :n1_dsn
CALL spock.wait_for_sync_event(NULL, 'n2', :'n2_lsn', 30);
CALL spock.wait_for_sync_event(NULL, 'n3', :'n3_lsn', 30);
CALL spock.wait_for_sync_event(NULL, 'n4', :'n4_lsn', 30);
SELECT id, name FROM items WHERE id > 10000 ORDER BY id;
SELECT id, note FROM orders WHERE id > 10000 ORDER BY id;
SELECT id, msg FROM audit_log WHERE id > 10000 ORDER BY id;
\c :n2_dsn
CALL spock.wait_for_sync_event(NULL, 'n1', :'n1_lsn', 30);
CALL spock.wait_for_sync_event(NULL, 'n3', :'n3_lsn', 30);
CALL spock.wait_for_sync_event(NULL, 'n4', :'n4_lsn', 30);
SELECT id, name FROM items WHERE id > 10000 ORDER BY id;
\c :n3_dsn
CALL spock.wait_for_sync_event(NULL, 'n1', :'n1_lsn', 30);
CALL spock.wait_for_sync_event(NULL, 'n2', :'n2_lsn', 30);
CALL spock.wait_for_sync_event(NULL, 'n4', :'n4_lsn', 30);
SELECT id, name FROM items WHERE id > 10000 ORDER BY id;

-- All four hold the same rows.
SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) AS n3_items FROM items t \gset
\c :n4_dsn
SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) = :'n3_items' AS n4_items_match FROM items t;

-- The journal shows every step done, watchable from any session.
SELECT step_no, step_name, state FROM spock.zodan_add_node_status;
SELECT state, src_dsn LIKE '%password=********%' AS dsn_masked FROM spock.zodan_runs ORDER BY run_id DESC LIMIT 1;

-- The plan as the extension has it, every step of it done; and the run's
-- paths into n4, typed: every existing node's slot, the others' sync
-- events, where the copy left each node's changes, the join window's start.
SELECT step_no, step_name, title FROM spock.zodan_add_node_steps;
SELECT count(*) AS steps_not_done FROM spock.zodan_add_node_steps s
LEFT JOIN spock.zodan_add_node_status j USING (step_no, step_name) WHERE j.state IS DISTINCT FROM 'done';
SELECT node_name, slot_name LIKE 'spk\_%' AS has_slot, sync_lsn IS NOT NULL AS synced,
       copy_lsn IS NOT NULL AS copied, window_from IS NOT NULL AS windowed
FROM spock.zodan_add_node_paths;
