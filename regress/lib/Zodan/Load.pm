# Write load for the multi-node tests, and the checker that proves nothing
# was lost or applied twice.
#
# Each writer node X runs two pgbench clients in its own key range
# (X * 1,000,000 + k; no conflicts to resolve, as real clusters are used):
#  - counting upserts: INSERT ... ON CONFLICT DO UPDATE SET n = n + 1 on
#    table counters; a change lost anywhere leaves n smaller there, one
#    applied twice leaves it larger;
#  - inventory writes: inserts, updates and deletes on items and orders.
# pgbench counts the transactions it saw committed (acknowledged). Stopping
# a writer ends its sessions; the one statement in flight then may or may
# not have committed, so X's own sum of n lies in [acked, acked + in flight].
# A load started on a cluster that took one before counts from what X's
# counters summed at its start, so the checks hold for each load alone.
#
#   my $load = Zodan::Load->start($cluster, nodes => [1, 2, 3], tps => 50);
#   ...
#   $load->stop;
#   $cluster->converge(1 .. 4);
#   $load->check([1 .. 4]);     # one ok() per property, divergences named
package Zodan::Load;

use strict;
use warnings;
use File::Temp qw(tempfile);
use IPC::Run;
use Test::More;
use Time::HiRes qw(time sleep);

my $COUNTING = <<'EOF';
\set k random(1, 2000)
INSERT INTO counters VALUES (:base + :k, 1) ON CONFLICT (id) DO UPDATE SET n = counters.n + 1;
EOF

my $INVENTORY = <<'EOF';
\set k random(1, 5000)
\set op random(1, 10)
\if :op <= 5
INSERT INTO items VALUES (:base + :k, 'row ' || :k, 1) ON CONFLICT (id) DO UPDATE SET qty = items.qty + 1;
\elif :op <= 8
INSERT INTO orders VALUES (:base + :k, :k, 'order') ON CONFLICT (id) DO UPDATE SET note = orders.note || '+';
\else
DELETE FROM orders WHERE id = :base + :k;
\endif
EOF

sub script_file {
    my ($text) = @_;
    my ($fh, $path) = tempfile("zodan-load.XXXXXX", TMPDIR => 1, SUFFIX => '.sql', UNLINK => 1);
    print $fh $text;
    close $fh;
    return $path;
}

# start($cluster, nodes => [...], tps => per node and kind (0: as fast as it goes), seconds => upper bound,
#       log_dir => D: every transaction's latency in pgbench's logs under D)
sub start {
    my ($class, $cluster, %o) = @_;
    my $self = bless { cluster => $cluster, writers => [], tps => $o{tps} // 50 }, $class;
    my %script = (counting => script_file($COUNTING), inventory => script_file($INVENTORY));
    for my $i (@{ $o{nodes} }) {
        my $n = $cluster->node($i);
        for my $kind ('counting', $o{counting_only} ? () : 'inventory') {
            $self->{baseline}{$i}{$kind} = progress($n, $kind);
            my ($out, $err) = ('', '');
            local %ENV = %ENV;
            $ENV{PGPASSWORD} = $n->password;
            $ENV{PGAPPNAME}  = "zodan_writer_$kind";
            my @cmd = ('pgbench', '-n', '-c', '1', $self->{tps} ? ('-R', $self->{tps}) : (), '-T', $o{seconds} // 3600,
                       '-D', 'base=' . ($i * 1000000), '-f', $script{$kind},
                       $o{log_dir} ? ('-l', "--log-prefix=$o{log_dir}/n$i-$kind") : (),
                       '-h', '127.0.0.1', '-p', $n->port, '-U', 'pgedge', $n->db);
            my $h = IPC::Run::start(\@cmd, '>', \$out, '2>', \$err);
            push @{ $self->{writers} }, { node => $i, kind => $kind, h => $h, out => \$out, err => \$err };
        }
    }
    # Writing has begun once every writer committed something.
    my $deadline = time + 30;
    for my $w (@{ $self->{writers} }) {
        my $n = $cluster->node($w->{node});
        my $was = $self->{baseline}{ $w->{node} }{ $w->{kind} };
        sleep 0.05 until time > $deadline || progress($n, $w->{kind}) > $was;
        fail("the $w->{kind} writer on n$w->{node} committed nothing within 30 s: ${ $w->{err} }")
          if progress($n, $w->{kind}) <= $was;
    }
    return $self;
}

# What a writer of KIND has done on node N, in its own key range, as a
# number that only grows: the sum of the counters, or of the items' qty
# (the inventory writer never deletes items).
sub progress {
    my ($n, $kind) = @_;
    my ($table, $col) = $kind eq 'counting' ? ('counters', 'n') : ('items', 'qty');
    my $base = $n->index * 1000000;
    return $n->sql("SELECT coalesce(sum($col), 0) FROM $table WHERE id > $base AND id < $base + 1000000");
}

# Ends every writer (their sessions are terminated, as a crash would) and
# reads what each saw acknowledged.
sub stop {
    my ($self) = @_;
    my %by_node;
    push @{ $by_node{ $_->{node} } }, $_ for @{ $self->{writers} };
    for my $i (keys %by_node) {
        my $n = $self->{cluster}->node($i);
        next unless $n->running;
        $n->psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE 'zodan\\_writer\\_%'",
            { quiet => 1 });
    }
    for my $w (@{ $self->{writers} }) {
        my $deadline = time + 30;
        while ($w->{h}->pumpable && time < $deadline) { $w->{h}->pump_nb; sleep 0.05; }
        $w->{h}->kill_kill if $w->{h}->pumpable;
        eval { $w->{h}->finish };
        my ($done) = ${ $w->{out} } =~ /number of transactions actually processed: (\d+)/;
        $w->{acked} = $done // 0;
        $w->{failed_to_start} = !defined $done;
    }
    $self->{stopped} = 1;
    return $self;
}

# Total writes acknowledged by all writers.
sub acked {
    my ($self) = @_;
    my $sum = 0;
    $sum += $_->{acked} for @{ $self->{writers} };
    return $sum;
}

# Writers that ended with an error other than the stop itself.
sub errors {
    my ($self) = @_;
    my @bad;
    for my $w (@{ $self->{writers} }) {
        my @lines = grep { !/terminating connection due to administrator command|server closed the connection|aborted in command|Run was aborted|connection to server .* lost|^\s*$/ }
          split /\n/, ${ $w->{err} };
        push @bad, "n$w->{node} $w->{kind}: " . join(' | ', @lines[0 .. ($#lines < 2 ? $#lines : 2)]) if @lines;
    }
    return @bad;
}

# The checker: on every listed member, every counter equals its value on the
# writer that owns it, and each writer's own total covers what it saw
# acknowledged (at most one more: the statement in flight at the stop).
# Returns the number of divergent keys (0 when all is well).
sub check {
    my ($self, $members, %o) = @_;
    my $c = $self->{cluster};
    my %counters;    # member -> { id -> n }
    for my $m (@$members) {
        my %h = map { split /\|/ } split /\n/, $c->node($m)->sql("SELECT id, n FROM counters ORDER BY id");
        $counters{$m} = \%h;
    }
    my $divergent = 0;
    my @examples;
    for my $w (grep { $_->{kind} eq 'counting' } @{ $self->{writers} }) {
        my $owner = $w->{node};
        next unless $counters{$owner};
        my ($lo, $hi) = ($owner * 1000000, ($owner + 1) * 1000000);
        my @keys = grep { $_ > $lo && $_ < $hi } keys %{ $counters{$owner} };
        my $sum = -$self->{baseline}{$owner}{counting};
        $sum += $counters{$owner}{$_} for @keys;
        my $ok_total = $sum >= $w->{acked} && $sum <= $w->{acked} + 1;
        ok($ok_total, ($o{label} // '') . "n$owner holds the $w->{acked} counting writes it acknowledged ($sum)");
        for my $m (@$members) {
            next if $m == $owner;
            my @all = do { my %u = map { $_ => 1 } @keys, grep { $_ > $lo && $_ < $hi } keys %{ $counters{$m} }; keys %u };
            my $bad = 0;
            for my $k (@all) {
                my ($a, $b) = ($counters{$owner}{$k} // 'missing', $counters{$m}{$k} // 'missing');
                next if $a eq $b;
                $bad++;
                push @examples, "id $k: n = $a on n$owner, $b on n$m" if @examples < 5;
            }
            $divergent += $bad;
        }
    }
    my $checked = 0;
    $checked += scalar keys %{ $counters{$_} } for @$members;
    ok($divergent == 0, ($o{label} // '') . "counters identical on n" . join(', n', @$members)
        . " ($checked rows checked)") or diag(join "\n", @examples);
    $self->{checked_rows} = $checked;
    return $divergent;
}

1;
