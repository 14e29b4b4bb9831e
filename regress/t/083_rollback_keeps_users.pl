# A rollback drops what the copy made and nothing a user made. The add
# stops after its copy; a user then makes a table in a schema the copy
# brought (app.user_notes), a view over a copied table, a trigger on a
# copied table, and a table and a function of their own in public.
# remove_node refuses, naming what depends on the copy's objects, and
# changes nothing; with force it drops those too and says so; the user's
# own table and function, and what n4 held before the add (a sequence, a
# type, a function, a view and a schema: a new node holds no table), stay. A clean
# rollback (nothing of the user's depends on the copy) drops exactly what
# the copy made.
# matrix: full suite only
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use Zodan::Mesh;
use Test::More;

my $c = Zodan::Mesh->new(nodes => 4);
$c->inventory(3);
my ($n1, $n2, $n4) = ($c->node(1), $c->node(2), $c->node(4));
$n1->sql(<<'SQL');
CREATE SCHEMA app;
CREATE TABLE app.archive (id int PRIMARY KEY, note text);
CREATE TYPE public.item_state AS ENUM ('new', 'sold');
CREATE VIEW app.stock AS SELECT id, qty FROM public.items;
-- What takes a rollback more than one pass without CASCADE: tables that
-- reference each other, a materialized view between two views, a function
-- of a table's row type, a default calling a function.
CREATE TABLE app.a (id int PRIMARY KEY, b_id int);
CREATE TABLE app.b (id int PRIMARY KEY, a_id int REFERENCES app.a);
ALTER TABLE app.a ADD FOREIGN KEY (b_id) REFERENCES app.b;
CREATE MATERIALIZED VIEW app.stock_mv AS SELECT * FROM app.stock;
CREATE VIEW app.low_stock AS SELECT * FROM app.stock_mv WHERE qty < 3;
CREATE FUNCTION app.first_archived() RETURNS app.archive LANGUAGE sql AS $$ SELECT * FROM app.archive LIMIT 1 $$;
CREATE FUNCTION app.next_id() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;
CREATE TABLE app.labels (id int PRIMARY KEY DEFAULT app.next_id(), state public.item_state);
SQL
$n4->sql(<<'SQL');
CREATE EXTENSION zodan;
CREATE SEQUENCE public.my_seq;
SELECT setval('public.my_seq', 42);
CREATE TYPE public.my_type AS ENUM ('a', 'b');
CREATE FUNCTION public.my_fn() RETURNS int LANGUAGE sql AS $$ SELECT 4 $$;
CREATE VIEW public.my_view AS SELECT public.my_fn() AS four, 'a'::public.my_type AS t;
CREATE SCHEMA mine;
SQL

# Every user object of n4 (relations with their kind, routines, types,
# schemas, triggers, constraints), outside Spock's schema.
sub n4_objects {
    return sort split ' ', $n4->sql(<<'SQL');
SELECT string_agg(x, ' ' ORDER BY x) FROM (
  SELECT 'rel:' || n.nspname || '.' || c.relname || ':' || c.relkind::text AS x FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname IN ('public', 'app', 'mine')
  UNION ALL SELECT 'fn:' || n.nspname || '.' || p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname IN ('public', 'app', 'mine')
  UNION ALL SELECT 'type:' || n.nspname || '.' || t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
    WHERE n.nspname IN ('public', 'app', 'mine') AND t.typtype IN ('e', 'd')
  UNION ALL SELECT 'schema:' || nspname FROM pg_namespace WHERE nspname IN ('app', 'mine')
  UNION ALL SELECT 'trigger:' || t.tgname || '@' || c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname IN ('public', 'app', 'mine') AND NOT t.tgisinternal
  UNION ALL SELECT 'constraint:' || o.conname || '@' || c.relname FROM pg_constraint o JOIN pg_class c ON c.oid = o.conrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname IN ('public', 'app', 'mine')) o
SQL
}
# What ties n4 to the cluster (its subscriptions, the members' slots and node records for it).
sub ties {
    return join ' ', $n4->sql("SELECT count(*) FROM spock.subscription"),
      $n4->sql("SELECT count(*) FROM spock.node"),
      $n2->sql("SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE '%n4%'"),
      $n2->sql("SELECT count(*) FROM spock.node WHERE node_name = 'n4'");
}

my @before = n4_objects();
my ($rc, $out, $err) = $n4->psql("SET zodan.fail_at_step = 'advance_slots';\nCALL spock.add_node('n1', \$1, 'n4', \$2)",
    $n1->dsn, $n4->dsn);
like($err, qr/injected failure at "advance_slots"/, "the add stops after the copy");
my %copied = map { $_ => 1 } n4_objects();
ok((!grep { !$copied{$_} } qw(schema:app rel:app.archive:r rel:app.stock:v rel:app.stock_mv:m rel:app.a:r rel:app.b:r
                                fn:app.first_archived rel:public.items:r type:public.item_state)),
    "the copy brought n1's schema, tables, views, functions and type")
  or diag("n4 holds: " . join(' ', sort keys %copied));

# A user works on the new node meanwhile.
$n4->sql(<<'SQL');
CREATE TABLE app.user_notes (id int PRIMARY KEY, body text);
INSERT INTO app.user_notes VALUES (1, 'a note of the user');
CREATE VIEW public.items_summary AS SELECT count(*) AS n FROM public.items;
CREATE FUNCTION public.user_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER user_audit BEFORE UPDATE ON public.items FOR EACH ROW EXECUTE FUNCTION public.user_audit();
CREATE TABLE public.made_after (id int PRIMARY KEY);
SQL
my @with_users = n4_objects();
my $ties = ties();

($rc, $out, $err) = $n4->psql("CALL spock.remove_node('n4', \$1)", $n4->dsn);
isnt($rc, 0, "remove_node refuses the rollback by default");
like($err, qr/node "n4" holds objects not made by its copy that depend on what the copy made: /,
    "saying that objects not made by the copy depend on it");
like($err, qr/\btable app\.user_notes\b/, "naming the user's table in the copied schema");
like($err, qr/\bview public\.items_summary\b/, "naming the user's view over a copied table");
like($err, qr/\btrigger user_audit on table public\.items\b/, "naming the user's trigger on a copied table");
unlike($err, qr/made_after|function public\.user_audit/, "and nothing that does not depend on the copy");
is(join(' ', n4_objects()), join(' ', @with_users), "and changed nothing on n4");
is(ties(), $ties, "nor anything of n4's membership, there or on the members");
is($n4->sql("SELECT body FROM app.user_notes"), 'a note of the user', "the user's rows are there");

($rc, $out, $err) = $n4->psql("CALL spock.remove_node('n4', \$1, force => true)", $n4->dsn);
is($rc, 0, "with force it rolls back") or diag($err);
like($err, qr/WARNING:  force: node n4 lost objects not made by its copy, which depended on what it made: .*table app\.user_notes/,
    "saying what force dropped that the copy did not make");
like($err, qr/force: .*view public\.items_summary/, "the view among them");
like($err, qr/force: .*trigger user_audit on table public\.items/, "and the trigger");
unlike($err, qr/CASCADE/, "no drop cascades");
my @kept = grep { /made_after|^fn:public\.user_audit$/ } @with_users;
is(join(' ', n4_objects()), join(' ', sort(@before, @kept)),
    "n4 holds what it held before the add, and the user's own table and function");
is($n4->sql("SELECT last_value FROM public.my_seq"), '42', "its own sequence untouched");

# (A new node holds no user table: the user's own goes before the next add.)
$n4->sql("DROP TABLE public.made_after");

# A clean rollback: nothing of the user's depends on the copy.
@before = n4_objects();
($rc, $out, $err) = $n4->psql("SET zodan.fail_at_step = 'advance_slots';\nCALL spock.add_node('n1', \$1, 'n4', \$2)",
    $n1->dsn, $n4->dsn);
like($err, qr/injected failure at "advance_slots"/, "a second add stops after its copy");
$n4->sql("CREATE TABLE public.made_after_2 (id int, item_id int); INSERT INTO public.made_after_2 VALUES (1, 1)");
($rc, $out, $err) = $n4->psql("CALL spock.remove_node('n4', \$1)", $n4->dsn);
is($rc, 0, "remove_node rolls it back without force") or diag($err);
like($err, qr/node n4: .*dropped table public\.items\b/, "saying what it dropped: the copied tables");
like($err, qr/node n4: .*dropped schema app\b/, "and the copied schema");
unlike($err, qr/WARNING:  force/, "nothing but the copy's");
is(join(' ', n4_objects()), join(' ', sort(@before, 'rel:public.made_after_2:r')),
    "n4 holds exactly what it held before the add, and the table made since");
is($n4->sql("SELECT count(*) FROM public.made_after_2"), '1', "with its rows");
$c->done;
