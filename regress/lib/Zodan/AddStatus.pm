# What the new node's journal (spock.zodan_add_node_status) says of the
# last add on it: each step's milliseconds and wall-clock span, and the
# figures a step recorded in its output (the copy's parts, the
# comparison's rounds).
package Zodan::AddStatus;

use strict;
use warnings;

# [step, ms] of the last run on node N, in order.
sub steps {
    my ($n) = @_;
    my $rows = $n->sql("SELECT step_name || '|' || coalesce(round(extract(epoch FROM duration) * 1000)::text, '-')
                          FROM spock.zodan_add_node_status ORDER BY step_no");
    return map { [ split /\|/ ] } split /\n/, $rows;
}

# step => its sequential round trips (docs/protocol.md, "Round trips") of
# the last run on N.
sub round_trips {
    my ($n) = @_;
    my $rows = $n->sql("SELECT step_name || '|' || coalesce(output::jsonb #>> '{round_trips,sequential}', '-')
                          FROM spock.zodan_add_node_status ORDER BY step_no");
    return map { split /\|/ } split /\n/, $rows;
}

# "step ms, step ms, ..." of the last run on N.
sub steps_line { return join(', ', map { "$_->[0] $_->[1]" } steps($_[0])); }

sub step_ms {
    my ($n, $step) = @_;
    my ($p) = grep { $_->[0] eq $step } steps($n);
    return $p ? $p->[1] : undef;
}

# Each step's wall-clock span on N, [step, from, to] (epoch seconds), for
# setting the writes of a busy run against the step that ran while they did.
sub spans {
    my ($n) = @_;
    my $rows = $n->sql("SELECT step_name || '|' || extract(epoch FROM started_at) || '|' || extract(epoch FROM finished_at)
                          FROM spock.zodan_add_node_status WHERE finished_at IS NOT NULL ORDER BY step_no");
    return map { [ split /\|/ ] } split /\n/, $rows;
}

# The copy's own record of its parts (the copy_source step's output), as
# "structure_ms 12, data_ms 34, indexes_ms 56"; empty for Spock's sync.
sub copy_parts { figures($_[0], 'copy_source', qw(structure_ms data_ms indexes_ms)) }

# The comparison's figures: its rounds of sync events tell how long writes
# kept ranges in flight.
sub verify_parts { figures($_[0], 'verify_data', qw(tables rows ranges rounds)) }

# "key value, ..." of those keys of a step's journalled output on N.
sub figures {
    my ($n, $step, @keys) = @_;
    my $list = join(', ', map { "'$_'" } @keys);
    return $n->sql("SELECT coalesce(string_agg(k || ' ' || (output::jsonb ->> k), ', ' ORDER BY o), '')
                      FROM spock.zodan_add_node_status, unnest(ARRAY[$list]) WITH ORDINALITY AS u(k, o)
                     WHERE step_name = '$step' AND output::jsonb ? k");
}

1;
