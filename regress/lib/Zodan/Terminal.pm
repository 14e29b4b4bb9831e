# What a script of the harness (a benchmark, the demo) shows on the
# terminal. Such a script is not a test: Test::More's "ok" lines are
# silenced, while a failed assertion of the harness still prints to stderr.
# Its own lines go through out()/outf(): PostgreSQL::Test::Utils sends a
# plain print to the test's log file, not to the terminal.
package Zodan::Terminal;

use strict;
use warnings;
use File::Spec;
use Test::More;

our $OUT;    # the terminal's stdout

sub quiet_tap {
    my $tb = Test::More->builder;
    # The builder's handle is the terminal's stdout (the test framework
    # keeps it there while STDOUT itself goes to the log).
    open($OUT, '>&', $tb->output) or die "cannot duplicate stdout: $!\n";
    $OUT->autoflush(1);
    $tb->output(File::Spec->devnull);
    $tb->todo_output(File::Spec->devnull);
    $tb->no_ending(1);
}

sub out  { print { $OUT // \*STDOUT } @_; }
sub outf { my $fmt = shift; out(sprintf($fmt, @_)); }

1;
