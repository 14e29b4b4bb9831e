#!/usr/bin/env perl
# Large-data benchmark on one real Spock server: adding n3 to n1..n2 when
# they hold ROWS rows (about 260 MB per million) in one indexed table `big`
# plus the inventory data set, against the bare copy of the same data:
#   pg_dump|psql       pg_dump -t big of n1 piped into psql, one stream
#   pg_dump -Fd -j     pg_dump -Fd -j STREAMS of n1, then pg_restore -j STREAMS
#   zodan              spock.add_node with its own copy (zodan.copy_streams
#                      STREAMS when given, else its default: one per CPU, at
#                      most 4)
#   spock sync         Spock's own single-stream initial sync, by hand as
#                      pgEdge's tutorial does it: n3 made a node, sub_create
#                      with synchronize_structure and _data, until
#                      sub_wait_for_sync returns (the copy alone: no mesh)
# For each add: the CALL, the copy step (copy_source) within it, and our
# overhead over the copy (the CALL less copy_source). The bare copies go into
# a database of their own on n3 (no Spock there), dropped afterwards; each
# add is rolled back with spock.remove_node before the next, so every
# measurement starts from the same cluster. The data is generated on each
# node in repair mode (the same rows everywhere, not replicated).
#
#   SPOCK=6 PG=15 perl regress/bench-large.pl
# Every measurement RUNS times (2), the five in turn within a run, so all
# see the same machine; the summary takes each one's best.
# Environment: ROWS_LIST ("1000000 5000000"), STREAMS (the CPUs, at most 4:
# what zodan.copy_streams picks by default), RUNS, RESULTS_DIR (where
# figures/large_data.tsv is; "none": record nothing).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/lib";
use Zodan::Results;
# Opened before Zodan::Mesh may switch to the servers' OS user.
BEGIN {
    Zodan::Results::claim(large_data => qw(rows size measurement streams runs call_s call_s_each_run copy_source_s
                                           copy_parts_s verify_data_s rest_s mesh_s));
}
use Zodan::Mesh;
use Zodan::AddStatus;
use Zodan::Bench;
use Zodan::Terminal qw();
use Test::More;
use Time::HiRes qw(time);

Zodan::Terminal::quiet_tap();
my @rows_list = split ' ', ($ENV{ROWS_LIST} // '1000000 5000000');
my $cpus = `nproc` + 0 || 1;
my $streams = $ENV{STREAMS} // ($cpus > 4 ? 4 : $cpus);
my $runs = $ENV{RUNS} // 2;
/^\d+$/ or die "ROWS_LIST, STREAMS and RUNS are numbers\n" for @rows_list, $streams, $runs;
my @stream_setting = defined $ENV{STREAMS} ? ("zodan.copy_streams = $streams") : ();
my $bindir = Zodan::Mesh::bindir();

out(Zodan::Results::header());
out("# n3 joins n1..n2 holding `big` (ROWS rows, primary key and one more index) and the inventory data set\n");
my $failed;
for my $rows (@rows_list) {
    my $c = Zodan::Mesh->new(nodes => 3);
    eval { one_size($c, $rows); 1 } or do { $failed++; out("$rows rows: FAILED: $@"); };
    $c->teardown;
}
done_testing();
exit($failed ? 1 : 0);

sub out  { Zodan::Terminal::out(@_) }
sub outf { Zodan::Terminal::outf(@_) }
sub s2   { defined $_[0] ? sprintf('%.2f', $_[0]) : undef }

sub one_size {
    my ($c, $rows) = @_;
    $c->inventory(2);
    Zodan::Bench::big_table($c, $rows);
    my ($n1, $n3) = ($c->node(1), $c->node(3));
    my $size = $n1->sql("SELECT pg_size_pretty(pg_total_relation_size('public.big'))");
    is(Zodan::Bench::big_digest($c->node(2)), Zodan::Bench::big_digest($c->node(1)), "n1 and n2 hold the same rows") or die "the data differs on n1 and n2\n";
    out("\n## $rows rows in big ($size with its indexes)\n");
    my (%t, %copy, %each, %add);
    my $best = sub { my ($k, $v) = @_; push @{ $each{$k} }, $v; $t{$k} = $v if !defined $t{$k} || $v < $t{$k}; };
    for my $run (1 .. $runs) {
        out("run $run of $runs\n") if $runs > 1;
        $best->(pipe => bare($c, "pg_dump|psql", sub {
            my ($db) = @_;
            sh(env_for($n1) . " '$bindir/pg_dump' -h 127.0.0.1 -p " . $n1->port . " -U pgedge -t public.big " . $n1->db
               . " | " . env_for($n3) . " '$bindir/psql' -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p " . $n3->port . " -U pgedge $db");
        }));
        $best->(dir => bare($c, "pg_dump -Fd -j $streams | pg_restore -j $streams", sub {
            my ($db) = @_;
            my $dir = "$ENV{TESTDIR}/dump-" . int(rand(1e9));
            sh(env_for($n1) . " '$bindir/pg_dump' -Fd -j $streams -f '$dir' -h 127.0.0.1 -p " . $n1->port
               . " -U pgedge -t public.big " . $n1->db);
            sh(env_for($n3) . " '$bindir/pg_restore' -j $streams -h 127.0.0.1 -p " . $n3->port . " -U pgedge -d $db '$dir'");
            sh("rm -rf '$dir'");
        }));
        my $sync_s = spock_sync($c);
        push @{ $each{spock} }, $sync_s;
        $copy{spock} = $sync_s if !defined $copy{spock} || $sync_s < $copy{spock};
        # Ours as it ships, and ours without the comparison of the tables
        # after the join (what it costs shows apart).
        for my $way (['zodan', 'on'], ['zodan, no verify', 'off']) {
            my ($label, $verify) = @$way;
            my $r = Zodan::Bench::timed_add($c, 'spock.add_node', 1, 3, @stream_setting, "zodan.verify_data = $verify");
            die "the add ($label) failed: $r->{err}\n" unless $r->{ok};
            $c->converge(1 .. 3);
            is(Zodan::Bench::big_digest($n3), Zodan::Bench::big_digest($n1), "n3 holds n1's big after the add ($label)")
              or die "n3's big differs from n1's after the add ($label)\n";
            my $copy = Zodan::AddStatus::step_ms($n3, 'copy_source') / 1000;
            my $verify_s = (Zodan::AddStatus::step_ms($n3, 'verify_data') // 0) / 1000;
            my $line = sprintf("add, copy %-16s CALL %7.2f s, copy_source %7.2f s, verify_data %5.2f s, the rest %5.2f s, mesh %7.2f s",
                $label, $r->{call_s}, $copy, $verify_s, $r->{call_s} - $copy - $verify_s, $r->{mesh_s});
            # Our copy's parts, from the step's own record.
            my $parts = Zodan::AddStatus::copy_parts($n3);
            $line .= "\n    copy: $parts" if $parts ne '';
            out("$line\n    " . Zodan::AddStatus::steps_line($n3) . "\n");
            push @{ $each{$label} }, $r->{call_s};
            if (!$t{$label} || $r->{call_s} < $t{$label}{call_s}) {
                $t{$label} = $r;
                $add{$label} = { copy => $copy, verify => $verify_s, parts => seconds_of_parts($parts) };
            }
            $copy{$label} = $copy if !defined $copy{$label} || $copy < $copy{$label};
            my ($rc, undef, $err) = $n3->psql("CALL spock.remove_node('n3', \$1, true, true)", $n3->dsn, { quiet => 1 });
            $rc == 0 or die "removing n3 again failed: " . Zodan::Bench::first_error($err) . "\n";
            $n3->sql("DROP TABLE IF EXISTS public.big, public.items, public.orders, public.audit_log, public.counters CASCADE;
                      DROP EXTENSION zodan");
        }
    }
    out("best of $runs run(s):\n") if $runs > 1;
    my $bare = $t{dir} < $t{pipe} ? $t{dir} : $t{pipe};
    for my $label ('zodan', 'zodan, no verify') {
        my $over = $t{$label}{call_s} - $bare;
        outf("- our add (%s) %.2f s against the faster bare copy %.2f s: overhead %.2f s (target <= 0.5 s: %s)\n",
          $label, $t{$label}{call_s}, $bare, $over, $over <= 0.5 ? 'met' : 'missed');
    }
    # Our copy is the same with and without the comparison after it.
    my $ours = $copy{zodan} < $copy{'zodan, no verify'} ? $copy{zodan} : $copy{'zodan, no verify'};
    my $spock = $copy{spock};
    outf("- our copy (copy_source, best of %d) %.2f s against Spock's sync (best of %d) %.2f s: %s\n",
      2 * $runs, $ours, $runs, $spock, $ours <= $spock ? 'no slower' : 'slower');
    # The figures file: a row per measurement, its best run.
    my %common = (rows => $rows, size => $size, streams => $streams, runs => $runs);
    my $each = sub { join(' / ', map { sprintf('%.2f', $_) } @{ $each{ $_[0] } }) };
    Zodan::Results::row(large_data => { %common, measurement => 'bare pg_dump | psql', call_s => s2($t{pipe}),
        call_s_each_run => $each->('pipe') });
    Zodan::Results::row(large_data => { %common, measurement => "bare pg_dump -Fd -j S + pg_restore -j S",
        call_s => s2($t{dir}), call_s_each_run => $each->('dir') });
    Zodan::Results::row(large_data => { %common, measurement => "Spock's initial sync by hand (the copy alone)",
        call_s => s2($copy{spock}), call_s_each_run => $each->('spock'), copy_source_s => s2($copy{spock}) });
    for my $way (['zodan', 'add, our copy'], ['zodan, no verify', 'add, our copy, zodan.verify_data = off']) {
        my ($label, $what) = @$way;
        my ($r, $a) = ($t{$label}, $add{$label});
        Zodan::Results::row(large_data => { %common, measurement => $what, call_s => s2($r->{call_s}),
            call_s_each_run => $each->($label), copy_source_s => s2($a->{copy}), copy_parts_s => $a->{parts},
            verify_data_s => s2($a->{verify}), rest_s => s2($r->{call_s} - $a->{copy} - $a->{verify}),
            mesh_s => s2($r->{mesh_s}) });
    }
}

# Spock's own initial sync of n1's sets into n3, timed from node_create to
# the end of sub_wait_for_sync, then undone; returns the seconds.
sub spock_sync {
    my ($c) = @_;
    my ($n1, $n3) = ($c->node(1), $c->node(3));
    $n3->sql("CREATE EXTENSION IF NOT EXISTS spock");
    my $t0 = time;
    my ($rc, undef, $err) = $n3->psql("SELECT spock.node_create('n3', \$1)", $n3->dsn, { quiet => 1 });
    $rc == 0 or die "spock.node_create on n3 failed: " . Zodan::Bench::first_error($err) . "\n";
    ($rc, undef, $err) = $n3->psql("SELECT spock.sub_create('sub_n1_n3', \$1, synchronize_structure => true,
                                     synchronize_data => true)", $n1->dsn, { quiet => 1 });
    $rc == 0 or die "spock.sub_create on n3 failed: " . Zodan::Bench::first_error($err) . "\n";
    $n3->sql("SELECT spock.sub_wait_for_sync('sub_n1_n3')");
    my $took = time - $t0;
    is(Zodan::Bench::big_digest($n3), Zodan::Bench::big_digest($n1), "n3 holds n1's big after Spock's sync")
      or die "n3's big differs from n1's after Spock's sync\n";
    out(sprintf("Spock's sync by hand  %7.2f s (the copy alone)\n", $took));
    $n3->sql("SELECT spock.sub_disable('sub_n1_n3')");
    $n3->poll("SELECT count(*) = 0 FROM pg_stat_activity WHERE application_name LIKE '%sub_n1_n3%'", 't', 60,
        "Spock's apply worker on n3 stopped");
    $n3->sql("SELECT spock.sub_drop('sub_n1_n3'); SELECT spock.node_drop('n3');
              DROP TABLE IF EXISTS public.big, public.items, public.orders, public.audit_log, public.counters CASCADE");
    return $took;
}

# "structure + data + indexes" in seconds, out of the copy's own record
# ("structure_ms 70, data_ms 780, indexes_ms 520"); undef for Spock's sync.
sub seconds_of_parts {
    my ($parts) = @_;
    my %ms = $parts =~ /(\w+)_ms (\d+)/g;
    return undef unless defined $ms{data};
    return join(' + ', map { sprintf('%.2f', ($ms{$_} // 0) / 1000) } qw(structure data indexes));
}

# count and an order-free sum of the rows' hashes: one scan, no limit on
# the table's size.
# A bare copy into a fresh database on n3; returns its seconds.
sub bare {
    my ($c, $what, $run) = @_;
    my ($n1, $n3) = ($c->node(1), $c->node(3));
    my $db = "bare_" . int(rand(1e6));
    $n3->sql("CREATE DATABASE $db", { db => 'postgres' });
    my $t0 = time;
    $run->($db);
    my $s = time - $t0;
    my $got = $n3->sql("SELECT count(*) FROM public.big", { db => $db });
    my $want = $n1->sql("SELECT count(*) FROM public.big");
    $n3->sql("DROP DATABASE $db", { db => 'postgres' });
    die "$what copied $got of $want rows\n" unless $got eq $want;
    outf("bare copy, %-40s %7.2f s\n", $what, $s);
    return $s;
}

sub env_for { my ($n) = @_; return "PGPASSWORD='" . $n->password . "'" }

sub sh {
    my ($cmd) = @_;
    my $out = `$cmd 2>&1`;
    die "failed: " . ($out =~ s/password\S*/***/gr) . "\n" if $? != 0;
}
