#!/usr/bin/env perl
# Demo: a local three-node cluster under write load on all three nodes; n4
# joins with spock.add_node while the writes go on; then the load stops and
# each node's row counts and checksums are printed (all four identical),
# with the add's wall time and the checker's verdict on every acknowledged
# write. The cluster is the tests' own (regress/lib/Zodan/: real Spock,
# servers on 127.0.0.1 only, stopped at the end however the demo ends).
#
#   perl regress/demo.pl          (regress/demo.sh installs the packages first)
# SPOCK and PG pick the server (6 and 15 by default), as for the tests.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/lib";
use Zodan::Mesh;
use Zodan::Load;
use Zodan::Terminal qw();
use Test::More;
use Time::HiRes qw(time sleep);

Zodan::Terminal::quiet_tap();
sub out { Zodan::Terminal::out(@_) }
my @tables = qw(items orders audit_log counters);

out("== PostgreSQL " . Zodan::Mesh::pg_major() . " with Spock " . Zodan::Mesh::spock_version()
    . " (built by regress/build-spock.sh or reused), zodan built and installed into it\n");
out("== starting n1..n4; meshing n1..n3 with tables " . join(', ', @tables) . "\n");
my $c = Zodan::Mesh->new(nodes => 4);
$c->inventory(3);
my ($n1, $n4) = ($c->node(1), $c->node(4));
$n4->sql("CREATE EXTENSION zodan");

out("== write load on n1, n2 and n3 (upserts, inserts, updates, deletes; 100 transactions a second each)\n");
my $load = Zodan::Load->start($c, nodes => [ 1, 2, 3 ], tps => 50);
sleep 2;
out("== on n4: CALL spock.add_node('n1', <n1 dsn>, 'n4', <n4 dsn>, verb := true)\n");
my $t0 = time;
my ($rc, $out, $err) = $n4->psql("SET client_min_messages = notice;\nCALL spock.add_node('n1', \$1, 'n4', \$2, verb := true)",
    $n1->dsn, $n4->dsn, { quiet => 1 });
my $took = time - $t0;
out(map { "   " . s/^psql:<stdin>:\d+: //r . "\n" } grep { /\S/ } split /\n/, $err // '');
die "add_node failed\n" if $rc != 0;
sleep 2;

out("== stopping the load; waiting until every node has applied everything\n");
$load->stop;
my @errors = $load->errors;
die "a writer failed: @errors\n" if @errors;
$c->converge(1 .. 4);

out(sprintf("\n%-5s %s\n", 'node', join(' ', map { sprintf('%-44s', $_) } @tables)));
my %digest;
for my $i (1 .. 4) {
    $digest{$i}{$_} = $c->digest($i, $_) for @tables;
    out(sprintf("%-5s %s\n", "n$i", join(' ', map { sprintf('%-44s', $digest{$i}{$_}) } @tables)));
}
my $same = !grep { my $i = $_; grep { $digest{$i}{$_} ne $digest{1}{$_} } @tables } 2 .. 4;
my $divergent = $load->check([ 1 .. 4 ]);
out(sprintf("\nadd_node wall time: %.0f ms\n", $took * 1000));
out(sprintf("writes acknowledged during the demo: %d; each found exactly once on every node: %s\n", $load->acked,
    $divergent ? "NO ($divergent divergent keys)" : 'yes'));
out("all four nodes identical: " . ($same ? 'yes' : 'NO') . "\n");
done_testing();
exit($same && !$divergent ? 0 : 1);
