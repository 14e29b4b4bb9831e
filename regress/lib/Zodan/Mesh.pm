# A Spock cluster for the multi-node tests, on PostgreSQL's own
# PostgreSQL::Test::Cluster: nodes n1..nN of the real Spock that
# regress/build-spock.sh builds, each listening on 127.0.0.1 on a port the
# test picks, with a superuser `pgedge` whose scram password is the node's
# own (clients always connect over TCP with it; a message that leaks one
# node's password cannot hide behind another's). Every node is stopped when
# the test ends, however it ends.
#
#   use Zodan::Mesh;
#   my $c = Zodan::Mesh->new(nodes => 4, dbname => { 4 => 'warehouse' });
#   $c->inventory(3);                     # tables, sets and a full mesh on n1..n3
#   my $n4 = $c->node(4);
#   my ($rc, $out, $err) = $n4->psql("CALL spock.add_node(...)");
#   $c->done;                             # leak checks, then done_testing
package Zodan::Mesh;

use strict;
use warnings;
BEGIN {
    use File::Basename qw(dirname);
    use lib dirname(__FILE__) . '/..';
    require Zodan::Env;
    Zodan::Env::setup();
}
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use File::Path qw(make_path);
use Test::More;
use Time::HiRes qw(time sleep);
use Zodan::Node;
use Zodan::Delay;

our $INVENTORY_SETS = '{default,default_insert_only,ddl_sql,inventory_set}';

# A signal ends the test like a failure, so END blocks stop the servers.
$SIG{INT} = $SIG{TERM} = sub { BAIL_OUT("interrupted by a signal") };

# A node whose server crashed has no postmaster left to stop (test servers
# run with restart_after_crash = off). PostgreSQL 15's teardown takes the
# failed `pg_ctl stop` for a broken installation and stops every test after
# this one (BAIL_OUT); one crash must fail its own test only. So the
# teardown of every node first sees whether its postmaster still lives, and
# if not, says what ended it and forgets it.
{
    no warnings 'redefine';
    my $teardown = \&PostgreSQL::Test::Cluster::teardown_node;
    *PostgreSQL::Test::Cluster::teardown_node = sub {
        my ($pg, %params) = @_;
        if (defined $pg->{_pid} && !kill(0, $pg->{_pid})) {
            diag("the server of " . $pg->name . " was gone at the end of the test:");
            diag($_) for crash_lines($pg->logfile);
            $pg->{_pid} = undef;
        }
        return $teardown->($pg, %params);
    };
}

# The lines of a server log that tell why its server ended: the process that
# crashed, its signal, and the statement it ran.
sub crash_lines {
    my ($logfile) = @_;
    open(my $fh, '<', $logfile) or return ("(no log: $!)");
    my @lines = grep { /terminated by signal|exited with exit code [^01]|PANIC|TRAP|Failed process was running|server process .* was terminated/ } <$fh>;
    chomp @lines;
    return @lines ? @lines[ ($#lines > 20 ? $#lines - 20 : 0) .. $#lines ] : ("(the log names no crashed process)");
}

sub spock_version { $Zodan::Env::spock_version }
sub pg_major      { $Zodan::Env::pg_major }
sub pg_config     { $Zodan::Env::pg_config }
sub bindir        { $Zodan::Env::bindir }
sub project_dir   { $Zodan::Env::root }

# new(nodes => N, dbname => {i => name}, conf => "extra postgresql.conf lines",
#     preload_zodan => 1, delay_ms => D)
# delay_ms (else ZODAN_DELAY_MS): every node behind a proxy that delays each
# direction by D ms (Zodan::Delay); the nodes' DSNs then lead through it, so
# Spock's subscriptions and the CALL's sessions cross the delay, except a
# node's own sessions to itself. The harness's own psql stays direct.
sub new {
    my ($class, %o) = @_;
    my $self = bless { nodes => [], salt => int(rand(1e9)) }, $class;
    for my $i (1 .. ($o{nodes} // 4)) {
        push @{ $self->{nodes} },
          Zodan::Node->create($i, $self->{salt}, db => ($o{dbname} // {})->{$i} // 'inventory',
            conf => $o{conf} // '', preload_zodan => $o{preload_zodan} // 1);
    }
    note sprintf("started %d node(s) of PostgreSQL %s with Spock %s", scalar @{ $self->{nodes} },
        pg_major(), spock_version());
    my $delay = $o{delay_ms} // $ENV{ZODAN_DELAY_MS};
    $self->delay($delay) if $delay;
    return $self;
}

# Puts every node behind a delay of MS one-way (0: none; a proxy started
# earlier is stopped). Only while no node's DSN is stored anywhere yet, or
# the stored ones lead to the proxy that is replaced.
sub delay {
    my ($self, $ms) = @_;
    if ($self->{delay}) { $self->{delay}->stop; delete $self->{delay}; }
    $_->{proxy_port} = undef for $self->nodes;
    return unless $ms;
    $self->{delay} = Zodan::Delay->start($ms, [ map { [ $_->name, $_->port, $_->pg->data_dir ] } $self->nodes ]);
    $_->{proxy_port} = $self->{delay}->port($_->name) for $self->nodes;
    note "every node behind a delay of $ms ms each way";
}
sub delay_ms { $_[0]{delay} ? $_[0]{delay}->delay_ms : 0 }

sub node  { my ($self, $i) = @_; return $self->{nodes}[ $i - 1 ] // die "no node $i" }
sub nodes { @{ $_[0]{nodes} } }
sub salt  { $_[0]{salt} }    # this run's, for passwords of further roles

# node_create on n1..nK.
sub create_nodes {
    my ($self, $k) = @_;
    for my $i (1 .. $k) {
        my $n = $self->node($i);
        $n->sql("SELECT spock.node_create(\$1, \$2)", $n->name, $n->dsn);
    }
}

# A full mesh of subscriptions sub_<p>_<s> among n1..nK (already nodes),
# forward_origins '{}', over SETS; waits until every one replicates.
sub subscribe_mesh {
    my ($self, $k, $sets) = @_;
    $sets //= '{default,default_insert_only,ddl_sql}';
    for my $s (1 .. $k) {
        for my $p (1 .. $k) {
            next if $p == $s;
            my ($prov, $sub) = ($self->node($p), $self->node($s));
            $sub->sql("SELECT spock.sub_create(\$1, \$2, \$3::text[], false, false, '{}')",
                "sub_" . $prov->name . "_" . $sub->name, $prov->dsn, $sets);
        }
    }
    $self->node($_)->wait_replicating for 1 .. $k;
}

sub mesh {
    my ($self, $k, $sets) = @_;
    $self->create_nodes($k);
    $self->subscribe_mesh($k, $sets);
}

sub inventory_schema {
    return <<'SQL';
CREATE TABLE public.items (id int PRIMARY KEY, name text NOT NULL, qty int NOT NULL DEFAULT 0);
CREATE TABLE public.orders (id int PRIMARY KEY, item_id int NOT NULL, note text);
CREATE TABLE public.audit_log (id bigint PRIMARY KEY, msg text);
CREATE TABLE public.counters (id bigint PRIMARY KEY, n bigint NOT NULL);
SQL
}

sub inventory_sets {
    return <<'SQL';
SELECT spock.repset_create('inventory_set');
SELECT spock.repset_add_table('default', 'public.items');
SELECT spock.repset_add_table('default', 'public.counters');
SELECT spock.repset_add_table('inventory_set', 'public.orders');
SELECT spock.repset_add_table('default_insert_only', 'public.audit_log');
SQL
}

# What users' schemas hold beyond the inventory: a list-partitioned table
# (its partitions listed in the set with it) and a table with a column of
# every built-in type the comparison hashes, by its own function or as text.
our @REAL_TABLES = qw(events events_eu events_us events_other typed);
our @TYPED_COLUMNS = (
    [ c_int2 => 'int2', 'g::int2' ],               [ c_int8 => 'int8', 'g * 1000000000::int8' ],
    [ c_oid => 'oid', 'g::oid' ],                  [ c_float4 => 'float4', 'g / 3.0::float4' ],
    [ c_float8 => 'float8', 'g / 7.0::float8' ],   [ c_numeric => 'numeric', 'g / 4.0' ],
    [ c_text => 'text', "'t' || g" ],              [ c_varchar => 'varchar(20)', "'v' || g" ],
    [ c_bpchar => 'char(6)', "'c' || g" ],         [ c_char => '"char"', "chr(65 + g % 26)::\"char\"" ],
    [ c_name => 'name', "('n' || g)::name" ],      [ c_bytea => 'bytea', "decode(md5(g::text), 'hex')" ],
    [ c_bool => 'boolean', 'g % 2 = 0' ],          [ c_date => 'date', "date '2024-01-01' + g" ],
    [ c_time => 'time', "time '00:00' + g * interval '1 minute'" ],
    [ c_timetz => 'timetz', "timetz '00:00+02' + g * interval '1 minute'" ],
    [ c_ts => 'timestamp', "timestamp '2024-01-01' + g * interval '1 hour'" ],
    [ c_tstz => 'timestamptz', "timestamptz '2024-01-01 00:00+00' + g * interval '1 hour'" ],
    [ c_interval => 'interval', "g * interval '90 minutes'" ],
    [ c_uuid => 'uuid', "md5(g::text)::uuid" ],    [ c_inet => 'inet', "('10.0.' || g % 256 || '.1')::inet" ],
    [ c_cidr => 'cidr', "('10.' || g % 256 || '.0.0/16')::cidr" ],
    [ c_macaddr => 'macaddr', "('08:00:2b:01:02:' || lpad(to_hex(g % 256), 2, '0'))::macaddr" ],
    [ c_macaddr8 => 'macaddr8', "('08:00:2b:01:02:03:04:' || lpad(to_hex(g % 256), 2, '0'))::macaddr8" ],
    [ c_jsonb => 'jsonb', "jsonb_build_object('g', g)" ], [ c_json => 'json', "json_build_object('g', g)" ],
    [ c_lsn => 'pg_lsn', "('0/' || to_hex(g))::pg_lsn" ], [ c_money => 'money', 'g::money' ],
    [ c_bit => 'bit(8)', 'g::bit(8)' ],            [ c_varbit => 'varbit', 'g::bit(12)::varbit' ],
    [ c_int4range => 'int4range', 'int4range(g, g + 10)' ],
    [ c_int_arr => 'int4[]', 'ARRAY[g, g + 1]' ], [ c_text_arr => 'text[]', "ARRAY['a' || g, NULL]" ],
    [ c_bytea_arr => 'bytea[]', "ARRAY[decode(md5(g::text), 'hex')]" ],
    [ c_tstz_arr => 'timestamptz[]', "ARRAY[timestamptz '2024-06-01 12:00+00' + g * interval '1 day']" ],
    [ c_null => 'date', 'NULL::date' ],
);

sub real_schema {
    my $cols = join(",\n  ", map { "$_->[0] $_->[1]" } @TYPED_COLUMNS);
    return <<SQL;
CREATE TABLE public.events (id int NOT NULL, region text NOT NULL, payload text, PRIMARY KEY (id, region))
  PARTITION BY LIST (region);
CREATE TABLE public.events_eu PARTITION OF public.events FOR VALUES IN ('eu');
CREATE TABLE public.events_us PARTITION OF public.events FOR VALUES IN ('us');
CREATE TABLE public.events_other PARTITION OF public.events DEFAULT;
CREATE TABLE public.typed (id int PRIMARY KEY,
  $cols);
SQL
}

sub real_sets {
    return <<'SQL';
SELECT spock.repset_add_table('default', 'public.events');
SELECT spock.repset_add_table('default', 'public.typed');
SQL
}

# Rows for the real schema's tables, written on one node.
sub real_rows {
    my $values = join(', ', map { $_->[2] } @TYPED_COLUMNS);
    return <<SQL;
INSERT INTO events SELECT g, (ARRAY['eu', 'us', 'apac'])[1 + g % 3], 'event ' || g FROM generate_series(1, 300) g;
INSERT INTO typed SELECT g, $values FROM generate_series(1, 100) g;
SQL
}

# Without the counters table (of Zodan::Load's checker): the data set the
# pg_regress suites' expected output was written for.
sub without_counters {
    my ($sql) = @_;
    return join '', grep { !/counters/ } split /^/, $sql;
}

# The data set of the add-node tests on n1..nK: tables in the built-in
# replication sets and in a user-created one, a full mesh over all four
# sets, and rows written on n1 that every node has applied.
# inventory(K, counters => 0): without the counters table.
sub inventory {
    my ($self, $k, %o) = @_;
    my ($schema, $sets) = (inventory_schema(), inventory_sets());
    ($schema, $sets) = map { without_counters($_) } $schema, $sets if defined $o{counters} && !$o{counters};
    $self->node($_)->sql($schema) for 1 .. $k;
    $self->create_nodes($k);
    $self->node($_)->sql($sets) for 1 .. $k;
    $self->subscribe_mesh($k, $INVENTORY_SETS);
    $self->node(1)->sql(<<'SQL');
INSERT INTO items SELECT g, 'item ' || g, g % 17 FROM generate_series(1, 500) g;
INSERT INTO orders SELECT g, 1 + g % 500, 'order ' || g FROM generate_series(1, 300) g;
INSERT INTO audit_log SELECT g, 'event ' || g FROM generate_series(1, 200) g;
SQL
    $self->converge(1 .. $k);
}

# Whether node TO applies everything node FROM wrote so far (a sync event
# from FROM) within TIMEOUT seconds.
sub sync_reaches {
    my ($self, $from, $to, $timeout, $lsn) = @_;
    $lsn //= $self->node($from)->sql("SELECT spock.sync_event()");
    return $self->node($to)->sql("CALL spock.wait_for_sync_event(NULL, \$1, \$2::pg_lsn, \$3)",
        $self->node($from)->name, $lsn, $timeout) eq 't';
}

# A sync event from every listed node, waited for on every other listed
# node: afterwards all have applied everything written before.
sub converge {
    my ($self, @idx) = @_;
    for my $from (@idx) {
        my $lsn = $self->node($from)->sql("SELECT spock.sync_event()");
        for my $to (@idx) {
            next if $to == $from;
            $self->sync_reaches($from, $to, 120, $lsn)
              or die "n$to did not apply n${from}'s changes within 120 s\n";
        }
    }
}

# "rows md5" of a table's rows in a stable order on a node.
sub digest {
    my ($self, $i, $table) = @_;
    return $self->node($i)->sql(
        "SELECT count(*) || ' ' || coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)), '-') FROM $table t");
}

# Every listed node holds the same rows as the first one in each table.
sub same_tables {
    my ($self, $nodes, @tables) = @_;
    my ($first, @rest) = @$nodes;
    for my $table (@tables) {
        my $ref = $self->digest($first, $table);
        is($self->digest($_, $table), $ref, "$table on n$_ equals n$first") for @rest;
    }
}

# Sessions the product opened (application_name 'zodan', or 'zodan:<what>'),
# counted over every running node.
sub zodan_sessions {
    my ($self) = @_;
    my $total = 0;
    for my $n (grep { $_->running } $self->nodes) {
        $total += $n->sql("SELECT count(*) FROM pg_stat_activity
                            WHERE application_name = 'zodan' OR application_name LIKE 'zodan:%'");
    }
    return $total;
}

# The product's sessions once none is left, or SECONDS have passed: the
# remote ends need a moment to see a socket close. The caller asserts the
# count (0), so a session still open after the bound fails its test.
sub settled_zodan_sessions {
    my ($self, $seconds) = @_;
    my $deadline = time + $seconds;
    my $left;
    while (($left = $self->zodan_sessions) != 0 && time < $deadline) { sleep 0.1; }
    return $left;
}

# The environment the pg_regress inputs read with \getenv (sql/*.sql):
# every node's DSN, port, database and password.
sub node_env {
    my ($self) = @_;
    my %env;
    for my $n ($self->nodes) {
        my $i = $n->index;
        @env{ "N${i}_DSN", "N${i}_PORT", "N${i}_DB", "N${i}_PASSWORD" } = ($n->dsn, $n->port, $n->db, $n->password);
    }
    return %env;
}

# The status pg_regress printed for each test: PostgreSQL 15's
# "test NAME ... ok" and the TAP lines "ok N - NAME" of 16 on.
sub pg_regress_statuses {
    my ($log) = @_;
    my %status;
    for (split /\n/, $log) {
        if (/^(not )?ok\s+\d+\s+[-+]\s+(\S+)/) { $status{$2} = $1 ? 'failed' : 'ok'; }
        elsif (/(?:^|\s)(\S+)\s+\.\.\.\s+(ok|FAILED|failed)\b/) { $status{$1} = $2 eq 'ok' ? 'ok' : 'failed'; }
    }
    return %status;
}

# pg_regress(I, SUITES...): the pg_regress suites of sql/ and expected/
# against node I (where the procedures run), as role pgedge over TCP. One
# ok() per suite; a failure prints pg_regress's log and the diffs.
sub pg_regress {
    my ($self, $i, @suites) = @_;
    my $n = $self->node($i);
    my $outdir = "$ENV{TESTDIR}/pg_regress-" . $n->name;
    make_path($outdir);
    my $cmd = join ' ', map { "'$_'" } "$Zodan::Env::pkglibdir/pgxs/src/test/regress/pg_regress",
      '--use-existing', '--host=127.0.0.1', '--port=' . $n->port, "--user=$Zodan::Node::USER",
      '--dbname=' . $n->db, '--inputdir=' . project_dir(), "--outputdir=$outdir", '--bindir=' . bindir(), @suites;
    # The suites' own statements carry DSNs (they are the test's input, as
    # the harness's are): not logged, as on a server without log_statement.
    # The product's messages, and statements logged with an error, still are.
    my $log = do {
        local %ENV = (%ENV, $self->node_env, PGPASSWORD => $n->password, PGOPTIONS => '-c log_statement=none');
        `$cmd 2>&1`;
    };
    my %status = pg_regress_statuses($log);
    my $failed = 0;
    for my $suite (@suites) {
        ok(($status{$suite} // '') eq 'ok', "pg_regress $suite") or $failed++;
    }
    if ($failed) {
        diag($log);
        my $diffs = "$outdir/regression.diffs";
        diag(PostgreSQL::Test::Utils::slurp_file($diffs)) if -f $diffs;
        diag("pg_regress results kept in $outdir");
    } else {
        note($log);
    }
    return !$failed;
}

# No node's password in what a client session made a server log, nor in any
# journal. Spock's own workers log a provider's DSN, password included, when
# they cannot reach it ("dsn was:"); that is Spock's, outside what zodan can
# change, and not counted.
sub check_no_password_leaked {
    my ($self) = @_;
    my @hits;
    for my $n ($self->nodes) {
        my @pw = map { $_->password } $self->nodes;
        my $client = 0;
        open my $fh, '<', $n->logfile or next;
        while (my $line = <$fh>) {
            # An entry starts with a timestamp; continuation lines belong to it.
            $client = ($line =~ /\] client backend /) if $line =~ /^\d{4}-\d\d-\d\d /;
            next unless $client;
            for my $p (@pw) {
                if (index($line, $p) >= 0) {
                    (my $shown = $line) =~ s/\Q$p\E/<password>/g;
                    push @hits, $n->name . " log: $shown";
                }
            }
        }
        close $fh;
        next unless $n->running;
        my ($rc, $count) = $n->psql(
            "SELECT CASE WHEN to_regclass('spock.zodan_runs') IS NULL THEN 0 ELSE
               (SELECT count(*) FROM spock.zodan_runs r WHERE r::text LIKE '%' || 'Zodan-pw-' || '%')
             + (SELECT count(*) FROM spock.zodan_steps s WHERE s::text LIKE '%' || 'Zodan-pw-' || '%') END");
        push @hits, $n->name . " journal: $count row(s)" if $rc == 0 && $count ne '0';
    }
    ok(!@hits, "no password in any server log entry of a client session, nor in any journal")
      or diag(join '', @hits[0 .. ($#hits < 4 ? $#hits : 4)]);
}

# Nor in what the test's own client sessions saw (psql's output and the
# messages of the calls), as a person running the procedures would.
sub check_no_password_in_client_output {
    my @seen = Zodan::Node::client_output_leaks();
    ok(!@seen, "no password in what the clients were shown")
      or diag(join "\n", @seen[0 .. ($#seen < 4 ? $#seen : 4)]);
}

# The leak checks of done(), for a test that runs several clusters one
# after another (each checked, then torn down).
sub checks {
    my ($self) = @_;
    $self->check_no_password_leaked;
    $self->check_no_password_in_client_output;
}

# Stops every node (and the delay's proxy) and removes its data, so that
# the next cluster of the same test can use the node names again. The logs
# stay.
sub teardown {
    my ($self) = @_;
    $self->delay(0) if $self->{delay};
    for my $n ($self->nodes) {
        $n->pg->teardown_node;
        File::Path::rmtree($n->pg->basedir);
    }
}

sub done {
    my ($self) = @_;
    $self->checks;
    done_testing();
}

1;
