# The caller's session reads its own catalog (remove_node asks which node it
# is) with its search_path pinned: a database whose search_path puts a
# schema of the owner's before pg_catalog, holding an operator =(oid, oid)
# of its own, cannot make a superuser's call run the owner's code.
# matrix: full suite only
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use Zodan::Mesh;
use Test::More;

my $c = Zodan::Mesh->new(nodes => 1);
my $n1 = $c->node(1);
$c->create_nodes(1);
$n1->sql("CREATE EXTENSION zodan");
my $db = $n1->db;
$n1->sql(<<SQL);
CREATE SCHEMA trap;
CREATE SEQUENCE trap.ran;
CREATE FUNCTION trap.oid_eq(a oid, b oid) RETURNS boolean LANGUAGE plpgsql AS \$\$
BEGIN
  PERFORM pg_catalog.nextval('trap.ran');
  RETURN a OPERATOR(pg_catalog.=) b;
END \$\$;
CREATE OPERATOR trap.= (LEFTARG = oid, RIGHTARG = oid, FUNCTION = trap.oid_eq);
ALTER DATABASE $db SET search_path = trap, pg_catalog;
SQL
is($n1->sql("SELECT count(*) FROM pg_class WHERE oid = 'pg_class'::regclass; SELECT last_value > 1 OR is_called FROM trap.ran"),
    "1\nt", "the trap works: a plain query of the database's sessions runs the owner's operator");
$n1->sql("ALTER SEQUENCE trap.ran RESTART");
my ($rc, $out, $err) = $n1->psql("CALL spock.remove_node('n9', 'host=127.0.0.1 port=1 dbname=nowhere connect_timeout=2')");
note($err);
like($err, qr/n9/, "remove_node ran (it names the node it was asked to remove)");
is($n1->sql("SELECT is_called FROM trap.ran"), 'f', "the owner's operator never ran in the call");
$n1->sql("ALTER DATABASE $db RESET search_path");
$c->done;
