# add_node's waits are interruptible: with the source unable to apply (a
# lock held on it), statement_timeout and pg_cancel_backend each end the
# call within a second and leave no zodan session running on any node; a
# terminated caller's remote statements end by themselves. One deadline per
# wait for all nodes; a cancel that a node cannot take is bounded too; a
# second add on the same node is refused, and a waiting caller holds no
# xmin.
# matrix: full suite only
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use Zodan::Mesh;
use Zodan::Faults;
use Test::More;
use Time::HiRes qw(time sleep);

my $c = Zodan::Mesh->new(nodes => 5);
$c->inventory(3);
my ($n1, $n2, $n3, $n4, $n5) = map { $c->node($_) } 1 .. 5;
$_->sql("CREATE EXTENSION zodan") for $n4, $n5;
# The adds of n4 and of n5, both through n1.
my ($f4, $f5) = map { Zodan::Faults->new($c, new => $_) } 4, 5;

sub ms_since { int((time - $_[0]) * 1000) }
sub terminate {
    my ($node, $app) = @_;
    $node->sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = \$1", $app);
}
# A session on NODE holding a transaction (an xid) open, named 'zodan_holder':
# slot creation waits for it.
sub hold_xid {
    my ($node, $id) = @_;
    my $h = $node->background("BEGIN;\nINSERT INTO audit_log VALUES ($id, 'held');\nSELECT pg_sleep(600);\nCOMMIT;",
        app => 'zodan_holder');
    $node->poll("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'zodan_holder' AND backend_xid IS NOT NULL",
        '1', 30, $node->name . " holds a transaction open")
      or die "no transaction held open on " . $node->name . "\n";
    return $h;
}
sub timeouts_in { scalar(() = $_[0] =~ /canceling statement due to statement timeout/g) }

# n1 cannot apply n2's changes while this lock is held: add_node waits.
my $locker = $n1->background("BEGIN;\nLOCK TABLE items IN ACCESS EXCLUSIVE MODE;\nSELECT pg_sleep(600);\nCOMMIT;",
    app => 'zodan_locker');
$n1->poll("SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
            WHERE a.application_name = 'zodan_locker' AND l.relation = 'items'::regclass
              AND l.mode = 'AccessExclusiveLock' AND l.granted", '1', 30, "a session on n1 locks items")
  or die "no lock on n1\n";
$n2->sql("INSERT INTO items VALUES (900001, 'blocked on n1', 1)");

# statement_timeout, twice in one session, the journal read in between.
my $t0 = time;
my ($rc, $out, $err) = $n4->psql("\\set ON_ERROR_STOP off\n" . $f4->add_sql("statement_timeout = '2s'") . ";\n"
      . "RESET statement_timeout;\n"
      . "SELECT 'journal: ' || state || CASE WHEN backend_pid = pg_backend_pid() THEN ' in this session' ELSE ' elsewhere' END
           FROM spock.zodan_runs ORDER BY run_id DESC LIMIT 1;\n"
      . $f4->add_sql("statement_timeout = '2s'") . ";\n");
my $elapsed = ms_since($t0);
like($err, qr/canceling statement due to statement timeout/, "statement_timeout ends add_node");
cmp_ok($elapsed, '<', 6000, "it ends within a second of the timeout ($elapsed ms for two calls with a 2 s timeout)");
like($out, qr/^journal: failed in this session$/m, "the journal says the run failed, in the same session");
is(timeouts_in($err), 2, "calling add_node again in that session resumes (it times out again, not 'already running')")
  or diag($err);
is($c->settled_zodan_sessions(1), 0, "no zodan session left running after the timeout");
my $stuck = $n4->sql("SELECT step_name FROM spock.zodan_add_node_status WHERE state = 'failed' ORDER BY step_no DESC LIMIT 1");
note("n4's add timed out in step $stuck");

# pg_cancel_backend of a caller waiting in the same step.
my $caller = $n5->background($f5->add_sql, app => 'zodan_cancel_test');
$f5->wait_at_step($stuck, $caller);
# The point: a wait that must not end by itself; a second later it goes on.
sleep 1;
ok($caller->running, "the add on n5 is still waiting in $stuck");
$t0 = time;
$n5->sql("SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'zodan_cancel_test'");
($rc, $out, $err) = $caller->finish(30);
$elapsed = ms_since($t0);
like($err, qr/canceling statement due to user request/, "pg_cancel_backend ends add_node");
cmp_ok($elapsed, '<', 1000, "it ends within a second of the cancel ($elapsed ms)");
is($c->settled_zodan_sessions(1), 0, "no zodan session left running after the cancel");

# pg_terminate_backend of the caller: no C++ unwinding, no cancel sent; the
# nodes notice the caller is gone (client_connection_check_interval) and end
# its statements themselves.
$caller = $n5->background($f5->add_sql, app => 'zodan_kill_test');
my $deadline = time + 5;
sleep 0.1 while $c->zodan_sessions < 3 && time < $deadline;
my $open = $c->zodan_sessions;
cmp_ok($open, '>=', 3, "the add on n5 is waiting with sessions open on the nodes ($open)");
terminate($n5, 'zodan_kill_test');
$caller->finish(30);
is($c->settled_zodan_sessions(3), 0, "no zodan session left on any node within 3 s of terminating the caller");
terminate($n1, 'zodan_locker');
$locker->finish(30);

# One deadline per wait for all nodes: with n2 and n3 both holding a
# transaction open, slot creation waits on both; it ends after one
# zodan.sync_timeout, not one per node.
my @holders = map { hold_xid($c->node($_), 990000 + $_) } 2, 3;
$f5->remove;
$t0 = time;
($rc, $out, $err) = $f5->add("zodan.sync_timeout = '3s'");
$elapsed = ms_since($t0);
like($err, qr/within 3 s|timed out/i, "with two nodes stuck the add fails with a timeout");
cmp_ok($elapsed, '<', 5500, "after one 3 s timeout, not two ($elapsed ms)");
terminate($_, 'zodan_holder') for $n2, $n3;
$_->finish(30) for @holders;

# A cancel is bounded even when the node cannot answer it: PostgreSQL 15's
# PQcancel blocks until the node's postmaster takes the request. With n2's
# postmaster stopped (SIGSTOP) while our slot creation waits there, a
# statement_timeout still ends the call within the cancel's bound (2 s).
my $holder = hold_xid($n2, 990099);
$f5->remove;
$caller = $n5->background($f5->add_sql("statement_timeout = '4s'"), app => 'zodan_stopped_test');
# The slot is made once no transaction on n2 is older than it would have to
# wait for; until then the add polls n2 for the transaction it waits on.
ok($f5->wait_at_step('prepare_other_nodes', $caller), "the add waits on n2 to make its slot there");
$n2->poll("SELECT count(*) > 0 FROM pg_stat_activity WHERE application_name LIKE 'zodan: add_node%'", 't', 30,
    "the add has its session on n2");
sleep 0.3;
my $postmaster = $n2->postmaster_pid;
$t0 = time;
kill 'STOP', $postmaster;
my @r = eval { $caller->finish(60) };
$elapsed = ms_since($t0);
kill 'CONT', $postmaster;    # before anything else, however the wait ended
die $@ unless @r;
($rc, $out, $err) = @r;
like($err, qr/canceling statement due to statement timeout|node "n2": .* the node stopped answering/,
    "the call ends while n2 cannot take a cancel: by statement_timeout, or naming n2 as unresponsive");
cmp_ok($elapsed, '<', 7500, "within the timeout and the cancel's 2 s bound ($elapsed ms after n2 stopped, 4 s timeout)");
terminate($n2, 'zodan_holder');
$holder->finish(30);
# The ended call's session on n2 was waiting on the holder's transaction, so
# it notices its client gone only now, and holds the join lock until it has.
ok($n2->poll("SELECT count(*) = 0 FROM pg_stat_activity WHERE application_name LIKE 'zodan: add_node%'", 't', 30,
    "the ended call's session on n2 is gone"), "the ended call left nothing running on n2");

# Two calls on one node: the second is refused at once by the join lock the
# first holds, naming the first, whatever the journal says at that moment.
$f5->hold_pause_lock;
my $first = $n5->background($f5->add_sql("zodan.pause_at_step = 'advance_slots'"), app => 'zodan_first');
ok($f5->wait_at_step('advance_slots', $first), "the first add is waiting at advance_slots");
($rc, $out, $err) = $f5->add;
like($err, qr/another change of the cluster's membership is running: zodan: add_node n5 holds the join lock on node "n\d"/,
    "a second add_node on the same node is refused, naming the first");
# The first call committed after each step: it holds no snapshot back while it waits.
is($n5->sql("SELECT count(*) FILTER (WHERE backend_xmin IS NULL) || '/' || count(*)
               FROM pg_stat_activity WHERE application_name = 'zodan_first'"), '1/1',
    "the waiting caller holds back no xmin on its node");
terminate($n5, 'zodan_first');
$first->finish(30);
$f5->release_pause_lock;
$c->done;
