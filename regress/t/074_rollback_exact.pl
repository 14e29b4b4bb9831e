# A rollback drops exactly what the copy brought. n4 holds a view, a
# sequence, a function, a type and a schema of its own (allowed: only
# tables are refused); n1 has a function, a type, a domain and a schema with
# a view that the copy brings along. The add stops after the copy,
# remove_node rolls it back: n4's own objects stay, the copied ones are gone.
# matrix: full suite only
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use Zodan::Mesh;
use Test::More;
use Time::HiRes qw(time);

my $c = Zodan::Mesh->new(nodes => 4);
$c->inventory(3);
my ($n1, $n4) = ($c->node(1), $c->node(4));
$n1->sql(<<'SQL');
CREATE TYPE public.item_state AS ENUM ('new', 'sold');
CREATE FUNCTION public.item_label(i int) RETURNS text LANGUAGE sql AS $$ SELECT 'item ' || i $$;
CREATE DOMAIN public.qty AS int CHECK (VALUE >= 0);
CREATE SCHEMA reports;
CREATE VIEW reports.stock AS SELECT id, qty FROM public.items;
SQL
$n4->sql(<<'SQL');
CREATE EXTENSION zodan;
CREATE SEQUENCE public.my_seq;
CREATE VIEW public.my_view AS SELECT 1 AS one;
CREATE FUNCTION public.my_fn() RETURNS int LANGUAGE sql AS $$ SELECT 4 $$;
CREATE TYPE public.my_type AS ENUM ('a', 'b');
CREATE SCHEMA mine;
SQL

sub n4_objects {
    return $n4->sql(<<'SQL');
SELECT string_agg(x, ' ' ORDER BY x) FROM (
  SELECT 'rel:' || n.nspname || '.' || c.relname AS x FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname IN ('public', 'reports', 'mine') AND c.relkind IN ('r', 'v', 'S', 'm', 'f')
  UNION ALL SELECT 'fn:' || p.proname FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace
  UNION ALL SELECT 'type:' || t.typname FROM pg_type t WHERE t.typnamespace = 'public'::regnamespace
    AND t.typtype IN ('e', 'd')
  UNION ALL SELECT 'schema:' || nspname FROM pg_namespace WHERE nspname IN ('reports', 'mine')) o
SQL
}
my $before = n4_objects();
my ($rc, $out, $err) = $n4->psql("SET zodan.fail_at_step = 'advance_slots';\n"
      . "CALL spock.add_node('n1', \$1, 'n4', \$2, new_node_location := NULL, new_node_country := NULL)",
    $n1->dsn, $n4->dsn);
like($err, qr/injected failure at "advance_slots"/, "the add stops after the copy");
is($n4->sql("SELECT coalesce(location, '<null>') || ' ' || coalesce(country, '<null>') FROM spock.node WHERE node_name = 'n4'"),
    '<null> <null>', "a NULL location and country stay NULL");
my %copied = map { $_ => 1 } split ' ', n4_objects();
ok((!grep { !$copied{$_} } qw(fn:item_label type:item_state type:qty schema:reports rel:reports.stock rel:public.items)),
    "the copy brought n1's function, type, domain, schema, view and tables")
  or diag("n4 holds: " . join(' ', sort keys %copied));
($rc, $out, $err) = $n4->psql("CALL spock.remove_node('n4', \$1)", $n4->dsn);
is($rc, 0, "remove_node rolls the add back") or diag($err);
is(n4_objects(), $before, "n4 holds exactly what it held before the add");

# A run that failed after its copy, on a node since written to: a user's
# table made after the copy stays, and rows written on n4 itself make the
# rollback refuse (they would go with the copied tables) unless forced.
($rc, $out, $err) = $n4->psql("SET zodan.fail_at_step = 'mirror_replication_sets';\nCALL spock.add_node('n1', \$1, 'n4', \$2)",
    $n1->dsn, $n4->dsn);
like($err, qr/injected failure at "mirror_replication_sets"/, "a second add stops after its copy");
$n4->sql("CREATE TABLE public.made_after (id int); INSERT INTO public.items VALUES (888001, 'written on n4', 1)");
($rc, $out, $err) = $n4->psql("CALL spock.remove_node('n4', \$1)", $n4->dsn);
like($err, qr/node "n4" has been written to since its copy: public\.items hold\(s\) rows written on it, not by the copy/,
    "remove_node refuses to roll back a node written to since its copy, naming the table");
is($n4->sql("SELECT count(*) FROM public.items WHERE id = 888001"), '1', "and changed nothing: the row is there");
($rc, $out, $err) = $n4->psql("CALL spock.remove_node('n4', \$1, force => true)", $n4->dsn);
is($rc, 0, "with force it rolls back") or diag($err);
is($n4->sql("SELECT to_regclass('public.made_after') IS NOT NULL"), 't', "the user's table made after the copy stays");
is($n4->sql("SELECT to_regclass('public.items') IS NULL"), 't', "the copied tables are gone");
$n4->sql("DROP TABLE public.made_after");

# A cancel while the copy runs, then the rollback: it completes promptly,
# and n4 holds what it held before.
$n1->sql("CREATE TABLE public.big (id int PRIMARY KEY, pad text); SELECT spock.repset_add_table('default', 'public.big');
           INSERT INTO public.big SELECT g, repeat('x', 200) FROM generate_series(1, 400000) g");
$before = n4_objects();
{
    my $f = $n4->background(Zodan::Node::bind_params("CALL spock.add_node('n1', \$1, 'n4', \$2)", $n1->dsn, $n4->dsn),
        app => 'zodan_cancel_me');
    # Cancelled while rows stream into n4.
    $n4->poll("SELECT count(*) > 0 FROM pg_stat_progress_copy", 't', 120, "the copy is running");
    $n4->sql("SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'zodan_cancel_me'");
    $f->finish(30);
    my $t0 = time;
    ($rc, $out, $err) = $n4->psql("CALL spock.remove_node('n4', \$1)", $n4->dsn, { timeout => 120 });
    is($rc, 0, "after a cancel, the rollback of the copy completes") or diag($err);
    cmp_ok(time - $t0, '<', 30, "promptly (" . int(time - $t0) . " s)");
    is(n4_objects(), $before, "and n4 holds what it held before");
}
$c->done;
