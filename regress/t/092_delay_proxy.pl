# The harness's link "across regions" (Zodan::Delay): every node behind a
# proxy that delays each direction by 50 ms. A statement's round trip
# through it costs twice the delay; a node's own sessions to itself stay
# local; a COPY stream flows at full rate, late but not throttled; Spock's
# replication crosses it; an add through it works, and its journal and its
# DEBUG1 lines give each step's round trips; stopping it closes its ports.
# matrix: full suite only
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use File::Temp qw(tempfile);
use IPC::Run;
use Time::HiRes qw(time);
use Zodan::Mesh;
use Test::More;

my $delay = 50;
my $c = Zodan::Mesh->new(nodes => 3, delay_ms => $delay);
my ($n1, $n2) = ($c->node(1), $c->node(2));
is($c->delay_ms, $delay, "the mesh is behind a delay of $delay ms");
like($n1->dsn, qr/port=(\d+)/, "n1's DSN names a port");
my ($proxied) = $n1->dsn =~ /port=(\d+)/;
isnt($proxied, $n1->port, "n1's DSN leads through the proxy");

# A passfile, so that no password travels on a command line (nor in a log).
my ($pf, $passfile) = tempfile("zodan-pass.XXXXXX", TMPDIR => 1, UNLINK => 1);
for my $n ($n1, $n2) {
    my ($through) = $n->dsn =~ /port=(\d+)/;
    print $pf "127.0.0.1:$_:*:pgedge:" . $n->password . "\n" for $n->port, $through;
}
close $pf;
chmod 0600, $passfile;

# psql's own timing of each SELECT 1 (ms) over a connection to PORT.
sub statement_times {
    my ($port, $db) = @_;
    my ($out, $err) = ('', '');
    my @cmd = ('psql', '-X', '-At', '-h', '127.0.0.1', '-p', $port, '-U', 'pgedge', '-d', $db,
        '-c', '\timing on', map { ('-c', 'SELECT 1') } 1 .. 5);
    local $ENV{PGPASSFILE} = $passfile;
    IPC::Run::run(\@cmd, '>', \$out, '2>', \$err) or die "psql failed: $err\n";
    return $out =~ /Time: ([\d.]+) ms/g;
}

my @through = sort { $a <=> $b } statement_times($proxied, $n1->db);
my @direct  = sort { $a <=> $b } statement_times($n1->port, $n1->db);
note "round trips through the proxy: @through ms; direct: @direct ms";
my $median = $through[2];
ok($median >= 2 * $delay && $median < 2 * $delay + 40,
    "a round trip through the proxy takes twice the one-way delay (median $median ms of 5)");
ok($direct[2] < 20, "one to the node's own port does not ($direct[2] ms)");

# A node's own sessions to itself stay local; to another node they cross.
# COPY FROM PROGRAM runs psql as a child of n1's backend.
$n1->sql("CREATE TABLE psql_out (line text)");
sub from_n1_backend {
    my ($port, $db) = @_;
    $n1->sql("TRUNCATE psql_out");
    my $cmd = "env -u PGPASSWORD PGPASSFILE=$passfile psql -X -At -h 127.0.0.1 -p $port -U pgedge -d $db -c '\\timing on' "
      . join(' ', map { "-c 'SELECT 1'" } 1 .. 5);
    $n1->sql("COPY psql_out FROM PROGRAM \$1", $cmd);
    my @ms = sort { $a <=> $b } map { /Time: ([\d.]+) ms/ ? $1 : () }
      split /\n/, $n1->sql("SELECT string_agg(line, E'\\n') FROM psql_out");
    return @ms;
}
my @own = from_n1_backend($proxied, $n1->db);
my ($n2_proxied) = $n2->dsn =~ /port=(\d+)/;
my @other = from_n1_backend($n2_proxied, $n2->db);
note "from n1's backend: to n1 through its proxy @own ms; to n2 @other ms";
is(scalar @own, 5, "n1's backend timed five statements to itself");
ok(@own && $own[2] < 20, "n1's own session to itself through the proxy is not delayed ($own[2] ms)");
ok(@other && $other[2] >= 2 * $delay, "n1's session to n2 is ($other[2] ms)");

# A COPY stream of 20 MB: every byte through, at full rate.
my $copy = "COPY (SELECT g, repeat('x', 1000) FROM generate_series(1, 20000) g) TO STDOUT";
sub copy_through {
    my ($port) = @_;
    my ($out, $err) = ('', '');
    local $ENV{PGPASSFILE} = $passfile;
    my $t0 = time;
    IPC::Run::run([ 'psql', '-X', '-At', '-h', '127.0.0.1', '-p', $port, '-U', 'pgedge', '-d', $n1->db, '-c', $copy ],
        '>', \$out, '2>', \$err) or die "psql failed: $err\n";
    return (time - $t0, $out);
}
my ($t_direct, $want) = copy_through($n1->port);
my ($t_proxy, $got) = copy_through($proxied);
note sprintf("20 MB COPY: %.2f s direct, %.2f s through the proxy", $t_direct, $t_proxy);
is(length($got), length($want), "the COPY through the proxy carries every byte (" . length($want) . ")");
ok($got eq $want, "and the same bytes");
# The connection's set-up costs a few round trips (TCP, the startup,
# SCRAM's exchanges); the stream itself must not be throttled.
ok($t_proxy < $t_direct + 10 * 2 * $delay / 1000 + 1.0,
    sprintf("and at full rate: %.2f s against %.2f s direct", $t_proxy, $t_direct));

# Spock's replication crosses the proxy: the stored DSNs lead through it.
$n1->sql("CREATE TABLE t (id int PRIMARY KEY, v text)");
$n2->sql("CREATE TABLE t (id int PRIMARY KEY, v text)");
$c->mesh(2);
$_->sql("SELECT spock.repset_add_table('default', 'public.t')") for $n1, $n2;
is($n2->sql("SELECT count(*) FROM spock.subscription WHERE sub_name = 'sub_n1_n2'"), 1, "n2 subscribes to n1");
like($n2->sql("SELECT if_dsn FROM spock.node_interface i JOIN spock.node n ON n.node_id = i.if_nodeid WHERE n.node_name = 'n1'"),
    qr/port=$proxied\b/, "through n1's proxy");
$n1->sql("INSERT INTO t SELECT g, repeat('y', 500) FROM generate_series(1, 5000) g");
ok($c->sync_reaches(1, 2, 60), "n2 applies n1's rows through the delay");
is($n2->sql("SELECT count(*) FROM t"), 5000, "all of them");

# n3 joins n1 and n2 across the delay: each step's round trips are in the
# journal and in a DEBUG1 line.
my $n3 = $c->node(3);
$n3->sql("CREATE EXTENSION zodan");
my $t0 = time;
my ($rc, $out, $err) = $n3->psql("SET client_min_messages = debug1;\n"
      . "CALL spock.add_node('n1', \$1, 'n3', \$2)", $n1->dsn, $n3->dsn);
my $took = time - $t0;
is($rc, 0, "n3 joins across the delay") or diag($err);
note sprintf("the add took %.1f s at a %d ms round trip", $took, 2 * $delay);
my @steps = split /\n/, $n3->sql("SELECT step_name || ' ' || coalesce(output::jsonb #>> '{round_trips,sequential}', '-')
                                     FROM spock.zodan_add_node_status ORDER BY step_no");
note "sequential round trips by step: " . join(', ', @steps);
# sync_source reads nothing where step 3 of the same call saw S apply its
# events; every other step makes round trips.
ok(@steps > 5 && !grep({ !/^sync_source 0$/ && !/ [1-9]\d*$/ } @steps), "every step's round trips are in the journal")
  or diag(join(', ', @steps));
my ($copy_line) = $err =~ /DEBUG:  (add_node step copy_source: \d+ sequential round trips? \([^)]*n1 \d+[^)]*\).*)$/m;
ok($copy_line, "and said in a DEBUG1 line") or diag($err);
note $copy_line // '';
like($err, qr/DEBUG:  add_node in all: \d+ sequential round trips/m, "with the run's total");
# Before the first step, across the link: on n1 its first read (its name,
# its list, Spock's version, zodan's journal), the join lock's gate, the
# list again with the lock on n2; on n2 its first read and the lock. A
# session's settings travel with its first statement.
my ($before) = $err =~ /DEBUG:  add_node before its steps: \d+ sequential round trips? \(([^)]*)\)/m;
my %before = map { /^(\S+) (\d+)$/ ? ($1 => $2) : () } split /, /, $before // '';
note "before the first step: " . ($before // '?');
ok(defined $before{n1} && $before{n1} <= 3, "before the first step, 3 round trips to n1 at most") or diag($before);
ok(defined $before{n2} && $before{n2} <= 2, "and 2 to n2 at most") or diag($before);
$c->converge(1 .. 3);
is($n3->sql("SELECT count(*) FROM t"), 5000, "n3 holds n1's rows");

# Stopped, its ports close.
$c->delay(0);
($rc, undef, $err) = $n1->psql("SELECT 1", { quiet => 1 });
is($rc, 0, "the nodes still answer on their own ports");
my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $proxied, Proto => 'tcp');
ok(!$s, "the proxy's port is closed once it is stopped");
$c->done;
