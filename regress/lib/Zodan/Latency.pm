# Write latency from pgbench's per-transaction logs (Zodan::Load's log_dir):
# the transactions that ended in a span of time, and their summary.
package Zodan::Latency;

use strict;
use warnings;
use List::Util qw(sum);
use POSIX qw(floor);

# Latencies (ms) of the writers' transactions that ended in [FROM, TO)
# (epoch seconds), from pgbench's per-transaction logs under DIR.
sub latencies {
    my ($dir, $from, $to) = @_;
    my @ms;
    for my $f (glob("$dir/*")) {
        open my $fh, '<', $f or next;
        while (<$fh>) {
            my @x = split;
            next unless @x >= 6 && $x[2] =~ /^\d+$/;
            my $end = $x[4] + $x[5] / 1e6;
            push @ms, $x[2] / 1000 if $end >= $from && $end < $to;
        }
    }
    return @ms;
}

sub percentile {
    my ($p, @v) = @_;
    return undef unless @v;
    @v = sort { $a <=> $b } @v;
    return $v[ floor($p / 100 * $#v + 0.5) ];
}

sub mean { return @_ ? sum(@_) / @_ : undef; }

# "avg/p95 ms (writes)"
sub summary {
    my (@ms) = @_;
    return '-' unless @ms;
    return sprintf("%.1f/%.1f ms (%d)", mean(@ms), percentile(95, @ms), scalar @ms);
}

# "avg/p95" alone, for a results file's column.
sub avg_p95 {
    my (@ms) = @_;
    return '-' unless @ms;
    return sprintf("%.1f/%.1f", mean(@ms), percentile(95, @ms));
}

# "step avg/p95 ms (writes)" for each of SPANS ([name, from, to]) during
# which writes ended, the steps of under 20 ms left out (too few writes to
# say anything).
sub by_step {
    my ($dir, @spans) = @_;
    my @parts;
    for my $s (@spans) {
        my ($name, $from, $to) = @$s;
        next if $to - $from < 0.02;
        my @ms = latencies($dir, $from, $to);
        push @parts, "$name " . summary(@ms) if @ms;
    }
    return join(', ', @parts);
}

1;
