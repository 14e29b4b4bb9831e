-- spock.remove_node of n4 (run after sql/health_check.sql, on n4): every
-- node reports what it removed; n1..n3 stay a whole cluster; a second call
-- finds nothing; bad input is refused.
\set VERBOSITY terse
\getenv n1_dsn N1_DSN
\getenv n4_dsn N4_DSN

CALL spock.remove_node(NULL, :'n4_dsn');
CALL spock.remove_node('n4', :'n4_dsn');

-- A completed member keeps its data when removed.
SELECT count(*) > 0 AS n4_keeps_rows FROM items;
SELECT count(*) AS n4_subscriptions FROM spock.subscription;
SELECT count(*) AS n4_slots FROM pg_replication_slots;

-- The others are a whole three-node cluster again.
CALL spock.health_check('n1', :'n1_dsn', check_type := 'post');

-- Idempotent: nothing left to remove.
CALL spock.remove_node('n4', :'n4_dsn');
CALL spock.remove_node('n4', :'n4_dsn', verbose_mode := false);
