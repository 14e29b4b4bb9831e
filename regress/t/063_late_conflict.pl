# A late conflict: with last_update_wins, row 1 is updated on n3 ("older"),
# then on n2 ("newer"); n1, the source, applies n2's update but n3's reaches
# it only after the copy point (sub_n3_n1 is disabled meanwhile), so n1
# rejects it as older, and n4 receives it through sub_n3_n4. n4 must resolve
# it as n1 did: the add completes and all four nodes hold "newer". The row
# on n4 carries the commit timestamp and origin it has on n1 (n2's), and
# rows the join window did not touch keep the copy's own mark.
# matrix: every combination
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use Zodan::Mesh;
use Zodan::Faults;
use Test::More;

my $c = Zodan::Mesh->new(nodes => 4, conf => "spock.conflict_resolution = 'last_update_wins'");
$c->inventory(3);
my ($n1, $n2, $n3, $n4) = map { $c->node($_) } 1 .. 4;
$n4->sql("CREATE EXTENSION zodan");
my $f = Zodan::Faults->new($c);

# The copy point is taken at the start of copy_source: hold the add there.
$f->hold_pause_lock;
my $caller = $n4->background($f->add_sql("zodan.pause_at_step = 'copy_source'"));
$f->wait_at_step('copy_source', $caller) or die "the add did not pause at copy_source\n";

$n1->sql("SELECT spock.sub_disable('sub_n3_n1', true)");
$n1->poll("SELECT count(*) FROM pg_stat_activity a JOIN spock.subscription s
             ON a.application_name = format('spock apply %s:%s',
                  (SELECT oid FROM pg_database WHERE datname = current_database()), s.sub_id)
            WHERE s.sub_name = 'sub_n3_n1'", '0', 30, "sub_n3_n1's worker on n1 has stopped");
$n3->sql("UPDATE items SET name = 'older' WHERE id = 1");
$n2->poll("SELECT name FROM items WHERE id = 1", 'older', 30, "n2 applied n3's update");
$n2->sql("UPDATE items SET name = 'newer' WHERE id = 1");
$n1->poll("SELECT name FROM items WHERE id = 1", 'newer', 30, "n1 applied n2's update (not n3's)");
$n3->poll("SELECT name FROM items WHERE id = 1", 'newer', 30, "n3 applied n2's update");

# The copy point now. The add is then held at mirror_replication_sets (a
# lock on N's set memberships, which that step writes first) while n3's
# update reaches n1, which keeps its own (newer) row.
my $holder = $n4->background("BEGIN; LOCK TABLE spock.replication_set_table IN SHARE MODE;\nSELECT pg_sleep(600);",
    app => 'zodan_test_step_holder');
$n4->poll("SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
            WHERE l.granted AND l.locktype = 'relation' AND l.mode = 'ShareLock' AND a.application_name = 'zodan_test_step_holder'",
    '1', 30, "the memberships of n4 are locked");
$f->release_pause_lock;
$f->wait_at_step('mirror_replication_sets', $caller, timeout => 120) or die "the add did not reach step 8\n";
$n1->sql("SELECT spock.sub_enable('sub_n3_n1', true)");
ok($c->sync_reaches(3, 1, 60), "n1 applied everything of n3 once sub_n3_n1 is enabled again");
is($n1->sql("SELECT name FROM items WHERE id = 1"), 'newer', "n1 kept its newer row against n3's older update");
$n4->sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'zodan_test_step_holder'");
$holder->finish(30);

my ($rc, $out, $err) = $caller->finish(300);
is($rc, 0, "the add completes") or diag($err);
unlike($err, qr/differs from the source/, "no divergence named");
$f->converges(1 .. 4);
is($_->sql("SELECT name FROM items WHERE id = 1"), 'newer', $_->name . " holds \"newer\"") for $n1, $n2, $n3, $n4;

# The row as Spock compares it: n4's commit timestamp and origin are n1's.
my $stamp = "SELECT (o).timestamp || ' ' || (o).roident FROM
               (SELECT spock.xact_commit_timestamp_origin(xmin) o FROM items WHERE id = 1) x";
my $n2_id = $n1->sql("SELECT node_id FROM spock.node WHERE node_name = 'n2'");
my $on_n1 = $n1->sql($stamp);
like($on_n1, qr/ \Q$n2_id\E$/, "on n1, row 1 was last written by n2 (node id $n2_id)");
is($n4->sql($stamp), $on_n1, "on n4, row 1 carries n1's commit timestamp and origin");
note("the join window: " . $n4->sql("SELECT output->'window' FROM spock.zodan_add_node_status WHERE step_name = 'copy_source'"));
my $window = $n4->sql("SELECT output->'window'->>'rows' FROM spock.zodan_add_node_status WHERE step_name = 'copy_source'");
ok(defined $window && $window ne '' && $window >= 1 && $window < 10,
    "the copy restamped the rows of the join window only ($window)");
is($n4->sql("SELECT count(*) FROM items WHERE pg_xact_commit_timestamp(xmin) > 'epoch'"), $window,
    "every other row of items keeps the copy's mark");
is_deeply([ $f->tables_differing(1 .. 4) ], [], "all four nodes hold identical tables");
$c->done;
