# The time to a working mesh: the moment a row written on every node has
# been seen on every other. Armed before the timed call, so that the
# harness's own start-up (a psql and a connection per node) stays out of
# the time: on every listed node a session waits for the go, an advisory
# lock a holder session of that node has; fire() ends the holders, and
# each waiting session writes its row (audit_log, in every replication
# set's reach) and watches, in a loop on the server with a fresh snapshot
# per look, until it has every node's row.
#
#   my $m = Zodan::MeshCheck::arm($c, [1 .. 4], 30);
#   ... the timed call ...
#   my $at = Zodan::MeshCheck::fire($m);   # epoch s, servers' clock; undef: $MISSING says why
package Zodan::MeshCheck;

use strict;
use warnings;
use List::Util qw(max);

our $MISSING;    # after a failed check: who lacks whose row

# A two-int key (pg_locks: classid, objid, objsubid 2) of the benchmark's
# own, apart from zodan's (hashtext('zodan'), n).
my ($GO1, $GO2) = (20261202, 7);
my $GO = "$GO1, $GO2";

sub arm {
    my ($c, $idx, $timeout) = @_;
    my $k = @$idx;
    my %m = (c => $c, idx => $idx, timeout => $timeout, base => 700000 + int(rand(90000)) * 10);
    for my $i (@$idx) {
        $m{hold}{$i} = $c->node($i)->holding_session("SELECT pg_catalog.pg_advisory_lock($GO);\n", app => 'zodan_bench_go');
    }
    wait_locks($c, $idx, 't') or die "the mesh check's holders did not get their locks\n";
    for my $i (@$idx) {
        my $id = $m{base} + $i;
        $m{watch}{$i} = $c->node($i)->background(<<"SQL", app => 'zodan_bench_watch');
SET statement_timeout = 0;
SELECT pg_catalog.pg_advisory_lock_shared($GO);
SET statement_timeout = '${timeout}s';
INSERT INTO public.audit_log VALUES ($id, 'mesh check');
DO \$\$ BEGIN
  LOOP
    EXIT WHEN (SELECT count(*) FROM public.audit_log WHERE id BETWEEN $m{base} AND $m{base} + 99) >= $k;
    PERFORM pg_sleep(0.002);
  END LOOP;
END \$\$;
SELECT extract(epoch FROM clock_timestamp());
SQL
    }
    wait_locks($c, $idx, 'f') or die "the mesh check's sessions did not start waiting\n";
    return \%m;
}

# Every listed node shows a granted ('t') or a waiting ('f') go lock.
sub wait_locks {
    my ($c, $idx, $granted) = @_;
    for my $i (@$idx) {
        $c->node($i)->poll("SELECT count(*) > 0 FROM pg_catalog.pg_locks WHERE locktype = 'advisory'
                              AND classid = $GO1 AND objid = $GO2 AND objsubid = 2 AND granted = '$granted'", 't', 30)
          or return 0;
    }
    return 1;
}

sub disarm {
    my ($m) = @_;
    for my $h (values %{ $m->{hold} }, values %{ $m->{watch} }) { $h->kill_it; $h->finish(5); }
}

# The moment (epoch seconds, the servers' clock) the last node had every
# node's row, or undef after the timeout, with $MISSING naming who lacks
# whose row.
sub fire {
    my ($m) = @_;
    my ($c, $idx, $timeout) = @$m{qw(c idx timeout)};
    $m->{hold}{$_}->kill_it for @$idx;
    my (@at, @late);
    for my $i (@$idx) {
        my ($rc, $out) = $m->{watch}{$i}->finish($timeout + 10);
        my ($last) = reverse split /\n/, $out // '';
        if ($rc == 0 && defined $last && $last =~ /^[\d.]+$/) { push @at, $last; next; }
        push @late, $i;
    }
    $m->{hold}{$_}->finish(5) for @$idx;
    $MISSING = '';
    return max(@at) unless @late;
    $MISSING = lacking($m, @late) || 'a session failed';
    return undef;
}

# Which of the listed nodes lack which node's row of this check, now.
sub lacking {
    my ($m, @nodes) = @_;
    my @lack;
    for my $i (@nodes) {
        my %have = map { $_ - $m->{base} => 1 } split /\n/,
          (eval { $m->{c}->node($i)->sql("SELECT id FROM public.audit_log WHERE id BETWEEN $m->{base} AND $m->{base} + 99") } // '');
        my @from = grep { !$have{$_} } @{ $m->{idx} };
        push @lack, "n$i lacks the rows of " . join(', ', map { "n$_" } @from) if @from;
    }
    return join('; ', @lack);
}

# Unarmed, for a mesh that is already there: arm and fire at once.
sub seen_at {
    my ($c, $idx, $timeout) = @_;
    return fire(arm($c, $idx, $timeout));
}

1;
