#!/usr/bin/env perl
# The physical add against our logical add (docs/physical.md), on one real
# Spock server, when n1..n2 hold ROWS rows in `big` (the data set of
# regress/bench-large.pl: about 260 MB per million, primary key and one more
# index) plus the inventory data set. Each measurement ends at a WORKING
# MESH (a row written on every node seen on every other, Zodan::MeshCheck,
# as regress/bench.pl measures it):
#   (a) physical, fresh backup   n4 made now: pg_basebackup of n1 straight
#                                into its data directory, started, streaming
#                                and caught up, then the CALL on it; timed
#                                from the backup's start (backup + catch-up
#                                + the CALL's start to a working mesh)
#   (b) physical, made before    n4 a standby of n1 made beforehand (not
#                                timed): the CALL alone, and its mesh
#   (c) logical                  the CALL on n3, an empty primary (our copy,
#                                as shipped), and its mesh
# and the fence's length (the copy_source step's fence_ms in n4's journal;
# the NOTICE's DETAIL when the journal lacks it). After each add the new
# node's `big` must equal n1's; then it is removed (spock.remove_node), and
# a standby's server discarded, so every measurement starts from the same
# cluster n1..n2. The physical path needs zodan in the source's database:
# CREATE EXTENSION zodan on n1 first (docs/physical.md, "Before you start").
#
#   ZODAN_PRIVATE_INSTALL=1 SPOCK=6 PG=18 perl regress/bench-physical.pl
# Every measurement RUNS times (2), the three in turn within a run, so all
# see the same machine; the summary takes each one's best. Targets
# (docs/benchmark.md): (a) >= 2.5x faster than (c) at 5M rows; (b) the
# CALL <= 2 s at any size.
# Environment: ROWS_LIST ("1000000 5000000"), RUNS, VERIFY (auto: every
# add as shipped, the comparison after the logical copy only; on or off:
# zodan.verify_data so for all three), RESULTS_DIR (where
# figures/physical_add.tsv is; "none": record nothing).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/lib";
use Zodan::Results;
# Opened before Zodan::Mesh may switch to the servers' OS user.
BEGIN {
    Zodan::Results::claim(physical_add => qw(rows size measurement runs total_s total_s_each_run backup_s catchup_s
                                             call_s mesh_s fence_ms copy_source_s steps));
}
use Zodan::Mesh;
use Zodan::AddStatus;
use Zodan::Bench;
use Zodan::MeshCheck;
use Zodan::Standby;
use Zodan::Terminal qw();
use Test::More;
use Time::HiRes qw(time);

Zodan::Terminal::quiet_tap();
my @rows_list = split ' ', ($ENV{ROWS_LIST} // '1000000 5000000');
my $runs = $ENV{RUNS} // 2;
/^\d+$/ or die "ROWS_LIST and RUNS are numbers\n" for @rows_list, $runs;
my $verify = $ENV{VERIFY} // 'auto';
$verify =~ /^(auto|on|off)$/ or die "VERIFY is auto, on or off\n";

out(Zodan::Results::header());
out("# zodan.verify_data = $verify for every add\n") if $verify ne 'auto';
out("# n3 (empty primary) or n4 (a hot standby of n1) joins n1..n2 holding `big` (ROWS rows) and the inventory data set\n");
my $failed;
for my $rows (@rows_list) {
    my $c = Zodan::Mesh->new(nodes => 3);
    eval { one_size($c, $rows); 1 } or do { $failed++; out("$rows rows: FAILED: $@"); };
    Zodan::Standby::discard($c, 4) if $c->nodes == 4;
    $c->teardown;
}
done_testing();
exit($failed ? 1 : 0);

sub out  { Zodan::Terminal::out(@_) }
sub outf { Zodan::Terminal::outf(@_) }
sub s2   { defined $_[0] ? sprintf('%.2f', $_[0]) : undef }
sub load { (split ' ', `cat /proc/loadavg`)[0] }

sub one_size {
    my ($c, $rows) = @_;
    $c->inventory(2);
    Zodan::Bench::big_table($c, $rows);
    my $n1 = $c->node(1);
    $n1->sql("CREATE EXTENSION zodan");
    my $size = $n1->sql("SELECT pg_size_pretty(pg_total_relation_size('public.big'))");
    my $db_size = $n1->sql("SELECT pg_size_pretty(sum(pg_database_size(oid))) FROM pg_database");
    my $want = Zodan::Bench::big_digest($n1);
    is(Zodan::Bench::big_digest($c->node(2)), $want, "n1 and n2 hold the same rows") or die "the data differs on n1 and n2\n";
    out("\n## $rows rows in big ($size with its indexes; n1's instance $db_size); load average " . load() . "\n");
    my (%best, %each);
    for my $run (1 .. $runs) {
        out("run $run of $runs (load average " . load() . ")\n") if $runs > 1;
        my %r;
        $r{c} = logical($c, $want);
        $r{a} = physical($c, $want, 'fresh');
        $r{b} = physical($c, $want, 'made before');
        for my $k (qw(a b c)) {
            push @{ $each{$k} }, $r{$k}{total_s};
            $best{$k} = $r{$k} if !$best{$k} || $r{$k}{total_s} < $best{$k}{total_s};
        }
    }
    out("best of $runs run(s):\n") if $runs > 1;
    my ($fresh, $before, $l) = @best{qw(a b c)};
    outf("- (a) physical from a fresh pg_basebackup %.2f s (backup %.2f + catch-up %.2f + CALL to mesh %.2f; the CALL %.2f, fence %s ms)\n",
        $fresh->{total_s}, $fresh->{backup_s}, $fresh->{catchup_s}, $fresh->{mesh_s}, $fresh->{call_s}, $fresh->{fence_ms} // '?');
    outf("- (b) physical from a standby made before: CALL %.2f s, mesh %.2f s, fence %s ms (target: the CALL <= 2 s: %s)\n",
        $before->{call_s}, $before->{mesh_s}, $before->{fence_ms} // '?', $before->{call_s} <= 2 ? 'met' : 'missed');
    # The comparison after the join runs in a physical add too, and grows
    # with the data: the CALL without it shows apart.
    my $b_verify = step_of($before->{steps}, 'verify_data');
    outf("  (b)'s CALL less its verify_data step (%.2f s): %.2f s\n", $b_verify, $before->{call_s} - $b_verify)
      if defined $b_verify;
    outf("- (c) logical: CALL %.2f s (copy_source %.2f s), mesh %.2f s\n", $l->{call_s}, $l->{copy_source_s}, $l->{mesh_s});
    outf("- a/c %.2f, c/a %.2f: (a) is %.2fx as fast as (c) (target at 5M: >= 2.5x%s)\n",
        $fresh->{total_s} / $l->{total_s}, $l->{total_s} / $fresh->{total_s}, $l->{total_s} / $fresh->{total_s},
        $rows >= 5000000 ? ': ' . ($l->{total_s} / $fresh->{total_s} >= 2.5 ? 'met' : 'missed') : ', not this size');
    outf("- b/c %.2f (the CALL alone against the logical add to a working mesh)\n", $before->{total_s} / $l->{total_s});
    my %common = (rows => $rows, size => $size, runs => $runs);
    my $each = sub { join(' / ', map { sprintf('%.2f', $_) } @{ $each{ $_[0] } }) };
    for my $way (['a', 'physical, fresh pg_basebackup (backup + catch-up + CALL to mesh)'],
                 ['b', 'physical, standby made before (the CALL to mesh)'],
                 ['c', 'logical, empty primary (the CALL to mesh)']) {
        my ($k, $what) = @$way;
        my $r = $best{$k};
        $what .= ", zodan.verify_data = $verify" if $verify ne 'auto';
        Zodan::Results::row(physical_add => { %common, measurement => $what, total_s => s2($r->{total_s}),
            total_s_each_run => $each->($k), backup_s => s2($r->{backup_s}), catchup_s => s2($r->{catchup_s}),
            call_s => s2($r->{call_s}), mesh_s => s2($r->{mesh_s}), fence_ms => $r->{fence_ms},
            copy_source_s => s2($r->{copy_source_s}), steps => $r->{steps} });
    }
}

# (c): our logical add of n3, an empty primary, then rolled back.
sub logical {
    my ($c, $want) = @_;
    my $n3 = $c->node(3);
    my $r = Zodan::Bench::timed_add($c, 'spock.add_node', 1, 3, "zodan.verify_data = $verify");
    die "the logical add failed: $r->{err}\n" unless $r->{ok};
    $c->converge(1 .. 3);
    is(Zodan::Bench::big_digest($n3), $want, "n3 holds n1's big after the logical add") or die "n3's big differs from n1's\n";
    $r->{copy_source_s} = (Zodan::AddStatus::step_ms($n3, 'copy_source') // 0) / 1000;
    $r->{steps} = Zodan::AddStatus::steps_line($n3);
    $r->{total_s} = $r->{mesh_s};
    outf("(c) logical add            CALL %7.2f s, copy_source %7.2f s, mesh %7.2f s\n    %s\n",
        $r->{call_s}, $r->{copy_source_s}, $r->{mesh_s}, $r->{steps});
    my ($rc, undef, $err) = $n3->psql("CALL spock.remove_node('n3', \$1, true, true)", $n3->dsn, { quiet => 1 });
    $rc == 0 or die "removing n3 again failed: " . Zodan::Bench::first_error($err) . "\n";
    $n3->sql("DROP TABLE IF EXISTS public.big, public.items, public.orders, public.audit_log, public.counters CASCADE;
              DROP EXTENSION zodan");
    return $r;
}

# (a) 'fresh': n4 made now and timed; (b) 'made before': n4 made first,
# not timed. Then the CALL on n4, removed afterwards, its server discarded.
sub physical {
    my ($c, $want, $how) = @_;
    my $n4 = Zodan::Standby->make($c, 1, 4, direct => 1);
    my %r = %{ $n4->{made} };
    my $mesh = Zodan::MeshCheck::arm($c, [ 1, 2, 4 ], $Zodan::Bench::MESH_TIMEOUT);
    my $sql = Zodan::Node::bind_params("SET zodan.copy_method = 'physical';\nSET zodan.verify_data = $verify;\nCALL spock.add_node('n1', \$1, 'n4', \$2)",
        $c->node(1)->dsn, $n4->dsn);
    my $t0 = time;
    my ($rc, $out, $err, $stamps) = stamped_call($n4, $sql);
    $r{call_s} = time - $t0;
    my $log = sprintf("%s/call-physical-%d.log", $ENV{TESTDIR}, ++$Zodan::Bench::CALLS);
    if (open my $fh, '>', $log) { print $fh ($out // ''), "\n", ($err // ''); close $fh; }
    if ($rc != 0) {
        Zodan::MeshCheck::disarm($mesh);
        die "the physical add ($how) failed: " . Zodan::Bench::first_error($err) . " (the CALL's output: $log)\n";
    }
    my $seen = Zodan::MeshCheck::fire($mesh);
    defined $seen or die "after the physical add ($how), no working mesh within $Zodan::Bench::MESH_TIMEOUT s: "
      . $Zodan::MeshCheck::MISSING . " (the CALL's output: $log)\n";
    $r{mesh_s} = $seen - $t0;
    $r{total_s} = $how eq 'fresh' ? $r{backup_s} + $r{catchup_s} + $r{mesh_s} : $r{mesh_s};
    ($r{fence_ms}) = Zodan::AddStatus::figures($n4, 'copy_source', 'fence_ms') =~ /fence_ms (\d+)/;
    ($r{fence_ms}) = ($err // '') =~ /the fence held (\d+) ms/ unless defined $r{fence_ms};
    $r{steps} = steps_from_notices($n4, $stamps, $t0 + $r{call_s});
    # From the NOTICEs too: the journal holds only the step's part after
    # the promotion.
    $r{copy_source_s} = step_of($r{steps}, 'copy_source');
    $c->converge(1, 2, 4);
    is(Zodan::Bench::big_digest($n4), $want, "n4 holds n1's big after the physical add ($how)") or die "n4's big differs from n1's\n";
    if ($how eq 'fresh') {
        outf("(a) physical, fresh backup %7.2f s: backup %.2f s, catch-up %.2f s, CALL %.2f s (mesh %.2f s after its start), fence %s ms\n",
            $r{total_s}, $r{backup_s}, $r{catchup_s}, $r{call_s}, $r{mesh_s}, $r{fence_ms} // '?');
    } else {
        outf("(b) physical, made before  CALL %7.2f s, mesh %7.2f s, fence %s ms (the standby took backup %.2f s, catch-up %.2f s)\n",
            $r{call_s}, $r{mesh_s}, $r{fence_ms} // '?', $r{backup_s}, $r{catchup_s});
    }
    out("    $r{steps}\n");
    # What the journal says of the waits that grow with the load or the data.
    my $figures = join('; ', grep { $_ ne '' } Zodan::AddStatus::figures($n4, 'check_preconditions', 'replay_ms'),
        Zodan::AddStatus::verify_parts($n4));
    out("    $figures\n") if $figures ne '';
    ($rc, undef, $err) = $n4->psql("CALL spock.remove_node('n4', \$1, true, true)", $n4->dsn, { quiet => 1 });
    $rc == 0 or die "removing n4 again failed: " . Zodan::Bench::first_error($err) . "\n";
    Zodan::Standby::discard($c, 4);
    return \%r;
}

# The CALL, each line of its NOTICEs stamped with the moment psql printed
# it: the physical run's journal starts on the new node at its promotion,
# so the steps before it show 0 ms there; their NOTICEs show when each began.
# Returns (exit code, stdout, stderr, [[epoch s, line], ...]).
sub stamped_call {
    my ($n, $sql) = @_;
    my $bg = $n->background($sql, app => 'zodan_bench_call');
    my ($h, $err, $done, @stamps) = ($bg->{h}, $bg->{err}, 0);
    while ($h->pumpable) {
        $h->pump;
        my $now = time;
        while ((my $nl = index($$err, "\n", $done)) >= 0) {
            push @stamps, [ $now, substr($$err, $done, $nl - $done) ];
            $done = $nl + 1;
        }
    }
    my ($rc, $out, $all) = $bg->finish(5);
    return ($rc, $out, $all, \@stamps);
}

# "step ms, ..." of the CALL, each step's time from its NOTICE to the next
# step's (the last step's to the CALL's end), named as in the journal.
sub steps_from_notices {
    my ($n, $stamps, $end) = @_;
    my @names = map { $_->[0] } Zodan::AddStatus::steps($n);
    my @begun = map { $_->[1] =~ /NOTICE:  add_node step (\d+)\/\d+:/ ? [ $1, $_->[0] ] : () } @$stamps;
    my @parts;
    for my $k (0 .. $#begun) {
        my ($step, $from) = @{ $begun[$k] };
        my $to = $k < $#begun ? $begun[ $k + 1 ][1] : $end;
        push @parts, sprintf('%s %d', $names[$step] // "step $step", ($to - $from) * 1000);
    }
    return join(', ', @parts);
}

# A step's seconds out of a "step ms, ..." line.
sub step_of {
    my ($line, $step) = @_;
    return $line =~ /(?:^|, )\Q$step\E (\d+)/ ? $1 / 1000 : undef;
}

# count and an order-free sum of the rows' hashes: one scan, no limit on
# the table's size (regress/bench-large.pl).
