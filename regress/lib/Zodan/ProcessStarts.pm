# Which processes each server started, and what started them, read from
# the servers' logs: the nodes must log every connection and Spock's LOG
# lines (log_connections = on, log_min_messages = log, log_timezone = UTC;
# log_settings() gives them). The kinds: ours (the product's sessions,
# pg_dump, pg_restore), sub_create (Spock's sub_create checking its provider
# and its own node; "(replication)" for its replication connection), apply
# worker (the walsender an apply worker starts on its provider: one per
# apply worker), manager without Spock (a manager Spock's supervisor starts
# in a database without Spock, after every committed subscription change,
# which exits at once).
package Zodan::ProcessStarts;

use strict;
use warnings;
use List::Util ();
use Time::Local ();

sub log_settings { return ('log_connections = on', 'log_min_messages = log', "log_timezone = 'UTC'"); }

# Each node's place in its log now, for process_starts to read from.
sub marks {
    my ($c) = @_;
    return { map { ($_->name => $_->log_mark) } $c->nodes };
}

# The processes each server of C started from MARKS on, up to epoch second
# UNTIL, by what started them: lines "n2: ours 1, sub_create 2, ...", the
# totals first.
sub process_starts {
    my ($c, $marks, $until) = @_;
    my (%total, @lines);
    for my $n ($c->nodes) {
        my %kind;
        for my $line (split /\n/, $n->log_since($marks->{ $n->name } // 0)) {
            my ($y, $mo, $d, $h, $mi, $sec) = $line =~ /^(\d+)-(\d+)-(\d+) (\d+):(\d+):([\d.]+) UTC/ or next;
            last if Time::Local::timegm(0, $mi, $h, $d, $mo - 1, $y) + $sec > $until;
            my $k = kind_of($line);
            $kind{$k}++ if $k;
        }
        $total{$_} += $kind{$_} for keys %kind;
        push @lines, $n->name . ': ' . join(', ', map { "$_ $kind{$_}" } sort keys %kind);
    }
    my $all = List::Util::sum(values %total) // 0;
    unshift @lines, "processes started during the CALL: $all (" . join(', ', map { "$_ $total{$_}" } sort keys %total) . ')';
    return @lines;
}

sub kind_of {
    my ($line) = @_;
    if ($line =~ /(replication )?connection authorized: .*application_name=(.*)$/) {
        my ($repl, $app) = ($1, $2);
        my $k = $app =~ /_create$/ ? 'sub_create' : $app =~ /^spk_/ ? 'apply worker' : $app =~ /^zodan/ ? 'ours' : 'other';
        $k .= ' (replication)' if $repl && $k ne 'apply worker';
        return $k;
    }
    return 'manager without Spock' if $line =~ /manager worker .* detaching cleanly/;
    return undef;
}

1;
