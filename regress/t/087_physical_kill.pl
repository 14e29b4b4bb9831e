# The physical add (docs/physical.md) stopped at every point between its
# fence on n1 and its journal on the new node, under counting writes on
# n1..n3, and what a later call does with what it left:
#  - killed before the promotion is asked for (after the fence; after n1's
#    positions were read; while waiting for the replay; just before the
#    promotion): the fence stays, and the next call (spock.health_check
#    once, add_node otherwise) lifts it, says so, and drops the slots the
#    dead call made; the standby stays a standby;
#  - cancelled by statement_timeout while the promotion runs: the call
#    lifts its fence once the standby has left recovery, and a second call
#    finishes the add from the fence the promoted node replayed;
#  - killed during the promotion, after it (fence still on), and after the
#    lift before the journal started on the new node: a later call lifts
#    what is left, keeps the slots, and finishes the add from the fence the
#    node replayed; killed once its journal started: resumed from it;
#  - killed later in the add and rolled back by spock.remove_node.
# Afterwards n1's subscriptions are enabled, nothing of the runs is left on
# n1..n3, and nothing written anywhere was lost or doubled.
# matrix: every combination
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use Zodan::Mesh;
use Zodan::Load;
use Zodan::Standby;
use Test::More;
use Time::HiRes qw(time sleep);

my $c = Zodan::Mesh->new(nodes => 3);
$c->inventory(3);
my ($n1, $n2, $n3) = map { $c->node($_) } 1 .. 3;
$n1->sql("CREATE EXTENSION zodan");
my $load = Zodan::Load->start($c, nodes => [ 1, 2, 3 ], tps => 50);

my $slots_sql = "SELECT count(*) FROM pg_replication_slots WHERE slot_type = 'logical'";
my $fences_sql = "SELECT count(*) FROM spock.zodan_runs WHERE operation = 'physical_fence'";
my $disabled_sql = "SELECT coalesce(string_agg(sub_name, ',' ORDER BY sub_name), '') FROM spock.subscription WHERE NOT sub_enabled";

sub add_sql {
    my ($n, @settings) = @_;
    return join('', map { "SET $_;\n" } @settings)
      . Zodan::Node::bind_params("CALL spock.add_node('n1', \$1, \$2, \$3)", $n1->dsn, $n->name, $n->dsn);
}

sub terminate {
    my ($node, $app) = @_;
    $node->sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = \$1", $app);
}

# A call of the add on N, paused at POINT (zodan.pause_at_step) while this
# test holds the advisory lock zodan.pause on N; THEN runs while it waits
# there; unless KEEP, the call is killed. Returns the call's (rc, stdout,
# stderr) once it ended, and the holder (with KEEP: the call, the holder).
sub paused_at {
    my ($n, $point, %o) = @_;
    # Idle once it holds the lock: no snapshot held on the standby.
    my $holder = $n->holding_session("SELECT pg_advisory_lock(hashtext('zodan.pause'));\n", app => 'zodan_pause_holder');
    $n->poll("SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
              WHERE l.locktype = 'advisory' AND l.granted AND a.application_name = 'zodan_pause_holder'", '1', 30,
        "the pause lock is held on " . $n->name);
    my $call = $n->background(add_sql($n, "zodan.pause_at_step = '$point'", @{ $o{settings} // [] }),
        app => 'zodan_fault');
    $n->poll("SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
              WHERE l.locktype = 'advisory' AND NOT l.granted AND a.application_name LIKE 'zodan:%'", '1', 90,
        "the add on " . $n->name . " waits at $point");
    $o{then}->($holder) if $o{then};
    return ($call, $holder) if $o{keep};
    terminate($n, 'zodan_fault');
    my @r = $call->finish(60);
    isnt($r[0], 0, "the call killed at $point ends");
    terminate($n, 'zodan_pause_holder');
    $holder->kill_it;
    # Its sessions on the nodes (and the join lock they hold) go as they see it gone.
    is($c->settled_zodan_sessions(30), 0, "no session of the killed call left");
    return @r;
}

# n1's subscriptions, as the members that joined meanwhile add theirs.
sub n1_subs {
    return $n1->sql("SELECT string_agg(sub_name, ',' ORDER BY sub_name) FROM spock.subscription
                     WHERE sub_target = (SELECT node_id FROM spock.local_node)");
}

sub fence_left {
    my ($what) = @_;
    is($n1->sql($fences_sql), '1', "$what: the dead call's fence is recorded on n1");
    is($n1->sql($disabled_sql), n1_subs(), "$what: n1's subscriptions are disabled");
}

sub nothing_left {
    my ($what, $slots) = @_;
    is($n1->sql($fences_sql), '0', "$what: no fence on n1");
    is($n1->sql($disabled_sql), '', "$what: n1's subscriptions are enabled");
    is_deeply({ map { $_ => $c->node($_)->sql($slots_sql) } 1 .. 3 }, $slots, "$what: no slot of the run left on n1..n3");
}

sub lifted_in {
    my ($err, $new, $what) = @_;
    my $subs = join(', ', split /,/, n1_subs());
    like($err, qr/WARNING:  \w+: lifted the fence an unfinished physical add of node "\Q$new\E" left on node "n1"\nDETAIL:  Enabled again: \Q$subs\E\./,
        "$what: the next call lifted the fence, and said so") or diag($err);
}

my %slots = map { $_ => $c->node($_)->sql($slots_sql) } 1 .. 3;

# --- n4: killed at each point before the promotion is asked for.
my $n4 = Zodan::Standby->make($c, 1, 4);
my ($rc, $out, $err) = paused_at($n4, 'copy_source:fenced');
fence_left("killed after the fence");
is($n4->sql("SELECT pg_is_in_recovery()"), 't', "n4 is still a standby");
($rc, $out, $err) = $n1->psql("CALL spock.health_check('n1', \$1)", $n1->dsn);
lifted_in($err, 'n4', "health_check");
like($err, qr/health_check: dropped the slot \S+ that run made on node n2/, "health_check dropped the dead call's slots")
  or diag($err);
nothing_left("after health_check", \%slots);

($rc, $out, $err) = paused_at($n4, 'copy_source:fence');
fence_left("killed once n1's positions were read");

# Killed while waiting for the replay: n4's replay paused meanwhile.
($rc, $out, $err) = paused_at($n4, 'copy_source:fenced', then => sub {
    my ($holder) = @_;
    $n4->sql("SELECT pg_wal_replay_pause()");
    $n4->poll("SELECT pg_get_wal_replay_pause_state()", 'paused', 30, "n4's replay is paused");
    terminate($n4, 'zodan_pause_holder');
    $holder->kill_it;
    sleep 2;
    is($n4->sql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'zodan_fault'"), '1',
        "the add waits for the replay");
});
lifted_in($err, 'n4', "killed once n1's positions were read");
fence_left("killed while waiting for the replay");
$n4->sql("SELECT pg_wal_replay_resume()");

($rc, $out, $err) = paused_at($n4, 'copy_source:promote');
lifted_in($err, 'n4', "killed while waiting for the replay");
fence_left("killed before the promotion");
is($n4->sql("SELECT pg_is_in_recovery()"), 't', "n4 is still a standby");

# Cancelled during the promotion: held at its pause until statement_timeout.
my $holder = $n4->holding_session("SELECT pg_advisory_lock(hashtext('zodan.pause'));\n", app => 'zodan_pause_holder');
$n4->poll("SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
           WHERE l.locktype = 'advisory' AND l.granted AND a.application_name = 'zodan_pause_holder'", '1', 30,
    "the pause lock is held on n4");
($rc, $out, $err) = $n4->psql(add_sql($n4, "zodan.pause_at_step = 'copy_source:promoting'", "statement_timeout = '25s'"));
terminate($n4, 'zodan_pause_holder');
$holder->kill_it;
isnt($rc, 0, "statement_timeout ends the call during the promotion");
lifted_in($err, 'n4', "killed before the promotion");
like($err, qr/canceling statement due to statement timeout/, "as a timeout") or diag($err);
like($err, qr/stopped after this standby's promotion was asked for/, "saying the promotion was asked for") or diag($err);
is($n4->sql("SELECT pg_is_in_recovery()"), 'f', "n4 is promoted");
is($n1->sql($fences_sql), '0', "the cancelled call lifted its fence");
is($n1->sql($disabled_sql), '', "n1's subscriptions are enabled");
is($n4->sql("SELECT count(*) FROM spock.zodan_runs WHERE operation = 'add_node' AND new_node_name = 'n4'"), '0',
    "n4 holds no journal of the run");

($rc, $out, $err) = $n4->psql(add_sql($n4));
is($rc, 0, "a second call finishes the add of n4") or diag($err);
like($err, qr/resuming the physical add of n4 that stopped after promoting this node/, "from the fence n4 replayed")
  or diag($err);

# --- n5: killed during the promotion, then once its journal started.
my $n5 = Zodan::Standby->make($c, 1, 5);
($rc, $out, $err) = paused_at($n5, 'copy_source:promoting');
$n5->poll("SELECT pg_is_in_recovery()", 'f', 30, "n5 promotes without the call");
fence_left("killed during the promotion");
($rc, $out, $err) = paused_at($n5, 'copy_source:journal');
lifted_in($err, 'n5', "killed during the promotion");
like($err, qr/That run had promoted its standby n5: the slots it made are kept/, "keeping the slots") or diag($err);
like($err, qr/resuming the physical add of n5/, "the call resumed from the fence n5 replayed") or diag($err);
is($n1->sql($fences_sql), '0', "no fence on n1");
($rc, $out, $err) = $n5->psql(add_sql($n5));
is($rc, 0, "a third call finishes the add of n5 from its journal") or diag($err);
like($err, qr/resuming the unfinished run at step copy_source/, "from its journal") or diag($err);

# --- n6: killed after the promotion, before the lift; then rolled back.
my $n6 = Zodan::Standby->make($c, 1, 6);
($rc, $out, $err) = paused_at($n6, 'copy_source:promoted');
fence_left("killed after the promotion");
($rc, $out, $err) = paused_at($n6, 'mirror_replication_sets');
lifted_in($err, 'n6', "killed after the promotion");
($rc, $out, $err) = $n6->psql("CALL spock.remove_node('n6', \$1)", $n6->dsn);
is($rc, 0, "remove_node rolls back the physical add of n6") or diag($err);
like($err, qr/rolled back the unfinished add_node run/, "saying so") or diag($err);
for my $i (1 .. 5) {
    is($c->node($i)->sql("SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE '%n6%'"), '0',
        "no slot for n6 left on n$i");
    is($c->node($i)->sql("SELECT count(*) FROM spock.subscription WHERE sub_name LIKE '%n6%'"), '0',
        "no subscription of n6 left on n$i");
}

# --- n7: killed after the lift, before its journal started.
my $n7 = Zodan::Standby->make($c, 1, 7);
($rc, $out, $err) = paused_at($n7, 'copy_source:lifted');
is($n1->sql($fences_sql), '0', "killed after the lift: no fence on n1");
is($n7->sql("SELECT pg_is_in_recovery()"), 'f', "n7 is promoted");
($rc, $out, $err) = $n7->psql(add_sql($n7));
is($rc, 0, "a second call finishes the add of n7") or diag($err);
like($err, qr/resuming the physical add of n7/, "from the fence n7 replayed") or diag($err);

# Nothing of the runs is left, and nothing written was lost or doubled.
my @members = (1, 2, 3, 4, 5, 7);
sleep 1;
$load->stop;
is_deeply([ $load->errors ], [], "the writers ran without error");
$c->converge(@members);
$load->check(\@members, label => "during the adds: ");
my $after = Zodan::Load->start($c, nodes => \@members, tps => 30, counting_only => 1);
sleep 2;
$after->stop;
$c->converge(@members);
$after->check(\@members, label => "after them: ");
$c->same_tables(\@members, qw(items orders audit_log counters));
for my $i (@members) {
    my $node = $c->node($i);
    is($node->sql("SELECT count(*) FROM spock.sub_show_status() WHERE status <> 'replicating'"), '0',
        "every subscription on n$i replicating");
    is($node->sql("SELECT count(*) FROM spock.sub_show_status()"), scalar(@members) - 1,
        "n$i subscribes to the " . (scalar(@members) - 1) . " others");
    is($node->sql($slots_sql), scalar(@members) - 1, "n$i holds one slot per other member, no more");
}
for my $i (4, 5, 7) {
    is($c->node($i)->sql("SELECT n.node_name FROM spock.local_node l JOIN spock.node n USING (node_id)"), "n$i",
        "n$i is Spock node n$i");
    is($c->node($i)->sql("SELECT count(*) FROM spock.zodan_runs WHERE operation <> 'add_node'"), '0',
        "n${i}'s journal holds its own runs only");
}
is($n1->sql("SELECT count(*) FROM spock.zodan_runs WHERE operation LIKE 'physical%'"), '0', "no fence or probe on n1");
$c->done;
