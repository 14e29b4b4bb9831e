-- spock.health_check after the join (run after sql/add_node.sql, on n4):
-- every post-join check passes; a broken subscription fails it and says where;
-- bad input is refused clearly.
\set VERBOSITY terse
\getenv n1_dsn N1_DSN
\getenv n2_dsn N2_DSN
\getenv n4_dsn N4_DSN

CALL spock.health_check('n1', :'n1_dsn', 'n4', :'n4_dsn', 'post');
CALL spock.health_check('n1', :'n1_dsn', 'n4', :'n4_dsn', 'sideways');

-- 'pre' on a node that already joined: its preconditions no longer hold.
CALL spock.health_check('n1', :'n1_dsn', 'n4', :'n4_dsn', 'pre');

-- A disabled subscription makes 'post' fail, naming node and subscription.
\c :n2_dsn
SELECT spock.sub_disable('sub_n4_n2');
\c :n4_dsn
\set VERBOSITY terse
CALL spock.health_check('n1', :'n1_dsn', 'n4', :'n4_dsn', 'post');
\c :n2_dsn
SELECT spock.sub_enable('sub_n4_n2');
-- (wait until the re-enabled subscription delivers again)
\c :n4_dsn
SELECT spock.sync_event() AS n4_lsn \gset
\c :n2_dsn
CALL spock.wait_for_sync_event(NULL, 'n4', :'n4_lsn', 30);

-- Without a new node: is the cluster whole ('post'), could it take one ('pre')?
\c :n4_dsn
\set VERBOSITY terse
CALL spock.health_check('n1', :'n1_dsn', check_type := 'post');
CALL spock.health_check('n1', :'n1_dsn', check_type := 'pre');
CALL spock.health_check('n1', :'n1_dsn', 'n4', NULL, 'post');

-- The same checks as rows (spock.health_check_report): one per check and
-- node, a failed check a row and not an ERROR; bad input still an ERROR.
SELECT node_name, check_name, passed
FROM spock.health_check_report('n1', :'n1_dsn', 'n4', :'n4_dsn', 'post') ORDER BY check_name;
SELECT coalesce(node_name, '-') AS node_name, check_name, message
FROM spock.health_check_report('n1', :'n1_dsn', 'n4', :'n4_dsn', 'pre') WHERE NOT passed ORDER BY check_name;
SELECT count(*) AS checks, count(*) FILTER (WHERE passed) AS passed
FROM spock.health_check_report('n1', :'n1_dsn', check_type := 'post');
SELECT * FROM spock.health_check_report('n1', :'n1_dsn', 'n4', :'n4_dsn', 'sideways');
SELECT * FROM spock.health_check_report('n1', :'n1_dsn', 'n4', NULL, 'post');
