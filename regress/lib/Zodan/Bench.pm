# What the two benchmarks (regress/bench.pl, regress/bench-large.pl) share:
# the tools that add a node, a timed add, the time to a working mesh, the
# phase breakdown of ours, write latency from pgbench's per-transaction
# logs, and the machine's description. On the clusters of Zodan::Mesh (real
# Spock, fresh servers), so a benchmark measures what the tests test.
#
# The benchmarks are scripts, not tests: Test::More's "ok" lines are
# silenced; a failed assertion of the harness still prints to stderr. What
# a benchmark reports goes through out()/outf(): PostgreSQL::Test::Utils
# sends a plain print to the test's log file, not to the terminal.
package Zodan::Bench;

use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time sleep);
use Cwd ();
use File::Spec;
use List::Util qw(max sum);
use POSIX qw(floor);
use Time::Local ();
use Zodan::Mesh;
use Zodan::Node;

our $OUT;        # the terminal's stdout
our $MISSING;    # after a failed mesh check: who lacks whose row
our $CALLS = 0;
# How long a row written after the CALL may take to reach every node: a
# working path delivers in milliseconds.
our $MESH_TIMEOUT = 30;

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

# The tools, by name: what the new node needs first, and the CALL.
our %TOOL = (
    'spock.add_node' => { prepare => \&prepare_ours, call => 'spock.add_node' },
    'zodan.sql'      => { prepare => \&prepare_zodan_sql, call => 'spock.add_node' },
    'attach_node'    => { prepare => sub { }, call => 'spock.attach_node' },
);

sub prepare_ours { my ($n) = @_; $n->sql("CREATE EXTENSION zodan"); }

# The published PL/pgSQL script of the server's own Spock source, loaded
# over dblink's extension on the new node.
sub prepare_zodan_sql {
    my ($n) = @_;
    $n->sql("CREATE EXTENSION dblink");
    my $file = zodan_sql_file();
    my ($rc, $out, $err) = $n->psql("SET client_min_messages = warning;\n" . PostgreSQL::Test::Utils::slurp_file($file), { quiet => 1 });
    die "loading $file failed: $err\n" if $rc != 0;
}

# samples/Z0DAN/zodan.sql out of the source tarball the server was built
# from (regress/build-spock.sh's inputs), or ZODAN_SQL.
my $zodan_sql;
sub zodan_sql_file {
    return $ENV{ZODAN_SQL} if $ENV{ZODAN_SQL};
    return $zodan_sql if $zodan_sql;
    my $shared = $ENV{ZODAN_SHARED} // Cwd::abs_path("$Zodan::Env::root/..") . '/shared/spock';
    my %pattern = ('6' => 'spock-6.0.0-devel-*.tar.gz', 'pr545' => 'spock-attach-node-pr545-*.tar.gz',
                   '5.0.11' => 'spock-5.0.11.tar.gz', '5.0.9' => 'spock-5.0.9.tar.gz', '5' => 'spock-5.0.11.tar.gz');
    my ($tarball) = glob("$shared/" . ($pattern{ $ENV{SPOCK} // '6' } // die "no zodan.sql known for SPOCK=$ENV{SPOCK}\n"));
    die "no Spock source tarball in $shared for SPOCK=" . ($ENV{SPOCK} // '6') . " (set ZODAN_SQL)\n" unless $tarball && -f $tarball;
    $zodan_sql = "$ENV{TESTDIR}/zodan.sql";
    system("tar -xOzf '$tarball' --wildcards '*/samples/Z0DAN/zodan.sql' > '$zodan_sql'") == 0 && -s $zodan_sql
      or die "$tarball has no samples/Z0DAN/zodan.sql\n";
    $ENV{ZODAN_SQL_FROM} = "$tarball (samples/Z0DAN/zodan.sql)";
    return $zodan_sql;
}

sub zodan_sql_from { $ENV{ZODAN_SQL_FROM} // $ENV{ZODAN_SQL} // '-' }

# The machine's CPU time from /proc/stat: (busy, total) in ticks.
sub cpu_ticks {
    open my $fh, '<', '/proc/stat' or return (0, 0);
    my ($line) = grep { /^cpu\s/ } <$fh>;
    close $fh;
    my (undef, $user, $nice, $system, $idle, $iowait, $irq, $softirq, $steal) = split ' ', $line // '';
    my $busy = ($user // 0) + ($nice // 0) + ($system // 0) + ($irq // 0) + ($softirq // 0) + ($steal // 0);
    return ($busy, $busy + ($idle // 0) + ($iowait // 0));
}

our $CLK_TCK = POSIX::sysconf(POSIX::_SC_CLK_TCK()) || 100;

# CPU time (ms) each server has used, by what its processes are: the
# postmaster's count of its ended children (backends that connected and
# left) plus every live process's own, children included. Read before and
# after the CALL, the difference is what the add cost each server.
sub server_cpu {
    my ($c) = @_;
    my $hz = $CLK_TCK;
    my %ms;
    for my $n ($c->nodes) {
        my $pm = $n->postmaster_pid or next;
        my %by;
        for my $pid ($pm, children_of($pm)) {
            open my $fh, '<', "/proc/$pid/stat" or next;
            my $stat = <$fh>;
            close $fh;
            $stat =~ s/^.*\)\s+//;
            my @f = split ' ', $stat;    # from field 3 (state) on
            my ($u, $s, $cu, $cs) = @f[11 .. 14];
            my $kind = 'ended';
            if ($pid != $pm) {
                open my $cf, '<', "/proc/$pid/cmdline" or next;
                my $cmd = do { local $/; <$cf> } // '';
                close $cf;
                $cmd =~ s/\0+$//;
                $cmd =~ tr/\0/ /;
                $kind = process_kind($cmd);
                $by{$kind} += ($u + $s + $cu + $cs) * 1000 / $hz;
            } else {
                $by{postmaster} += ($u + $s) * 1000 / $hz;
                $by{ended} += ($cu + $cs) * 1000 / $hz;
            }
        }
        $ms{ $n->name } = \%by;
    }
    return \%ms;
}

# All the servers' CPU time (ms) of one server_cpu reading.
sub server_cpu_total {
    my ($reading) = @_;
    my $ms = 0;
    for my $by (values %$reading) { $ms += $_ for values %$by; }
    return $ms;
}

# burn_cpu(MS, SECONDS, PROCS): PROCS processes that together use MS ms of
# CPU, each spread evenly over SECONDS (in 10 ms periods, part spinning,
# part asleep), at the servers' own priority. The control of the busy
# runs: the CPU an add used, with nothing else of the add. A process that
# fell behind (the CPUs were busy) spins on until it has used its share,
# as the add's work would; returns the seconds the burn took.
sub burn_cpu {
    my ($ms, $seconds, $procs) = @_;
    $procs //= 2;
    my $share = $ms / 1000 / $procs;
    my $duty = $seconds > 0 ? $share / $seconds : 1;
    $duty = 1 if $duty > 1;
    my $t0 = time;
    my @pids;
    for (1 .. $procs) {
        my $pid = fork // die "fork: $!\n";
        if (!$pid) {
            my $cpu = sub { Time::HiRes::clock_gettime(Time::HiRes::CLOCK_PROCESS_CPUTIME_ID()) };
            my $c0 = $cpu->();
            my $start = time;
            while ((my $used = $cpu->() - $c0) < $share) {
                my $elapsed = time - $start;
                my $due = $elapsed >= $seconds ? $share : $duty * ($elapsed + 0.01);
                if ($used >= $due) { sleep(0.01 - POSIX::fmod($elapsed, 0.01)); next; }
                1 while $cpu->() - $c0 < $due && time - $start < $elapsed + 0.01;
            }
            POSIX::_exit(0);
        }
        push @pids, $pid;
    }
    waitpid($_, 0) for @pids;
    return time - $t0;
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

# PROCESS_DETAIL: the processes each server started from the log MARKS
# (log_mark per node) on, up to epoch second UNTIL, by what started them;
# the nodes log connections and Spock's LOG lines (bench.pl sets that up).
# Lines "n2: ours 1, sub_create 2 + 1 replication, ...", then the totals.
sub process_starts {
    my ($c, $marks, $until) = @_;
    my (%total, @lines);
    for my $n ($c->nodes) {
        my %kind;
        for my $line (split /\n/, $n->log_since($marks->{ $n->name } // 0)) {
            my ($y, $mo, $d, $h, $mi, $sec) = $line =~ /^(\d+)-(\d+)-(\d+) (\d+):(\d+):([\d.]+) UTC/ or next;
            last if Time::Local::timegm(0, $mi, $h, $d, $mo - 1, $y) + $sec > $until;
            my $k;
            if ($line =~ /(replication )?connection authorized: .*application_name=(.*)$/) {
                my ($repl, $app) = ($1, $2);
                $k = $app =~ /_create$/ ? 'sub_create' : $app =~ /^spk_/ ? 'apply worker' : $app =~ /^zodan/ ? 'ours' : 'other';
                $k .= ' (replication)' if $repl && $k ne 'apply worker';
            } elsif ($line =~ /manager worker .* detaching cleanly/) {
                $k = 'manager without Spock';
            }
            $kind{$k}++ if $k;
        }
        $total{$_} += $kind{$_} for keys %kind;
        push @lines, $n->name . ': ' . join(', ', map { "$_ $kind{$_}" } sort keys %kind);
    }
    my $all = List::Util::sum(values %total) // 0;
    unshift @lines, "processes started during the CALL: $all (" . join(', ', map { "$_ $total{$_}" } sort keys %total) . ')';
    return @lines;
}

# The difference of two server_cpu readings, as one line per server.
sub cpu_spent {
    my ($before, $after) = @_;
    my @lines;
    my %total;
    for my $node (sort { ($a =~ /(\d+)/)[0] <=> ($b =~ /(\d+)/)[0] } keys %$after) {
        my ($b, $a) = ($before->{$node} // {}, $after->{$node});
        # A process that ended moved its time from its kind to 'ended'.
        my $sum = 0;
        my %d;
        for my $k (keys %$a, keys %$b) { next if exists $d{$k}; $d{$k} = ($a->{$k} // 0) - ($b->{$k} // 0); }
        $sum += $_ for values %d;
        $total{$_} += $d{$_} for keys %d;
        push @lines, sprintf("%s %.0f ms (%s)", $node, $sum,
            join(' ', map { sprintf('%s %+.0f', $_, $d{$_}) } grep { abs($d{$_}) >= 10 } sort keys %d));
    }
    my $all = 0;
    $all += $_ for values %total;
    unshift @lines, sprintf("servers' CPU during the CALL: %.0f ms (%s)", $all,
        join(' ', map { sprintf('%s %+.0f', $_, $total{$_}) } grep { abs($total{$_}) >= 10 } sort keys %total));
    return @lines;
}

# timed_add(C, TOOL, SRC, NEW, settings...) -> { ok, call_s, mesh_s, cpu_busy, err }:
# the CALL on the new node, then a row written on every node, and the
# moment the last node has seen every node's row.
sub timed_add {
    my ($c, $tool, $src, $new, @settings) = @_;
    my $t = $TOOL{$tool} or die "no tool $tool\n";
    my ($s, $n) = ($c->node($src), $c->node($new));
    $t->{prepare}->($n);
    my $sql = join('', map { "SET $_;\n" } @settings)
      . Zodan::Node::bind_params("CALL $t->{call}(\$1, \$2, \$3, \$4)", $s->name, $s->dsn, $n->name, $n->dsn);
    my $mesh = mesh_arm($c, [ 1 .. $new ], $MESH_TIMEOUT);
    my %sessions0 = $ENV{CPU_DETAIL} ? sessions($c) : ();
    my $servers0 = $ENV{CPU_DETAIL} || $ENV{CONTROL} ? server_cpu($c) : undef;
    # With CPU_DETAIL, the CALL's own backend reports its CPU (its children,
    # pg_dump and the restore, included) right after the CALL.
    my $self_cpu = $ENV{CPU_DETAIL} ? "\n;SELECT 'self_cpu ' || pg_read_file('/proc/self/stat');\n" : '';
    my %log_marks = $ENV{PROCESS_DETAIL} ? map { ($_->name => $_->log_mark) } $c->nodes : ();
    my @cpu0 = cpu_ticks();
    my $t0 = time;
    my ($rc, $out, $err) = $n->psql($sql . $self_cpu, { quiet => 1 });
    my $call = time - $t0;
    my @cpu1 = cpu_ticks();
    my $servers1 = $servers0 ? server_cpu($c) : undef;
    # What the CALL said (NOTICEs included), kept for a look afterwards.
    my $log = sprintf("%s/call-%s-%d.log", $ENV{TESTDIR}, $tool =~ s/\W/_/gr, ++$CALLS);
    if (open my $fh, '>', $log) { print $fh ($out // ''), "\n", ($err // ''); close $fh; }
    my %r = (ok => $rc == 0, call_ok => $rc == 0, call_s => $call, err => first_error($err), log => $log);
    $r{servers_cpu_ms} = server_cpu_total($servers1) - server_cpu_total($servers0) if $servers0;
    if ($ENV{CPU_DETAIL}) {
        $r{cpu_detail} = [ cpu_spent($servers0, $servers1) ];
        if ($out =~ s/^self_cpu \d+ \(.*?\) (.*)$//m) {
            my @f = split ' ', $1;
            push @{ $r{cpu_detail} }, sprintf("the CALL's backend %.0f ms, its programs %.0f ms",
                ($f[11] + $f[12]) * 1000 / $CLK_TCK, ($f[13] + $f[14]) * 1000 / $CLK_TCK);
        }
    }
    # How busy the whole machine was during the CALL (every server and the
    # load share its CPUs): 1 is every CPU busy all the time.
    $r{cpu_busy} = $cpu1[1] > $cpu0[1] ? ($cpu1[0] - $cpu0[0]) / ($cpu1[1] - $cpu0[1]) : undef;
    unless ($r{ok}) { mesh_disarm($mesh); return \%r; }
    my $seen = mesh_fire($mesh);
    $r{mesh_s} = defined $seen ? $seen - $t0 : undef;
    # Read after the mesh check: a psql per server would otherwise be in
    # the time to a working mesh.
    if ($ENV{CPU_DETAIL}) {
        my %sessions1 = sessions($c);
        push @{ $r{cpu_detail} }, 'sessions started: ' . join(' ', map { "$_ " . ($sessions1{$_} - ($sessions0{$_} // 0)) }
            sort { ($a =~ /(\d+)/)[0] <=> ($b =~ /(\d+)/)[0] } keys %sessions1);
    }
    push @{ $r{cpu_detail} }, process_starts($c, \%log_marks, $t0 + $call) if $ENV{PROCESS_DETAIL};
    $r{ok} = defined $seen;
    return \%r if $r{ok};
    my $first = $MISSING;
    # A second round, written now. Each path delivers in order: where its
    # rows arrive and the first round's still have not, those were lost,
    # not late (written before the path existed).
    my $again = mesh_seen_at($c, [ 1 .. $new ], $MESH_TIMEOUT);
    my $still = lacking($mesh, 1 .. $new);
    if (defined $again && $still) {
        $r{lost} = 1;
        $r{err} = sprintf("rows written as the CALL returned never arrived: %s; rows written %.0f s later did, so the first were lost",
            $still, $again - $t0 - $call);
    } else {
        $r{err} = "a row written on every node was not seen on every other within $MESH_TIMEOUT s: "
          . ($first || 'unknown') . why_not_replicated($n);
    }
    $r{err} .= " (the CALL's output: $log)";
    return \%r;
}

# The usual reason a new node's writes stay at home: the script that added
# it put its tables in none of its replication sets.
sub why_not_replicated {
    my ($n) = @_;
    my $sets = eval {
        $n->sql("SELECT count(*) FROM spock.replication_set_table WHERE set_reloid = 'public.audit_log'::regclass")
    } // '?';
    return $sets eq '0' ? "; on " . $n->name . ", audit_log is in none of its replication sets" : '';
}

sub first_error {
    my ($err) = @_;
    my ($line) = grep { /ERROR|FATAL/ } split /\n/, $err // '';
    $line //= '';
    $line =~ s/password=\S+/password=***/g;
    return substr($line, 0, 240);
}

# The mesh check, armed before the CALL so that the harness's own start-up
# (a psql and a connection per node) stays out of the time: on every listed
# node a session waits for the go, an advisory lock a holder session of
# that node has; fire() ends the holders, and each waiting session writes
# its row (audit_log, in every replication set's reach) and watches, in a
# loop on the server with a fresh snapshot per look, until it has every
# node's row. The result: the moment (epoch seconds, the servers' clock)
# the last node had them all, or undef after TIMEOUT s, with $MISSING
# naming who lacks whose row.
# A two-int key (pg_locks: classid, objid, objsubid 2) of the benchmark's
# own, apart from zodan's (hashtext('zodan'), n).
my ($GO1, $GO2) = (20261202, 7);
my $GO = "$GO1, $GO2";

sub mesh_arm {
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

sub mesh_disarm {
    my ($m) = @_;
    for my $h (values %{ $m->{hold} }, values %{ $m->{watch} }) { $h->kill_it; $h->finish(5); }
}

sub mesh_fire {
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
sub mesh_seen_at {
    my ($c, $idx, $timeout) = @_;
    return mesh_fire(mesh_arm($c, $idx, $timeout));
}

# The steps of the last run on NODE with their milliseconds.
sub phases {
    my ($n) = @_;
    my $rows = $n->sql("SELECT step_name || '|' || coalesce(round(extract(epoch FROM duration) * 1000)::text, '-')
                          FROM spock.zodan_add_node_status ORDER BY step_no");
    return map { [ split /\|/ ] } split /\n/, $rows;
}

# Each step's wall-clock span on N (epoch seconds), for setting the writes
# of a busy run against the step that ran while they did.
sub step_spans {
    my ($n) = @_;
    my $rows = $n->sql("SELECT step_name || '|' || extract(epoch FROM started_at) || '|' || extract(epoch FROM finished_at)
                          FROM spock.zodan_add_node_status WHERE finished_at IS NOT NULL ORDER BY step_no");
    return map { [ split /\|/ ] } split /\n/, $rows;
}

# "step avg/p95 ms (writes)" for each step during which writes ended, the
# steps of under 20 ms left out (too few writes to say anything).
sub latency_by_step {
    my ($dir, @spans) = @_;
    my @parts;
    for my $s (@spans) {
        my ($name, $from, $to) = @$s;
        next if $to - $from < 0.02;
        my @ms = latencies($dir, $from, $to);
        push @parts, "$name " . latency_summary(@ms) if @ms;
    }
    return join(', ', @parts);
}

# The copy's own record of its parts (the copy_source step's output), as
# "structure_ms 12, data_ms 34, indexes_ms 56"; empty for Spock's sync.
sub copy_parts { step_figures($_[0], 'copy_source', qw(structure_ms data_ms indexes_ms)) }

# The comparison's figures: its rounds of sync events tell how long writes
# kept ranges in flight.
sub verify_parts { step_figures($_[0], 'verify_data', qw(tables rows ranges rounds)) }

# "key value, ..." of those keys of a step's journalled output on the new node N.
sub step_figures {
    my ($n, $step, @keys) = @_;
    my $list = join(', ', map { "'$_'" } @keys);
    return $n->sql("SELECT coalesce(string_agg(k || ' ' || (output::jsonb ->> k), ', ' ORDER BY o), '')
                      FROM spock.zodan_add_node_status, unnest(ARRAY[$list]) WITH ORDINALITY AS u(k, o)
                     WHERE step_name = '$step' AND output::jsonb ? k");
}

sub step_ms {
    my ($n, $step) = @_;
    my ($p) = grep { $_->[0] eq $step } phases($n);
    return $p ? $p->[1] : undef;
}

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

sub latency_summary {
    my (@ms) = @_;
    return '-' unless @ms;
    return sprintf("%.1f/%.1f ms (%d)", mean(@ms), percentile(95, @ms), scalar @ms);
}

sub machine {
    my ($cpu) = map { /^model name\s*:\s*(.*)/ ? $1 : () } split /\n/, `cat /proc/cpuinfo 2>/dev/null`;
    my $commit = `git -c safe.directory='*' -C '$Zodan::Env::root' rev-parse --short HEAD 2>/dev/null`;
    chomp $commit;
    my $dirty = `git -c safe.directory='*' -C '$Zodan::Env::root' status --porcelain -- src sql 2>/dev/null`;
    $commit .= " (src/ or sql/ modified)" if $dirty;
    my $load = (split ' ', `cat /proc/loadavg`)[0];
    my $cpus = `nproc`;
    chomp $cpus;
    return sprintf("%s CPU(s)%s, load average %s; zodan commit %s", $cpus, $cpu ? ", $cpu" : '', $load,
        $commit || 'unknown');
}

sub server {
    return sprintf("PostgreSQL %s with Spock %s (%s)", Zodan::Mesh::pg_major(), Zodan::Mesh::spock_version(),
        Zodan::Mesh::pg_config());
}

1;
