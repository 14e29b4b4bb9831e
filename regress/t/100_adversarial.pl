# Nothing lost, nothing applied twice, under adversarial schedules: long
# transactions on the source and on a peer, two joins at once, a join and
# a remove at once, crashes of the source, a peer and the new node in the
# middle of an add, with writes on every member all along
# (regress/lib/Zodan/Schedules.pm). After each, the checker of
# Zodan::Load finds every acknowledged write exactly once on every member
# and the tables identical.
#
# ZODAN_ADVERSARIAL_RUNS=N repeats every schedule N times (default 1);
# ZODAN_SCHEDULES="a b" runs only those. One summary line per schedule and
# one in all.
#
# ZODAN_DELAY_MS=D puts every node behind a delay of D ms each way
# (Zodan::Mesh); CI runs the suite once so, at a 100 ms round trip.
# delayed: across a 100 ms round trip too (regress/test-all.sh)
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use Zodan::Schedules;
use Test::More;
use Time::HiRes qw(time);

my $runs = $ENV{ZODAN_ADVERSARIAL_RUNS} // 1;
my (%passed, %lines, $total_divergent, $total_checked, $total_runs);
my $t0 = time;
for my $name (Zodan::Schedules::names()) {
    for my $run (1 .. $runs) {
        my $r;
        my $ok = subtest "$name, run $run of $runs" => sub { $r = Zodan::Schedules::run($name) };
        $passed{$name}++ if $ok;
        push @{ $lines{$name} }, $r->{line} if $r;
        $total_runs++;
        $total_divergent += $r->{divergent} > 0 ? $r->{divergent} : 0 if $r;
        $total_checked += $r->{checked} // 0 if $r;
    }
}
for my $name (Zodan::Schedules::names()) {
    diag(sprintf("%-34s %d of %d runs passed; %s", $name, $passed{$name} // 0, $runs, $_)) for @{ $lines{$name} // [] };
}
my $npassed = 0;
$npassed += $_ for values %passed;
my $link = $ENV{ZODAN_DELAY_MS} ? sprintf(", %d ms round trip", 2 * $ENV{ZODAN_DELAY_MS}) : '';
diag(sprintf("adversarial: %d runs of %d schedules, %d passed, %d divergent keys in %d rows checked, %.0f s%s",
    $total_runs, scalar(Zodan::Schedules::names()), $npassed,
    $total_divergent, $total_checked, time - $t0, $link));
done_testing();
