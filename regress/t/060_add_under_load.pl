# End to end: n4 joins meshed n1..n3 while each of them takes a continuous
# stream of counting upserts, inserts, updates and deletes; afterwards all
# four nodes hold identical tables, and the checker finds every
# acknowledged write exactly once everywhere. n4's database is named
# differently from the others' (Spock names slots after the subscriber's).
# matrix: every combination
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use Zodan::Mesh;
use Zodan::Load;
use Test::More;
use Time::HiRes qw(time);

my $c = Zodan::Mesh->new(nodes => 4, dbname => { 4 => 'warehouse' });
$c->inventory(3);
my ($n1, $n4) = ($c->node(1), $c->node(4));
$n4->sql("CREATE EXTENSION zodan");

my $load = Zodan::Load->start($c, nodes => [ 1, 2, 3 ], tps => 50);
my $before = $n1->sql("SELECT count(*) FROM counters");
my $t0 = time;
my ($rc, $out, $err) = $n4->psql("CALL spock.add_node('n1', \$1, 'n4', \$2)", $n1->dsn, $n4->dsn);
my $took = time - $t0;
is($rc, 0, "add_node under load succeeds") or diag($err);
note sprintf("add_node took %.0f ms under load", $took * 1000);
sleep 1;    # writes go on after the join, now also reaching n4
$load->stop;
is_deeply([ $load->errors ], [], "the writers ran without error");
cmp_ok($load->acked, '>', 0, "writers were writing during the add (" . $load->acked . " acknowledged)");

$c->converge(1 .. 4);
$load->check([ 1 .. 4 ]);
$c->same_tables([ 1 .. 4 ], qw(items orders audit_log counters));
is($c->node($_)->sql("SELECT count(*) FROM spock.sub_show_status() WHERE status <> 'replicating'"),
    '0', "every subscription on n$_ replicating") for 1 .. 4;
$c->done;
