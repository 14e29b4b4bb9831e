# The physical add (docs/physical.md): n4, a hot standby of n1 made by a
# base backup while n1..n3 take counting writes, joins by the same CALL,
# made on n4. Before it, what is refused changes nothing: a logical add
# asked of the standby, a source it is no copy of, and new_node_dsn reaching
# the source itself (which shares n4's system identifier); a call that
# fails inside its fence lifts it, leaving n4 a standby and nothing behind;
# one killed inside it leaves it, and the next call lifts it first, and
# drops the slots the dead one made. During the add, the
# fence holds: at no moment does a process of n4 hold a connection that
# uses one of n1's slots on n2 or n3, and n4 never runs an apply worker of
# n1's subscriptions (promoted as it is, Spock on the copy would start them
# and take n1's slots, losing n1 the rows it then confirms). Afterwards
# nothing is lost or doubled anywhere, every subscription replicates, n4
# keeps nothing of n1's identity and n1 nothing of the run, and n4 writes too.
# matrix: every combination
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use Zodan::Mesh;
use Zodan::Load;
use Zodan::Standby;
use Zodan::Faults;
use Test::More;
use Time::HiRes qw(time sleep);

my $c = Zodan::Mesh->new(nodes => 3);
$c->inventory(3);
my ($n1, $n2, $n3) = map { $c->node($_) } 1 .. 3;
# The fence is recorded in zodan's tables on the source; the standby gets
# the extension through the WAL.
$n1->sql("CREATE EXTENSION zodan");

my $load = Zodan::Load->start($c, nodes => [ 1, 2, 3 ], tps => 50);
my $n4 = Zodan::Standby->make($c, 1, 4);
is($n4->sql("SELECT pg_is_in_recovery()"), 't', "n4 is a hot standby of n1");

# n1's identity as the peers and Spock know it.
my $dboid = $n1->sql("SELECT oid FROM pg_database WHERE datname = current_database()");
my @n1_workers = map { "spock apply $dboid:$_" }
  split /\n/, $n1->sql("SELECT sub_id FROM spock.subscription WHERE sub_target = (SELECT node_id FROM spock.local_node)");
my %n1_slot = map { split /\|/ } split /\n/, $n1->sql(
    "SELECT n.node_name, s.sub_slot_name FROM spock.subscription s JOIN spock.node n ON n.node_id = s.sub_origin
     WHERE s.sub_target = (SELECT node_id FROM spock.local_node)");
is(scalar(@n1_workers), 2, "n1 subscribes to n2 and n3");

my $slots_sql = "SELECT count(*) FROM pg_replication_slots";
my %slots_before = map { $_ => $c->node($_)->sql($slots_sql) } 1 .. 3;
my $add = "CALL spock.add_node('n1', \$1, 'n4', \$2)";

sub nothing_changed {
    my ($what) = @_;
    is($n4->sql("SELECT pg_is_in_recovery()"), 't', "$what: n4 is still a standby");
    is_deeply({ map { $_ => $c->node($_)->sql($slots_sql) } 1 .. 3 }, \%slots_before, "$what: no slot made on n1..n3");
    is($n1->sql("SELECT count(*) FROM spock.zodan_runs WHERE operation LIKE 'physical%'"), '0',
        "$what: no fence or probe left on n1");
    is($n1->sql("SELECT count(*) FROM spock.subscription WHERE NOT sub_enabled"), '0',
        "$what: n1's subscriptions enabled");
}

my ($rc, $out, $err) = $n4->psql("SET zodan.copy_method = 'logical'; $add", $n1->dsn, $n4->dsn);
isnt($rc, 0, "a logical add of a standby is refused");
like($err, qr/zodan\.copy_method is logical, but this server is a hot standby/, "naming the setting") or diag($err);
nothing_changed("refused logical");

($rc, $out, $err) = $n4->psql("CALL spock.add_node('n2', \$1, 'n4', \$2)", $n2->dsn, $n4->dsn);
isnt($rc, 0, "a standby of n1 is refused as a copy of n2");
like($err, qr/this standby is not a copy of the source "n2"/, "saying it is no copy of n2") or diag($err);
nothing_changed("refused source");

($rc, $out, $err) = $n4->psql($add, $n1->dsn, $n1->dsn);
isnt($rc, 0, "new_node_dsn reaching the source is refused, though it shares n4's system identifier");
like($err, qr/new_node_dsn reaches another server \(the source itself\)/, "naming the source") or diag($err);
nothing_changed("refused DSN");

# The checks before an add, pointed at the standby from n1, report on it:
# a hot standby writes no WAL, and the WAL check reads none there.
($rc, $out, $err) = $n1->psql("CALL spock.health_check('n1', \$1, 'n4', \$2, 'pre')", $n1->dsn, $n4->dsn);
unlike($err, qr/recovery is in progress/, "health_check 'pre' with the standby as the new node reads it") or diag($err);
like($err, qr/check FAILED: no user tables on the new node/, "and reports its checks, the standby's tables among them")
  or diag($err);

# A call that fails inside its fence lifts it on the way out and drops the
# slots it made: n4 is still a standby, and nothing of the run is left.
($rc, $out, $err) = $n4->psql("SET zodan.fail_at_step = 'copy_source:fence'; $add", $n1->dsn, $n4->dsn);
isnt($rc, 0, "an add that fails inside the fence fails");
like($err, qr/injected failure at "copy_source:fence"/, "inside its fence") or diag($err);
nothing_changed("failed inside the fence");

# A call killed inside its fence cannot lift it: n1's subscriptions stay
# disabled, recorded, until the next call lifts them.
my $holder = $n4->background("SELECT pg_advisory_lock(hashtext('zodan.pause'));\nSELECT pg_sleep(600);",
    app => 'zodan_pause_holder');
$n4->poll("SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
           WHERE l.locktype = 'advisory' AND l.granted AND a.application_name = 'zodan_pause_holder'", '1', 30,
    "the pause lock is held on n4");
my $killed = $n4->background(Zodan::Node::bind_params("SET zodan.pause_at_step = 'copy_source:fence'; $add",
    $n1->dsn, $n4->dsn), app => 'zodan_fault');
$n4->poll("SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
           WHERE l.locktype = 'advisory' AND NOT l.granted AND a.application_name LIKE 'zodan:%'", '1', 60,
    "the add waits inside its fence");
$n4->sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'zodan_fault'");
($rc, $out, $err) = $killed->finish(60);
isnt($rc, 0, "the call killed inside its fence ends");
$n4->sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'zodan_pause_holder'");
$holder->finish(30);
is($n1->sql("SELECT count(*) FROM spock.zodan_runs WHERE operation = 'physical_fence'"), '1',
    "the killed call left its fence recorded on n1");
is($n1->sql("SELECT string_agg(sub_name, ',' ORDER BY sub_name) FROM spock.subscription WHERE NOT sub_enabled"),
    'sub_n2_n1,sub_n3_n1', "with n1's subscriptions disabled");
is($n4->sql("SELECT pg_is_in_recovery()"), 't', "n4 is still a standby");

# The fence, watched from outside while the add runs: the local ports of
# n4's processes' TCP connections against the client ports of the
# walsenders that hold n1's slots on n2 and n3; and n4's processes named
# as n1's apply workers.
sub ppid_of {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/stat" or return -1;
    my $stat = <$fh>;
    close $fh;
    return $stat =~ /\)\s+\S+\s+(\d+)/ ? $1 : -1;
}

sub n4_ports {
    my $pm = $n4->postmaster_pid // return ();
    my %ports;
    for my $line (split /\n/, `ss -tnpH 2>/dev/null`) {
        my @f = split /\s+/, $line;
        next unless @f >= 6 && $f[3] =~ /:(\d+)$/;
        my $port = $1;
        for my $pid ($line =~ /pid=(\d+)/g) {
            $ports{$port} = $pid if ppid_of($pid) == $pm;
        }
    }
    return %ports;
}

my (@thefts, @workers_seen);
my $samples = 0;
sub sample {
    my %mine = n4_ports();
    for my $o (2, 3) {
        my $slot = $n1_slot{"n$o"};
        my ($src, $ports) = $c->node($o)->psql(
            "SELECT coalesce(string_agg(r.client_port::text, ','), '') FROM pg_replication_slots s
             JOIN pg_stat_replication r ON r.pid = s.active_pid WHERE s.slot_name = \$1", $slot, { quiet => 1 });
        next unless $src == 0;
        for my $port (grep { length } split /,/, $ports) {
            push @thefts, "n4's process $mine{$port} streams from n$o over n1's slot $slot" if $mine{$port};
        }
    }
    my $list = '{' . join(',', map { "\"$_\"" } @n1_workers) . '}';
    my ($wrc, $w) = $n4->psql("SELECT string_agg(pid || ' ' || application_name, ', ') FROM pg_stat_activity
                               WHERE application_name = ANY(\$1::text[])", $list, { quiet => 1 });
    push @workers_seen, $w if $wrc == 0 && length $w;
    $samples++;
}

my $mark = { map { $_ => $c->node($_)->log_mark } 2, 3 };
my $t0 = time;
# A crash of one of Spock's own workers (docs/testing.md, "Spock's own
# crashes") takes its node down: it is started again and the add called once
# more, which completes the join as a resumed run does. What the first call
# said (the fence it lifted, the promotion) is kept with the second's.
my $faults = Zodan::Faults->new($c);
my @said;
($rc, $out, $err) = $faults->surviving_spock_crash(sub {
    my $bg = $n4->background(Zodan::Node::bind_params("SET zodan.progress_interval = '1s'; $add", $n1->dsn, $n4->dsn));
    while ($bg->running) { sample(); sleep 0.05; }
    my @r = $bg->finish;
    push @said, $r[2] // '';
    return @r;
}, before_again => sub {
    # A standby streams from n1 again only a while after n1 restarted.
    $n4->poll("SELECT NOT pg_is_in_recovery() OR EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming')",
        't', 60, "n4 streams from n1 again, or is promoted already");
});
my $took = time - $t0;
my $all_said = join "\n", @said;
is($rc, 0, "the physical add of the standby n4 through n1 succeeds, under writes on n1..n3") or diag($err);
note(sprintf("the physical add took %.0f ms", $took * 1000));
note($err);
my ($fence) = $err =~ /the fence held (\d+) ms/;
ok(defined $fence, "it reports how long the fence held") or diag($err);
like($all_said, qr/WARNING:  add_node: lifted the fence an unfinished physical add of node "n4" left on node "n1"\nDETAIL:  Enabled again: sub_n2_n1, sub_n3_n1\./,
    "it first lifted the fence the killed call left, and said so");
like($all_said, qr/add_node: dropped the slot \S+ that run made on node n2/, "and dropped the slots that call made");
note("the fence held " . ($fence // '?') . " ms");
like($all_said, qr/add_node step 5\/\d+: promote the standby at a fence in the source's WAL/,
    "the copy step promotes the standby");
# Spock's manager on n4 runs from the promotion on: watched a while longer.
my $until = time + 3;
while (time < $until) { sample(); sleep 0.1; }
note("$samples samples of the fence");
is_deeply(\@thefts, [], "no process of n4 used one of n1's slots on n2 or n3");
is_deeply(\@workers_seen, [], "n4 never ran an apply worker of n1's subscriptions");
my @named = grep { my $l = $_; grep { index($l, $_) >= 0 } values %n1_slot } split /\n/, $n4->log_since(0);
is_deeply(\@named, [], "n4's log never names one of n1's slots (no worker of n4 tried one)");
for my $o (2, 3) {
    my @active = grep { /replication slot "\Q$n1_slot{"n$o"}\E" is active/ } split /\n/, $c->node($o)->log_since($mark->{$o});
    note("n$o: " . scalar(@active) . " refusal(s) of n1's slot to a second client") if @active;
}

is($n4->sql("SELECT pg_is_in_recovery()"), 'f', "n4 is promoted");
is($n4->sql("SELECT n.node_name FROM spock.local_node l JOIN spock.node n USING (node_id)"), 'n4',
    "n4 is Spock node n4");
is($n4->sql("SELECT count(*) FROM spock.subscription s JOIN spock.node n ON n.node_id = s.sub_target
             WHERE n.node_name <> 'n4'"), '0', "no subscription of n1's left on n4");
is($n4->sql("SELECT count(*) FROM pg_replication_origin WHERE roname LIKE '%\\_n1'"), '0',
    "no origin of n1's subscriptions left on n4");
is($n4->sql("SELECT count(*) FROM spock.zodan_runs WHERE operation <> 'add_node'"), '0',
    "n4's journal holds its own run only");
is($n1->sql("SELECT count(*) FROM spock.zodan_runs WHERE operation LIKE 'physical%'"), '0',
    "no fence or probe left on n1");

# Writes on every member, n4 among them, after the join.
sleep 1;
$load->stop;
# The writers of a node that went down saw it go; nothing else is excused.
my %down = map { ($_ => 1) } $faults->spock_crashed;
is_deeply([ grep { !(/^(n\d+) / && $down{$1} && /crash of another server process|terminating connection|database system is/) } $load->errors ],
    [], "the writers ran without error");
cmp_ok($load->acked, '>', 0, "writers were writing during the add (" . $load->acked . " acknowledged)");
$c->converge(1 .. 4);
$load->check([ 1 .. 4 ], label => "during the add: ");
my $after = Zodan::Load->start($c, nodes => [ 1, 2, 3, 4 ], tps => 50, counting_only => 1);
sleep 2;
$after->stop;
is_deeply([ $after->errors ], [], "the writers on n1..n4 ran without error");
$c->converge(1 .. 4);
$after->check([ 1 .. 4 ], label => "after it: ");
$c->same_tables([ 1 .. 4 ], qw(items orders audit_log counters));
is($c->node($_)->sql("SELECT count(*) FROM spock.sub_show_status() WHERE status <> 'replicating'"),
    '0', "every subscription on n$_ replicating") for 1 .. 4;
is($c->node($_)->sql("SELECT count(*) FROM spock.sub_show_status()"), '3', "n$_ subscribes to the three others")
  for 1 .. 4;
$c->done;
