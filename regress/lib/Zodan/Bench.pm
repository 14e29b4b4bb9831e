# A timed add, as the benchmarks (regress/bench.pl, regress/bench-large.pl)
# take it: the tools that add a node, the CALL on the new node, and the time
# from its start to a working mesh (Zodan::MeshCheck); on the clusters of
# Zodan::Mesh (real Spock, fresh servers), so a benchmark measures what the
# tests test. What a run costs the servers comes from Zodan::CpuUse and
# Zodan::ProcessStarts when asked for (CPU_DETAIL, CONTROL, PROCESS_DETAIL).
package Zodan::Bench;

use strict;
use warnings;
use Cwd ();
use Time::HiRes qw(time);
use Zodan::CpuUse;
use Zodan::MeshCheck;
use Zodan::Node;
use Zodan::ProcessStarts;

our $CALLS = 0;
# How long a row written after the CALL may take to reach every node: a
# working path delivers in milliseconds.
our $MESH_TIMEOUT = 30;

# The tools, by name: what the new node needs first, and the CALL.
our %TOOL = (
    'spock.add_node' => { prepare => \&prepare_ours, call => 'spock.add_node' },
    'zodan.sql'      => { prepare => \&prepare_zodan_sql, call => 'spock.add_node' },
    'attach_node'    => { prepare => sub { }, call => 'spock.attach_node' },
);

# The large benchmarks' data set (regress/bench-large.pl,
# regress/bench-physical.pl): the same `rows` rows in public.big on n1 and
# n2, written in repair mode so they are not replicated, and its digest.
sub big_table {
    my ($c, $rows) = @_;
    for my $i (1, 2) {
        $c->node($i)->sql(<<"SQL");
CREATE TABLE public.big (id bigint PRIMARY KEY, k int NOT NULL, pad text NOT NULL);
SELECT spock.repset_add_table('default', 'public.big');
BEGIN;
SELECT spock.repair_mode(true);
INSERT INTO public.big SELECT g, (g::bigint * 7919 % 100000)::int, repeat(md5(g::text), 7) FROM generate_series(1, $rows) g;
COMMIT;
CREATE INDEX big_k ON public.big (k);
VACUUM ANALYZE public.big;
SQL
    }
}

sub big_digest {
    my ($n) = @_;
    return $n->sql("SELECT count(*) || ' ' || coalesce(sum(pg_catalog.hashtextextended(t::text, 0)::numeric), 0) FROM public.big t");
}

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
    return $zodan_sql;
}

# timed_add(C, TOOL, SRC, NEW, settings...) -> { ok, call_s, mesh_s, cpu_busy, err, ... }:
# the CALL on the new node, then a row written on every node, and the
# moment the last node has seen every node's row.
sub timed_add {
    my ($c, $tool, $src, $new, @settings) = @_;
    my $t = $TOOL{$tool} or die "no tool $tool\n";
    my ($s, $n) = ($c->node($src), $c->node($new));
    $t->{prepare}->($n);
    # TRACE=1: the CALL's log (call-*.log in the test directory) holds
    # zodan's DEBUG2 trace, each statement and connection with its time.
    my $sql = ($ENV{TRACE} ? "SET client_min_messages = debug2;\n" : '') . join('', map { "SET $_;\n" } @settings)
      . Zodan::Node::bind_params("CALL $t->{call}(\$1, \$2, \$3, \$4)", $s->name, $s->dsn, $n->name, $n->dsn);
    my $mesh = Zodan::MeshCheck::arm($c, [ 1 .. $new ], $MESH_TIMEOUT);
    my %sessions0 = $ENV{CPU_DETAIL} ? Zodan::CpuUse::sessions($c) : ();
    my $servers0 = $ENV{CPU_DETAIL} || $ENV{CONTROL} ? Zodan::CpuUse::server_cpu($c) : undef;
    # With CPU_DETAIL, the CALL's own backend reports its CPU (its children,
    # pg_dump and the restore, included) right after the CALL.
    my $self_cpu = $ENV{CPU_DETAIL} ? "\n;SELECT 'self_cpu ' || pg_read_file('/proc/self/stat');\n" : '';
    my $log_marks = $ENV{PROCESS_DETAIL} ? Zodan::ProcessStarts::marks($c) : undef;
    my @cpu0 = Zodan::CpuUse::cpu_ticks();
    my $t0 = time;
    my ($rc, $out, $err) = $n->psql($sql . $self_cpu, { quiet => 1 });
    my $call = time - $t0;
    my @cpu1 = Zodan::CpuUse::cpu_ticks();
    my $servers1 = $servers0 ? Zodan::CpuUse::server_cpu($c) : undef;
    # What the CALL said (NOTICEs included), kept for a look afterwards.
    my $log = sprintf("%s/call-%s-%d.log", $ENV{TESTDIR}, $tool =~ s/\W/_/gr, ++$CALLS);
    if (open my $fh, '>', $log) { print $fh ($out // ''), "\n", ($err // ''); close $fh; }
    my %r = (ok => $rc == 0, call_ok => $rc == 0, call_s => $call, err => first_error($err), log => $log);
    $r{servers_cpu_ms} = Zodan::CpuUse::server_cpu_total($servers1) - Zodan::CpuUse::server_cpu_total($servers0) if $servers0;
    if ($ENV{CPU_DETAIL}) {
        $r{cpu_detail} = [ Zodan::CpuUse::cpu_spent($servers0, $servers1) ];
        if ($out =~ s/^self_cpu (.*)$//m) {
            my $line = Zodan::CpuUse::backend_line($1);
            push @{ $r{cpu_detail} }, $line if $line;
        }
    }
    # How busy the whole machine was during the CALL (every server and the
    # load share its CPUs).
    $r{cpu_busy} = Zodan::CpuUse::busy_share(\@cpu0, \@cpu1);
    unless ($r{ok}) { Zodan::MeshCheck::disarm($mesh); return \%r; }
    my $seen = Zodan::MeshCheck::fire($mesh);
    $r{mesh_s} = defined $seen ? $seen - $t0 : undef;
    # Read after the mesh check: a psql per server would otherwise be in
    # the time to a working mesh.
    if ($ENV{CPU_DETAIL}) {
        my %sessions1 = Zodan::CpuUse::sessions($c);
        push @{ $r{cpu_detail} }, Zodan::CpuUse::sessions_started(\%sessions0, \%sessions1);
    }
    push @{ $r{cpu_detail} }, Zodan::ProcessStarts::process_starts($c, $log_marks, $t0 + $call) if $log_marks;
    $r{ok} = defined $seen;
    return \%r if $r{ok};
    my $first = $Zodan::MeshCheck::MISSING;
    # A second round, written now. Each path delivers in order: where its
    # rows arrive and the first round's still have not, those were lost,
    # not late (written before the path existed).
    my $again = Zodan::MeshCheck::seen_at($c, [ 1 .. $new ], $MESH_TIMEOUT);
    my $still = Zodan::MeshCheck::lacking($mesh, 1 .. $new);
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

1;
