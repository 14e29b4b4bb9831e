# An existing node stopped while the add needs it: the add fails with an
# error naming that node, and once it is back a retry resumes and completes
# (n1 and n2 writing all along). Then remove_node, run from n1, of a node
# whose server is down: it cleans n1..n3, says the node itself could not be
# reached and what may be lost with it (what it committed that a member had
# not applied), and n1..n3 still replicate; run again it finds nothing to
# remove.
# matrix: full suite only
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use Zodan::Mesh;
use Zodan::Faults;
use Zodan::Load;
use Test::More;

my $c = Zodan::Mesh->new(nodes => 4);
$c->inventory(3);
my ($n1, $n3, $n4) = ($c->node(1), $c->node(3), $c->node(4));
$n4->sql("CREATE EXTENSION zodan");
my $f = Zodan::Faults->new($c);

my $load = Zodan::Load->start($c, nodes => [ 1, 2 ], tps => 50);
$f->hold_pause_lock;
my $caller = $n4->background($f->add_sql("zodan.pause_at_step = 'sync_source'"));
$f->wait_at_step('sync_source', $caller) or die "the add did not pause at sync_source\n";
$n3->stop;
$f->release_pause_lock;    # the add goes on now, and needs n3: it must fail, naming it
my ($rc, $out, $err) = $caller->finish(60);
isnt($rc, 124, "the add ends within 60 s of going on without n3");
isnt($rc, 0, "the add stops while n3 is down (exit status $rc)");
like($err, qr/ERROR:  .*node "n3"/, "with an error naming n3") or diag($err);
$n3->start;
($rc, $out, $err) = $f->add;
is($rc, 0, "calling add_node again completes once n3 is back") or diag($err);
like($err, qr/resuming the unfinished run/, "the retry resumed the unfinished run");
$load->stop;
is_deeply([ $load->errors ], [], "the writers ran without error");
$f->converges(1 .. 4);
ok($f->all_replicating(1 .. 4), "all subscriptions replicating");
is_deeply([ $f->tables_differing(1 .. 4) ], [], "all four nodes hold identical tables");
$load->check([ 1 .. 4 ]);

# remove_node of n4 while its server is down, run from n1.
$n4->stop;
$n1->sql("CREATE EXTENSION zodan");
($rc, $out, $err) = $n1->psql("CALL spock.remove_node('n4', \$1)", $n4->dsn);
is($rc, 0, "remove_node of a stopped n4 from n1 succeeds") or diag($err);
note($err);
like($err, qr/node n4 itself could not be reached/, "it says n4 itself could not be reached");
like($err, qr/WARNING:  node n4 could not be reached: a change it committed that a member had not applied is missing on that member; n1, n2, n3 had applied the same of its changes\nDETAIL:  Applied of node n4's changes: n1 \S+, n2 \S+, n3 \S+\.\nIf node n4's server can be started/,
    "and what may be lost with it, and how to check");
is($f->leftovers, 0, "no slot, origin, subscription, node or interface of n4 left on n1..n3");
$load = Zodan::Load->start($c, nodes => [ 1, 2, 3 ], tps => 50);
sleep 1;    # a second of writes among n1..n3 alone, to show they still replicate
$load->stop;
is_deeply([ $load->errors ], [], "the writers ran without error");
$f->converges(1 .. 3);
is_deeply([ $f->tables_differing(1 .. 3) ], [], "n1..n3 hold identical tables");
$load->check([ 1 .. 3 ]);
($rc, $out, $err) = $n1->psql("CALL spock.remove_node('n4', \$1)", $n4->dsn);
like($err, qr/node n2: nothing to remove/, "running it again removes nothing more");
$c->done;
