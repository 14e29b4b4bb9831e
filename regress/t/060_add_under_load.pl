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
use Zodan::Faults;
use Test::More;
use Time::HiRes qw(time);

my $c = Zodan::Mesh->new(nodes => 4, dbname => { 4 => 'warehouse' });
$c->inventory(3);
my ($n1, $n4) = ($c->node(1), $c->node(4));
$n4->sql("CREATE EXTENSION zodan");

my $load = Zodan::Load->start($c, nodes => [ 1, 2, 3 ], tps => 50);
my $before = $n1->sql("SELECT count(*) FROM counters");
my $t0 = time;
# A crash of one of Spock's own workers on a node (docs/testing.md, "Spock's
# own crashes") takes that node down: it is started again and the add called
# once more, which must then complete the join as a resumed run does.
my $faults = Zodan::Faults->new($c);
my ($rc, $out, $err) =
  $faults->surviving_spock_crash(sub { $n4->psql("CALL spock.add_node('n1', \$1, 'n4', \$2)", $n1->dsn, $n4->dsn) });
my $took = time - $t0;
is($rc, 0, "add_node under load succeeds") or diag($err);
note sprintf("add_node took %.0f ms under load", $took * 1000);
sleep 1;    # writes go on after the join, now also reaching n4
$load->stop;
# The writers of a node that went down saw it go; nothing else is excused.
my %down = map { ($_ => 1) } $faults->spock_crashed;
is_deeply([ grep { !(/^(n\d+) / && $down{$1} && /crash of another server process|terminating connection|database system is/) } $load->errors ],
    [], "the writers ran without error");
cmp_ok($load->acked, '>', 0, "writers were writing during the add (" . $load->acked . " acknowledged)");

$c->converge(1 .. 4);
$load->check([ 1 .. 4 ]);
$c->same_tables([ 1 .. 4 ], qw(items orders audit_log counters));
is($c->node($_)->sql("SELECT count(*) FROM spock.sub_show_status() WHERE status <> 'replicating'"),
    '0', "every subscription on n$_ replicating") for 1 .. 4;

# What the cure for an apply worker Spock lost track of relies on
# (replication_waits.cpp): Spock names each worker's process after its
# database and subscription, and starts a new one after the old one is ended.
my $named = "SELECT pg_catalog.format('spock apply %s:%s', d.oid, s.sub_id) FROM spock.subscription s,
             pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database() AND s.sub_name = 'sub_n1_n4'";
my $workers = "SELECT pid FROM pg_stat_activity WHERE application_name = ($named)";
my $old_pid = $n4->sql($workers);
like($old_pid, qr/^\d+$/, "one process on n4 carries the name of sub_n1_n4's apply worker");
is($n4->sql("SELECT count(*) FROM pg_stat_activity a JOIN spock.subscription s ON a.application_name = pg_catalog.format('spock apply %s:%s',
             (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database()), s.sub_id)"),
    $n4->sql("SELECT count(*) FROM spock.subscription"), "and so does every other subscription's");
$n4->sql("SELECT pg_terminate_backend(\$1)", $old_pid);
$n4->poll("SELECT count(*) FROM pg_stat_activity WHERE application_name = ($named) AND pid <> $old_pid", '1', 30,
    "once that process is ended, Spock starts another");
$n4->wait_replicating;
$n1->sql("INSERT INTO items (id, name) VALUES (-1, 'after the restart')");
$n4->poll("SELECT count(*) FROM items WHERE name = 'after the restart'", '1', 30, "and it applies again");
$c->done;
