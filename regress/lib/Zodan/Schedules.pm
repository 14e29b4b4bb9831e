# The adversarial schedules of "nothing lost, nothing applied twice": each
# builds its own cluster, makes one add (or two changes of membership at
# once) meet what a real cluster does to it (long transactions on the
# source and on a peer, a second join or a remove at the same moment,
# crashes of the source, a peer or the new node in the middle, and writes
# on every member all along), and then lets the checker of Zodan::Load and
# the table digests judge the result on every member.
#
#   my $r = Zodan::Schedules::run('long_txn_source');
#   # $r->{ok}, $r->{line}: one line of figures for the summary
#
# A schedule returns its figures; its assertions are ok()/is() in the
# caller's subtest, so a failure names the schedule and the property.
package Zodan::Schedules;

use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time sleep);
use Zodan::Mesh;
use Zodan::Load;
use Zodan::Faults;

# In the order they run; ZODAN_SCHEDULES (space-separated) picks some.
our @NAMES = qw(long_txn_source long_txn_peer concurrent_adds add_during_remove
  crash_source_mid_copy crash_source_late crash_peer crash_peer_at_copy_point
  crash_new_node_mid_copy crash_new_node_after_copy crash_new_node_mid_copy_rollback
  ddl_during_copy);

# Spock's DDL replication on every node, for the schedules that need it.
my $DDL_REPLICATION = "spock.enable_ddl_replication = on\nspock.include_ddl_repset = on\n";
my %CONF = (ddl_during_copy => $DDL_REPLICATION);

sub names { $ENV{ZODAN_SCHEDULES} ? split(' ', $ENV{ZODAN_SCHEDULES}) : @NAMES }

my %SCHEDULE = (
    long_txn_source         => \&long_txn_source,
    long_txn_peer           => \&long_txn_peer,
    concurrent_adds         => \&concurrent_adds,
    add_during_remove       => \&add_during_remove,
    crash_source_mid_copy   => \&crash_source_mid_copy,
    crash_source_late       => \&crash_source_late,
    crash_peer              => \&crash_peer,
    crash_peer_at_copy_point => \&crash_peer_at_copy_point,
    crash_new_node_mid_copy => \&crash_new_node_mid_copy,
    crash_new_node_after_copy  => \&crash_new_node_after_copy,
    crash_new_node_mid_copy_rollback => \&crash_new_node_mid_copy_rollback,
    ddl_during_copy         => \&ddl_during_copy,
);

# run(NAME) -> { line => figures, divergent => keys, checked => rows }
sub run {
    my ($name) = @_;
    my $body = $SCHEDULE{$name} or die "no schedule named $name\n";
    my $c = Zodan::Mesh->new(nodes => 5, conf => $CONF{$name} // '');
    my $r = eval { $body->($c) };
    my $died = $@;
    fail("schedule $name ran to its end") or diag($died) if $died;
    $c->checks;
    $c->teardown;
    $r //= { divergent => -1, checked => 0, line => "died: " . (split /\n/, $died // '')[0] };
    return $r;
}

# ---- building blocks -------------------------------------------------

# n1..nK meshed with the inventory tables, the real schema's (a
# partitioned table, a column of every hashed type) and a table `big` of
# ROWS rows (for a copy that lasts long enough to be hit in the middle),
# plus the zodan extension on every node that is to join. With DDL
# replication on (ddl => 1), tables made after the mesh are made on n1 and
# reach the others as DDL.
sub cluster_of {
    my ($c, $k, %o) = @_;
    $c->inventory($k);
    my $later = Zodan::Mesh::real_schema();
    $later .= "CREATE TABLE public.big (id bigint PRIMARY KEY, pad text NOT NULL);\n" if $o{big};
    my $sets = $o{ddl} ? '' : Zodan::Mesh::real_sets();
    $sets .= "SELECT spock.repset_add_table('default', 'public.big');\n" if $o{big} && !$o{ddl};
    for my $i ($o{ddl} ? 1 : 1 .. $k) {
        $c->node($i)->sql($later . $sets);
    }
    $c->node(1)->sql(Zodan::Mesh::real_rows());
    $c->node(1)->sql("INSERT INTO big SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, $o{big}) g")
      if $o{big};
    $c->converge(1 .. $k);
    $c->node($_)->sql("CREATE EXTENSION zodan") for $k + 1 .. scalar $c->nodes;
}

sub tables {
    my (%o) = @_;
    return (@Zodan::Faults::TABLES, @Zodan::Mesh::REAL_TABLES, $o{big} ? 'big' : (), @{ $o{extra} // [] });
}

sub add_sql {
    my ($c, $src, $new, @settings) = @_;
    my ($s, $n) = ($c->node($src), $c->node($new));
    return join('', map { "SET $_;\n" } @settings)
      . Zodan::Node::bind_params("CALL spock.add_node(\$1, \$2, \$3, \$4)", $s->name, $s->dsn, $n->name, $n->dsn);
}

# add(C, SRC, NEW) on the new node -> (rc, out, err, seconds). A call that
# failed because one of Spock's own workers crashed (docs/testing.md,
# "Spock's own crashes") is called once more after that node is started,
# and says so in the test's output, as Zodan::Faults does.
sub add {
    my ($c, $src, $new, @settings) = @_;
    my $t0 = time;
    my @r = Zodan::Faults->new($c, new => $new, src => $src)
      ->surviving_spock_crash(sub { $c->node($new)->psql(add_sql($c, $src, $new, @settings)) });
    return (@r, time - $t0);
}

sub remove_sql {
    my ($c, $target) = @_;
    my $n = $c->node($target);
    return Zodan::Node::bind_params("CALL spock.remove_node(\$1, \$2)", $n->name, $n->dsn);
}

sub errors_of { join ' | ', grep { /ERROR|FATAL|DETAIL/ } split /\n/, $_[0] // '' }

# A transaction with an xid, open on NODE for SECONDS from now; it writes
# one row of its own (audit_log ID), which must then arrive exactly once
# everywhere like any other write.
sub long_transaction {
    my ($c, $node, $seconds, $id) = @_;
    my $n = $c->node($node);
    my $h = $n->background("BEGIN;\nINSERT INTO audit_log VALUES ($id, 'long transaction on " . $n->name
          . "');\nSELECT pg_sleep($seconds);\nCOMMIT;", app => 'zodan_long_txn');
    $n->poll("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'zodan_long_txn'
               AND backend_xid IS NOT NULL AND state = 'active'", '1', 30, "the long transaction is open on n$node")
      or die "the long transaction did not start on n$node\n";
    return $h;
}

# A row written on every listed node reaches every other (a working mesh),
# then the judgement of the whole schedule: converged, every subscription
# replicating, identical tables, the checker on every member.
sub judge {
    my ($c, $load, $members, %o) = @_;
    my $ok = eval { $c->converge(@$members); 1 };
    ok($ok, "n" . join(', n', @$members) . " converge") or diag($@);
    for my $i (@$members) {
        $c->node($i)->sql("INSERT INTO audit_log VALUES (" . (800000 + $i) . ", 'mesh check from n$i')");
    }
    my $mesh = eval { $c->converge(@$members); 1 };
    ok($mesh, "a row written on each of n" . join(', n', @$members) . " reaches every other") or diag($@);
    my $f = Zodan::Faults->new($c);
    ok($f->all_replicating(@$members), "every subscription replicating on n" . join(', n', @$members));
    is_deeply([ differing($c, $members, tables(%o)) ], [], "n" . join(', n', @$members) . " hold identical tables");
    my $divergent = $load ? $load->check($members) : 0;
    return { divergent => $divergent, checked => $load ? $load->{checked_rows} : 0, acked => $load ? $load->acked : 0 };
}

sub differing {
    my ($c, $nodes, @tables) = @_;
    my ($first, @rest) = @$nodes;
    my @bad;
    for my $t (@tables) {
        my $ref = $c->digest($first, $t);
        push @bad, map { "$t on n$_" } grep { $c->digest($_, $t) ne $ref } @rest;
    }
    return @bad;
}

# CRASHED: nodes whose writers the crash ended (their errors are the crash's).
sub stop_load {
    my ($load, @crashed) = @_;
    sleep 1;    # writes go on a moment after the change, through its new paths
    $load->stop;
    my $theirs = join '|', map { "n$_ " } @crashed;
    is_deeply([ grep { !@crashed || !/^(?:$theirs)/ } $load->errors ], [],
        "the writers ran without error" . (@crashed ? " (but for those the crash ended)" : ''));
}

sub figures {
    my ($r, $fmt, @args) = @_;
    $r->{line} = sprintf($fmt, @args) . sprintf(", %d writes acknowledged, %d rows checked, %d divergent",
        $r->{acked}, $r->{checked}, $r->{divergent});
    return $r;
}

# Polls NODE until SQL returns 't'; false after SECONDS.
sub until_true {
    my ($n, $sql, $seconds) = @_;
    my $deadline = time + $seconds;
    while (time < $deadline) {
        my ($rc, $out) = $n->psql($sql, { quiet => 1 });
        return 1 if $rc == 0 && $out eq 't';
        sleep 0.02;
    }
    return 0;
}

# ---- the schedules ---------------------------------------------------

# A transaction with an xid open on the source for 25 s from just before
# the add; counting upserts on n1..n3 all along. The add waits for it (and
# says so) and must not lose a peer's update however long it stays open.
sub long_txn_source {
    my ($c) = @_;
    cluster_of($c, 3);
    my $load = Zodan::Load->start($c, nodes => [ 1, 2, 3 ], tps => 50);
    my $txn = long_transaction($c, 1, 25, 900001);
    my ($rc, $out, $err, $took) = add($c, 1, 4, "zodan.progress_interval = '5s'");
    is($rc, 0, "the add completes") or diag(errors_of($err));
    like($err, qr/wait.*transaction|transaction.*open/i, "the add said what it waited for");
    my ($trc, undef, $terr) = $txn->finish(60);
    is($trc, 0, "the long transaction committed") or diag($terr);
    stop_load($load);
    my $r = judge($c, $load, [ 1 .. 4 ]);
    return figures($r, "add %.1f s with a 25 s transaction open on the source", $took);
}

# The same on a peer (n2), 15 s: its slot for the new node waits for it.
sub long_txn_peer {
    my ($c) = @_;
    cluster_of($c, 3);
    my $load = Zodan::Load->start($c, nodes => [ 1, 2, 3 ], tps => 50);
    my $txn = long_transaction($c, 2, 15, 900002);
    my ($rc, $out, $err, $took) = add($c, 1, 4, "zodan.progress_interval = '5s'");
    is($rc, 0, "the add completes") or diag(errors_of($err));
    like($err, qr/n2/, "the add named the peer it waited on");
    my ($trc, undef, $terr) = $txn->finish(60);
    is($trc, 0, "the long transaction committed") or diag($terr);
    stop_load($load);
    my $r = judge($c, $load, [ 1 .. 4 ]);
    return figures($r, "add %.1f s with a 15 s transaction open on a peer", $took);
}

# Two adds started at the same moment through the same source, each on its
# own new node. The join lock lets one run; the other is refused having
# changed nothing, and succeeds when called again. The mesh is complete.
sub concurrent_adds {
    my ($c) = @_;
    cluster_of($c, 3);
    my $load = Zodan::Load->start($c, nodes => [ 1, 2, 3 ], tps => 50);
    my %call;
    $call{$_} = $c->node($_)->background(add_sql($c, 1, $_), app => "zodan_add_n$_") for 4, 5;
    my %res;
    @{ $res{$_} }{qw(rc out err)} = $call{$_}->finish(600) for 4, 5;
    my @won = grep { $res{$_}{rc} == 0 } 4, 5;
    my @refused = grep { $res{$_}{rc} != 0 } 4, 5;
    ok(@won >= 1, "at least one of the two adds succeeds") or diag(map { "n$_: " . errors_of($res{$_}{err}) } 4, 5);
    for my $i (@refused) {
        like($res{$i}{err}, qr/another change of the cluster's membership is running/,
            "the add of n$i was refused by the join lock") or diag(errors_of($res{$i}{err}));
        my ($rc, $out, $err) = add($c, 1, $i);
        is($rc, 0, "the add of n$i, called again, completes") or diag(errors_of($err));
    }
    stop_load($load);
    my $r = judge($c, $load, [ 1 .. 5 ]);
    return figures($r, "two adds at once: %d ran, %d refused and then added", scalar @won, scalar @refused);
}

# A remove of n3 and an add of n5 started at the same moment in n1..n4.
# One runs; the other is refused, changed nothing, and completes when
# called again. n1, n2, n4, n5 end meshed and n3 holds nothing of theirs.
sub add_during_remove {
    my ($c) = @_;
    cluster_of($c, 4);
    $c->node(3)->sql("CREATE EXTENSION zodan");    # remove_node runs on the node it removes
    my $load = Zodan::Load->start($c, nodes => [ 1, 2, 4 ], tps => 50);
    my $rm = $c->node(3)->background(remove_sql($c, 3), app => 'zodan_remove_n3');
    my $ad = $c->node(5)->background(add_sql($c, 1, 5), app => 'zodan_add_n5');
    my %res;
    @{ $res{remove} }{qw(rc out err)} = $rm->finish(600);
    @{ $res{add} }{qw(rc out err)}    = $ad->finish(600);
    my @refused = grep { $res{$_}{rc} != 0 } qw(remove add);
    ok(@refused <= 1, "at most one of the two is refused") or diag(map { "$_: " . errors_of($res{$_}{err}) } qw(remove add));
    for my $what (@refused) {
        like($res{$what}{err}, qr/another change of the cluster's membership is running/,
            "the $what was refused by the join lock") or diag(errors_of($res{$what}{err}));
        my ($rc, $out, $err) = $what eq 'add' ? add($c, 1, 5) : $c->node(3)->psql(remove_sql($c, 3));
        is($rc, 0, "the $what, called again, completes") or diag(errors_of($err));
    }
    is($c->node($_)->sql("SELECT count(*) FROM spock.node WHERE node_name = 'n3'"), '0', "n3 is no member on n$_")
      for 1, 2, 4, 5;
    stop_load($load);
    my $r = judge($c, $load, [ 1, 2, 4, 5 ]);
    return figures($r, "remove and add at once: %s refused and then done",
        @refused ? join(' and ', @refused) : 'nothing');
}

# The copy's COPY of a table is running on the source.
sub copy_running_sql {
    return "SELECT count(*) > 0 FROM pg_stat_activity
             WHERE application_name LIKE 'zodan%' AND query ILIKE 'COPY %TO STDOUT%'";
}

# The source crashes while the copy reads it; it comes back; the add,
# called again, resumes and completes, under writes on n2 and n3.
sub crash_source_mid_copy {
    my ($c) = @_;
    cluster_of($c, 3, big => 400000);
    my $load = Zodan::Load->start($c, nodes => [ 1, 2, 3 ], tps => 50);
    my $call = $c->node(4)->background(add_sql($c, 1, 4), app => 'zodan_add_n4');
    my $hit = until_true($c->node(1), copy_running_sql(), 60);
    ok($hit, "the copy was caught reading the source");
    $c->node(1)->crash;
    my ($rc1, undef, $err1) = $call->finish(300);
    isnt($rc1, 0, "the add fails with its source gone") or diag(errors_of($err1));
    $c->node(1)->start;
    my ($rc, $out, $err, $took) = add($c, 1, 4);
    is($rc, 0, "the add, called again, completes") or diag(errors_of($err));
    like($err, qr/resuming the unfinished run/, "it resumed the run");
    stop_load($load, 1);
    my $r = judge($c, $load, [ 1 .. 4 ], big => 1);
    return figures($r, "source crashed mid-copy, resumed add %.1f s", $took);
}

# NODE crashes while the add waits at STEP (held there by the pause
# lock); it comes back; the add goes on or, called again, resumes; or
# (WAY rollback) remove_node takes the half-joined n4 out again. Then the
# judgement, on n1..n4 or on n1..n3 with nothing of n4 left.
sub crash_at_step {
    my ($c, $node, $step, $way) = @_;
    cluster_of($c, 3);
    my $f = Zodan::Faults->new($c);
    my $load = Zodan::Load->start($c, nodes => [ 1, 2, 3 ], tps => 50);
    $f->hold_pause_lock;
    my $call = $c->node(4)->background(add_sql($c, 1, 4, "zodan.pause_at_step = '$step'"), app => 'zodan_add_n4');
    $f->wait_at_step($step, $call, timeout => 120) or die "the add did not reach $step\n";
    $c->node($node)->crash;
    $c->node($node)->start;
    $f->release_pause_lock;
    my ($rc1, undef, $err1) = $call->finish(300);
    note("the first call ended: " . errors_of($err1)) if $rc1 != 0;
    my $how;
    if ($way eq 'rollback') {
        my ($rc, undef, $err) = $f->remove;
        is($rc, 0, "remove_node rolls the add back") or diag(errors_of($err));
        stop_load($load, $node);
        is($f->leftovers, 0, "nothing of n4 left on any node");
        my $r = judge($c, $load, [ 1 .. 3 ]);
        return figures($r, "n$node crashed at $step, then rolled back");
    }
    my ($rc, $err, $took) = ($rc1, $err1, 0);
    if ($rc1 != 0) {
        (my $rc2, undef, $err, $took) = add($c, 1, 4);
        $rc = $rc2;
        like($err, qr/resuming the unfinished run/, "the add, called again, resumed the run");
    }
    is($rc, 0, "the add completes") or diag(errors_of($err));
    stop_load($load, $node);
    my $r = judge($c, $load, [ 1 .. 4 ]);
    return figures($r, "n$node crashed at $step, %s",
        $rc1 == 0 ? "the add went on" : sprintf("resumed add %.1f s", $took));
}

sub crash_peer                   { crash_at_step($_[0], 2, 'create_reverse_subscriptions', 'resume') }
sub crash_peer_at_copy_point     { crash_at_step($_[0], 2, 'sync_source', 'rollback') }
sub crash_source_late            { crash_at_step($_[0], 1, 'enable_other_subscriptions', 'resume') }
sub crash_new_node_after_copy    { crash_at_step($_[0], 4, 'advance_slots', 'resume') }

# The new node crashes (its caller with it) while the copy writes into it;
# it comes back; the add, called again, resumes and completes.
sub crash_new_node_mid_copy          { crash_new_node_mid_copy_then($_[0], 'resume') }
sub crash_new_node_mid_copy_rollback { crash_new_node_mid_copy_then($_[0], 'rollback') }

sub crash_new_node_mid_copy_then {
    my ($c, $way) = @_;
    cluster_of($c, 3, big => 400000);
    my $load = Zodan::Load->start($c, nodes => [ 1, 2, 3 ], tps => 50);
    my $call = $c->node(4)->background(add_sql($c, 1, 4), app => 'zodan_add_n4');
    my $hit = until_true($c->node(1), copy_running_sql(), 60);
    ok($hit, "the copy was caught reading the source");
    $c->node(4)->crash;
    $call->finish(60);
    $c->node(4)->start;
    if ($way eq 'rollback') {
        my ($rc, undef, $err) = Zodan::Faults->new($c)->remove;
        is($rc, 0, "remove_node rolls the add back") or diag(errors_of($err));
        stop_load($load);
        my $left = Zodan::Faults->new($c)->leftovers;
        # The copied table big is the copy's too: the rollback drops it.
        is($left, 0, "nothing of n4 left on any node");
        my $r = judge($c, $load, [ 1 .. 3 ], big => 1);
        return figures($r, "new node crashed mid-copy, then rolled back");
    }
    my ($rc, $out, $err, $took) = add($c, 1, 4);
    is($rc, 0, "the add, called again, completes") or diag(errors_of($err));
    like($err, qr/resuming the unfinished run/, "it resumed the run");
    stop_load($load);
    my $r = judge($c, $load, [ 1 .. 4 ], big => 1);
    return figures($r, "new node crashed mid-copy, resumed add %.1f s", $took);
}

# Spock's DDL replication on: while the copy reads the source, n2 creates
# a table and writes to it and n3 adds a column to a replicated table, under
# writes on n1..n3. The add completes; the new table reaches n4 with its
# rows and its set membership, and every member holds the same.
sub ddl_during_copy {
    my ($c) = @_;
    cluster_of($c, 3, big => 400000, ddl => 1);
    my $load = Zodan::Load->start($c, nodes => [ 1, 2, 3 ], tps => 50);
    my $call = $c->node(4)->background(add_sql($c, 1, 4), app => 'zodan_add_n4');
    my $hit = until_true($c->node(1), copy_running_sql(), 60);
    ok($hit, "the copy was caught reading the source");
    $c->node(2)->sql("CREATE TABLE public.newt (id int PRIMARY KEY, v text)");
    $c->node(2)->sql("INSERT INTO public.newt SELECT g, 'new ' || g FROM generate_series(1, 100) g");
    $c->node(3)->sql("ALTER TABLE public.events ADD COLUMN note text");
    $c->node(3)->sql("UPDATE public.events SET note = 'n3' WHERE id % 10 = 0");
    my ($rc, $out, $err, $took) = (($call->finish(600)), 0);
    is($rc, 0, "the add completes with DDL during its copy") or diag(errors_of($err));
    stop_load($load);
    my $members = "SELECT string_agg(m, ' ' ORDER BY m) FROM (SELECT rs.set_name || ':' || t.set_reloid::regclass AS m "
      . "FROM spock.replication_set_table t JOIN spock.replication_set rs USING (set_id)) s";
    my $r = judge($c, $load, [ 1 .. 4 ], big => 1, extra => ['newt']);
    is($c->node(4)->sql($members), $c->node(1)->sql($members), "n4's set memberships equal n1's");
    return figures($r, "DDL on two peers during the copy");
}

1;
