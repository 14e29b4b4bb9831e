-- The two-node case: n2 joins single-node n1. Runs on n2.
\set VERBOSITY terse
\getenv n1_dsn N1_DSN
\getenv n2_dsn N2_DSN

CALL spock.add_node('n1', :'n1_dsn', 'n2', :'n2_dsn');

SELECT count(*) AS items FROM items;
SELECT count(*) AS orders FROM orders;
SELECT subscription_name, status, provider_node FROM spock.sub_show_status() ORDER BY 1;

-- Both directions carry writes.
INSERT INTO items VALUES (20002, 'from n2', 2);
SELECT spock.sync_event() AS n2_lsn \gset
\c :n1_dsn
SELECT subscription_name, status, provider_node FROM spock.sub_show_status() ORDER BY 1;
INSERT INTO items VALUES (20001, 'from n1', 1);
SELECT spock.sync_event() AS n1_lsn \gset
CALL spock.wait_for_sync_event(NULL, 'n2', :'n2_lsn', 30);
SELECT id, name FROM items WHERE id > 20000 ORDER BY id;
\c :n2_dsn
CALL spock.wait_for_sync_event(NULL, 'n1', :'n1_lsn', 30);
SELECT id, name FROM items WHERE id > 20000 ORDER BY id;
SELECT step_no, step_name, state FROM spock.zodan_add_node_status;
