# What CPU the servers and the machine used, from /proc: the machine's busy
# share (/proc/stat), each server's CPU by the kind of its processes
# (/proc/<pid>/stat of the postmaster and its children), and the sessions
# each server started (pg_stat_database). Read before and after something
# (an add, a burst of load), the difference is what it cost.
package Zodan::CpuUse;

use strict;
use warnings;
use POSIX ();

our $CLK_TCK = POSIX::sysconf(POSIX::_SC_CLK_TCK()) || 100;

# The machine's CPU time from /proc/stat: (busy, total) in ticks.
sub cpu_ticks {
    open my $fh, '<', '/proc/stat' or return (0, 0);
    my ($line) = grep { /^cpu\s/ } <$fh>;
    close $fh;
    my (undef, $user, $nice, $system, $idle, $iowait, $irq, $softirq, $steal) = split ' ', $line // '';
    my $busy = ($user // 0) + ($nice // 0) + ($system // 0) + ($irq // 0) + ($softirq // 0) + ($steal // 0);
    return ($busy, $busy + ($idle // 0) + ($iowait // 0));
}

# How busy the whole machine was between two cpu_ticks readings: 1 is
# every CPU busy all the time; undef when no tick passed.
sub busy_share {
    my ($t0, $t1) = @_;
    return $t1->[1] > $t0->[1] ? ($t1->[0] - $t0->[0]) / ($t1->[1] - $t0->[1]) : undef;
}

# CPU time (ms) each server of cluster C has used, by what its processes
# are: the postmaster's count of its ended children (backends that
# connected and left) plus every live process's own, children included.
sub server_cpu {
    my ($c) = @_;
    my %ms;
    for my $n ($c->nodes) {
        my $pm = $n->postmaster_pid or next;
        my %by;
        for my $pid ($pm, children_of($pm)) {
            my @f = stat_fields($pid) or next;
            my ($u, $s, $cu, $cs) = @f[11 .. 14];
            if ($pid != $pm) {
                open my $cf, '<', "/proc/$pid/cmdline" or next;
                my $cmd = do { local $/; <$cf> } // '';
                close $cf;
                $cmd =~ s/\0+$//;
                $cmd =~ tr/\0/ /;
                $by{ process_kind($cmd) } += ticks_ms($u + $s + $cu + $cs);
            } else {
                $by{postmaster} += ticks_ms($u + $s);
                $by{ended} += ticks_ms($cu + $cs);
            }
        }
        $ms{ $n->name } = \%by;
    }
    return \%ms;
}

# The fields of /proc/<pid>/stat from the third (state) on: [11 .. 14] are
# utime, stime, cutime, cstime in ticks.
sub stat_fields {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/stat" or return;
    my $stat = <$fh>;
    close $fh;
    return parse_stat($stat);
}

sub parse_stat {
    my ($stat) = @_;
    $stat =~ s/^.*\)\s+// or return;
    return split ' ', $stat;
}

sub ticks_ms { return $_[0] * 1000 / $CLK_TCK; }

# All the servers' CPU time (ms) of one server_cpu reading.
sub server_cpu_total {
    my ($reading) = @_;
    my $ms = 0;
    for my $by (values %$reading) { $ms += $_ for values %$by; }
    return $ms;
}

sub children_of {
    my ($pm) = @_;
    my $file = "/proc/$pm/task/$pm/children";
    open my $fh, '<', $file or return;
    my @pids = split ' ', (<$fh> // '');
    close $fh;
    return @pids;
}

sub process_kind {
    my ($cmd) = @_;
    return 'apply' if $cmd =~ /spock apply/;
    return 'manager' if $cmd =~ /spock (manager|supervisor)/;
    return 'walsender' if $cmd =~ /walsender/;
    return 'backend' if $cmd =~ /^postgres: (?:\S+: )?\S+ \S+ (?:127\.|\[local\])/;
    return 'other';
}

# Sessions each server has started so far (pg_stat_database).
sub sessions {
    my ($c) = @_;
    my %n;
    for my $node ($c->nodes) {
        $n{ $node->name } = eval { $node->sql("SELECT sum(sessions) FROM pg_stat_database") } // 0;
    }
    return %n;
}

sub by_node_number { ($a =~ /(\d+)/)[0] <=> ($b =~ /(\d+)/)[0] }

# "sessions started: n1 3 n2 4 ..." between two sessions() readings.
sub sessions_started {
    my ($before, $after) = @_;
    return 'sessions started: ' . join(' ', map { "$_ " . ($after->{$_} - ($before->{$_} // 0)) }
        sort by_node_number keys %$after);
}

# The difference of two server_cpu readings, as one line per server.
sub cpu_spent {
    my ($before, $after) = @_;
    my @lines;
    my %total;
    for my $node (sort by_node_number keys %$after) {
        my ($b, $a) = ($before->{$node} // {}, $after->{$node});
        # A process that ended moved its time from its kind to 'ended'.
        my $sum = 0;
        my %d;
        for my $k (keys %$a, keys %$b) { next if exists $d{$k}; $d{$k} = ($a->{$k} // 0) - ($b->{$k} // 0); }
        $sum += $_ for values %d;
        $total{$_} += $d{$_} for keys %d;
        push @lines, sprintf("%s %.0f ms (%s)", $node, $sum, kinds(\%d));
    }
    my $all = 0;
    $all += $_ for values %total;
    unshift @lines, sprintf("servers' CPU during the CALL: %.0f ms (%s)", $all, kinds(\%total));
    return @lines;
}

sub kinds {
    my ($d) = @_;
    return join(' ', map { sprintf('%s %+.0f', $_, $d->{$_}) } grep { abs($d->{$_}) >= 10 } sort keys %$d);
}

# "the CALL's backend N ms, its programs M ms" out of a backend's own
# /proc/self/stat line (read by the backend with pg_read_file).
sub backend_line {
    my ($stat) = @_;
    my @f = parse_stat($stat) or return;
    return sprintf("the CALL's backend %.0f ms, its programs %.0f ms", ticks_ms($f[11] + $f[12]), ticks_ms($f[13] + $f[14]));
}

1;
