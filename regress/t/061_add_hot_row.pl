# A hot row: n2 updates one row as fast as one session can throughout the
# add, beside the usual counting writes on n1..n3. The comparison after the
# join must not call that row's changes in flight a divergence: the add
# succeeds (naming the row in a warning if it never held still), and
# afterwards all four nodes hold the same rows, the hot one included.
# matrix: full suite only
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use Zodan::Mesh;
use Zodan::Load;
use Test::More;

my $c = Zodan::Mesh->new(nodes => 4);
$c->inventory(3);
my ($n1, $n2, $n4) = ($c->node(1), $c->node(2), $c->node(4));
$n4->sql("CREATE EXTENSION zodan");
for my $i (1 .. 3) {
    $c->node($i)->sql("CREATE TABLE public.hot (id int PRIMARY KEY, n bigint NOT NULL);
                       SELECT spock.repset_add_table('default', 'public.hot')");
}
$n2->sql("INSERT INTO hot VALUES (1, 0)");
$c->converge(1 .. 3);

my $load = Zodan::Load->start($c, nodes => [ 1, 2, 3 ], tps => 50);
my $hot = $n2->background(<<'SQL', app => 'zodan_hot_row');
DO $$
BEGIN
  LOOP
    UPDATE public.hot SET n = n + 1 WHERE id = 1;
    COMMIT;
  END LOOP;
END $$;
SQL
$n2->poll("SELECT n > 100 FROM hot WHERE id = 1", 't', 30, "the hot row is being written");

my ($rc, $out, $err) = $n4->psql("CALL spock.add_node('n1', \$1, 'n4', \$2)", $n1->dsn, $n4->dsn);
my $during = $n2->sql("SELECT n FROM hot WHERE id = 1");
is($rc, 0, "add_node succeeds while a row is written as fast as one session can") or diag($err);
unlike($err, qr/differs from the source/, "the hot row's changes in flight are not called a divergence");
note("the comparison named rows it could not compare: " . join(' | ', grep { /WARNING|DETAIL:  Written/ } split /\n/, $err))
  if $err =~ /were not compared/;

$n2->sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'zodan_hot_row'");
$hot->finish(30);
$load->stop;
is_deeply([ $load->errors ], [], "the writers ran without error");
$c->converge(1 .. 4);
my $final = $n2->sql("SELECT n FROM hot WHERE id = 1");
cmp_ok($final, '>', $during, "the hot row was written until the end ($final updates, $during as the add returned)");
is($c->node($_)->sql("SELECT n FROM hot WHERE id = 1"), $final, "n$_ holds the hot row's last value") for 1, 3, 4;
$load->check([ 1 .. 4 ]);
$c->same_tables([ 1 .. 4 ], qw(items orders audit_log counters hot));
$c->done;
