-- Every precondition of spock.add_node fails with its own clear error and
-- changes nothing. Runs on n4 (bare, zodan installed); n1..n3 are meshed.
\set VERBOSITY terse
\getenv n1_dsn N1_DSN
\getenv n2_dsn N2_DSN
\getenv n3_dsn N3_DSN
\getenv n4_dsn N4_DSN
\getenv n4_port N4_PORT

-- Arguments must be given.
CALL spock.add_node(NULL, :'n1_dsn', 'n4', :'n4_dsn');
CALL spock.add_node('n1', :'n1_dsn', 'n1', :'n4_dsn');

-- Errors name their cause, and their SQLSTATE says what kind it is.
-- A node name longer than Spock's names (63 bytes) is refused as a bad
-- argument (22023) before any connection is opened: the name would
-- otherwise reach the nodes in application_name.
CALL spock.add_node('n1', :'n1_dsn', repeat('x', 10240), :'n4_dsn');
\echo :LAST_ERROR_SQLSTATE
CALL spock.add_node(repeat('y', 64), :'n1_dsn', 'n4', :'n4_dsn');
\echo :LAST_ERROR_SQLSTATE
CALL spock.health_check(repeat('z', 10240), :'n1_dsn', 'n4', :'n4_dsn', 'pre');
\echo :LAST_ERROR_SQLSTATE
CALL spock.remove_node(repeat('w', 10240), :'n4_dsn');
\echo :LAST_ERROR_SQLSTATE
-- A role that is not a superuser may not make this server use credentials
-- of its own: insufficient privilege (42501), before any connection.
CREATE ROLE zodan_granted NOLOGIN;
GRANT USAGE ON SCHEMA spock TO zodan_granted;
GRANT EXECUTE ON PROCEDURE spock.health_check(text, text, text, text, text, boolean) TO zodan_granted;
SELECT regexp_replace(:'n1_dsn', 'password=\S+', '') AS n1_dsn_no_password \gset
SET ROLE zodan_granted;
CALL spock.health_check('n1', :'n1_dsn_no_password' || ' passfile=/nonexistent/pgpass');
\echo :LAST_ERROR_SQLSTATE
CALL spock.health_check('n1', :'n1_dsn_no_password');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
DROP OWNED BY zodan_granted;
DROP ROLE zodan_granted;

-- Not inside a transaction that already wrote: the other nodes' slot
-- creation on this node would wait for it.
BEGIN;
CREATE TEMP TABLE scratch (x int);
CALL spock.add_node('n1', :'n1_dsn', 'n4', :'n4_dsn');
ROLLBACK;

-- A node name Spock would refuse half-way (in sub_create) is refused
-- before anything changes; nothing of it is left anywhere.
CALL spock.add_node('n1', :'n1_dsn', 'N-4', :'n4_dsn');
SELECT count(*) AS local_nodes FROM spock.local_node;

-- A DSN must name its database.
CALL spock.add_node('n1', :'n1_dsn', 'n4', 'host=127.0.0.1 port=' || :'n4_port' || ' user=pgedge');
SELECT format('host=127.0.0.1 port=%s user=pgedge', :'n4_port') AS no_db_dsn \gset
CALL spock.add_node('n1', :'n1_dsn', 'n4', :'no_db_dsn');

-- A wrong password fails on connecting, and the error never shows a password.
SELECT regexp_replace(:'n1_dsn', 'password=\S+', 'password=WrongSecret99') AS bad_dsn \gset
CALL spock.add_node('n1', :'bad_dsn', 'n4', :'n4_dsn');
SET zodan_test.bad_dsn = :'bad_dsn';
SET zodan_test.n4_dsn = :'n4_dsn';
DO $$
DECLARE msg text; det text; hint text;
BEGIN
    CALL spock.add_node('n1', current_setting('zodan_test.bad_dsn'), 'n4', current_setting('zodan_test.n4_dsn'));
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
    RAISE NOTICE 'password shown: %, masked DSN in detail: %',
        (msg || det || hint) LIKE '%WrongSecret99%', det LIKE '%password=********%';
END $$;

-- Not on the new node: n1 calls it with n4's DSN.
\c :n1_dsn
CREATE EXTENSION zodan;
\set VERBOSITY terse
CALL spock.add_node('n1', :'n1_dsn', 'n4', :'n4_dsn');
DROP EXTENSION zodan;
\c :n4_dsn
\set VERBOSITY terse

-- The new node's name is taken.
CALL spock.add_node('n1', :'n1_dsn', 'n2', :'n4_dsn');

-- A user table on the new node.
CREATE TABLE public.leftover (id int);
CALL spock.add_node('n1', :'n1_dsn', 'n4', :'n4_dsn');
DROP TABLE public.leftover;

-- A login role of the source missing on the new node.
\c :n1_dsn
CREATE ROLE zodan_alice LOGIN;
\c :n4_dsn
\set VERBOSITY terse
CALL spock.add_node('n1', :'n1_dsn', 'n4', :'n4_dsn');
\c :n1_dsn
DROP ROLE zodan_alice;
\c :n4_dsn
\set VERBOSITY terse

-- Spock major.minor differs on the new node.
SELECT extversion AS spock_version FROM pg_extension WHERE extname = 'spock' \gset
UPDATE pg_extension SET extversion = '9.9.0' WHERE extname = 'spock';
CALL spock.add_node('n1', :'n1_dsn', 'n4', :'n4_dsn');
UPDATE pg_extension SET extversion = :'spock_version' WHERE extname = 'spock';

-- A disabled subscription in the cluster.
\c :n2_dsn
SELECT spock.sub_disable('sub_n3_n2');
\c :n4_dsn
\set VERBOSITY terse
CALL spock.add_node('n1', :'n1_dsn', 'n4', :'n4_dsn');
\c :n2_dsn
SELECT spock.sub_enable('sub_n3_n2');
\c :n4_dsn
\set VERBOSITY terse

-- Nothing above changed the new node.
SELECT count(*) AS local_nodes FROM spock.local_node;
SELECT count(*) AS subscriptions FROM spock.subscription;
SELECT count(*) AS replication_sets FROM spock.replication_set;

-- With everything restored, the 'pre' checks all pass.
CALL spock.health_check('n1', :'n1_dsn', 'n4', :'n4_dsn', 'pre');
