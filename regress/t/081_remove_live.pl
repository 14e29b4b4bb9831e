# remove_node of a live node loses nothing it committed. n1..n4 meshed under
# counting writes; n2's writer stops, n2 commits a 50,000-row transaction,
# and as soon as the commit is acknowledged n1 removes n2. remove_node
# waits until n1, n3 and n4 have applied everything n2 committed before any
# of their subscriptions from n2 goes: each of them holds all 50,000 rows,
# the checker finds every write n2 acknowledged exactly once on each, and
# they hold identical tables. (Without the wait none of them got the rows:
# their subscriptions were dropped while they applied them.)
# matrix: full suite only
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use Zodan::Mesh;
use Zodan::Load;
use Test::More;
use Time::HiRes qw(time);

my $c = Zodan::Mesh->new(nodes => 4);
$c->inventory(4);
my ($n1, $n2) = ($c->node(1), $c->node(2));
$c->node($_)->sql("CREATE TABLE public.bulk (id int PRIMARY KEY, v text);
                   SELECT spock.repset_add_table('default', 'public.bulk')") for 1 .. 4;
$n1->sql("CREATE EXTENSION zodan");

my $survivors = Zodan::Load->start($c, nodes => [ 1, 3, 4 ], tps => 50);
my $leaving = Zodan::Load->start($c, nodes => [2], tps => 50);
sleep 1;
$leaving->stop;    # what n2 acknowledged is known from here on
$n2->sql("INSERT INTO public.bulk SELECT g, 'row ' || g FROM generate_series(1, 50000) g");
my $t0 = time;
my ($rc, $out, $err) = $n1->psql("CALL spock.remove_node('n2', \$1)", $n2->dsn);
my $took = time - $t0;
is($rc, 0, "remove_node of n2, called from n1 right after n2's commit, succeeds") or diag($err);
note sprintf("remove_node took %.0f ms", $took * 1000);
note($err);
like($err, qr/NOTICE:  remove_node: waited until n1, n3, n4 had applied everything node n2 committed before the remove/,
    "it says what it waited for");
unlike($err, qr/WARNING/, "and warns of nothing: n2 took no writes during the remove");
sleep 1;    # the survivors go on writing among themselves
$survivors->stop;
is_deeply([ $leaving->errors, $survivors->errors ], [], "the writers ran without error");

$c->converge(1, 3, 4);
is($c->node($_)->sql("SELECT count(*) FROM public.bulk"), '50000', "n$_ holds all 50,000 rows of n2's transaction")
  for 1, 3, 4;
$leaving->check([ 2, 1, 3, 4 ], label => "n2's writes: ");
$survivors->check([ 1, 3, 4 ], label => "the survivors' writes: ");
$c->same_tables([ 1, 3, 4 ], qw(items orders audit_log counters bulk));
is(join(' ', map {
        $c->node($_)->sql("SELECT (SELECT count(*) FROM spock.subscription WHERE sub_name LIKE '%n2%')
                          + (SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE '%n2%')
                          + (SELECT count(*) FROM spock.node WHERE node_name = 'n2')")
    } 1, 3, 4), '0 0 0', "nothing of n2 is left on n1, n3, n4");
$c->done;
