# One node of a test cluster: a PostgreSQL::Test::Cluster with Spock, its
# database, the superuser `pgedge` and its password, and how clients reach
# it (TCP on 127.0.0.1, scram). Made by Zodan::Mesh.
package Zodan::Node;

use strict;
use warnings;
use File::Temp qw(tempfile);
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

our $USER = 'pgedge';

# Every password of the tests starts so (nodes' and other roles').
our $PASSWORD_MARK = 'Zodan-pw-';
my @client_leaks;

# Lines of client output (results and messages of the test's sessions)
# that show a password; Zodan::Mesh->done fails on any.
sub note_client_output {
    my ($what, @texts) = @_;
    for my $line (map { split /\n/ } grep { defined } @texts) {
        next if index($line, $PASSWORD_MARK) < 0;
        (my $shown = $line) =~ s/\Q$PASSWORD_MARK\E\S*/<password>/g;
        push @client_leaks, "$what: $shown";
    }
}
sub client_output_leaks { @client_leaks }

sub create {
    my ($class, $i, $salt, %o) = @_;
    my $name = "n$i";
    my $pg = PostgreSQL::Test::Cluster->new($name);
    $pg->init(extra => [ '--locale=C', '-E', 'UTF8' ]);
    my $preload = $o{preload_zodan} ? 'spock, zodan' : 'spock';
    $pg->append_conf('postgresql.conf', <<"EOF");
listen_addresses = '127.0.0.1'
wal_level = logical
track_commit_timestamp = on
shared_preload_libraries = '$preload'
max_replication_slots = 32
max_wal_senders = 32
max_worker_processes = 48
max_connections = 60
max_logical_replication_workers = 24
wal_sender_timeout = '30s'
shared_buffers = '64MB'
max_wal_size = '1GB'
log_min_messages = warning
log_line_prefix = '%m [%p] %b %a '
EOF
    # Servers that gate logical decoding plugins must let Spock's through,
    # as an operator configures them (the tests of the gate remove it).
    $pg->append_conf('postgresql.conf', "output_plugin_libraries = 'pgoutput, test_decoding, spock_output'")
      if $pg->pg_version >= 18;
    $pg->append_conf('postgresql.conf', "max_active_replication_origins = 32") if $pg->pg_version >= 18;
    $pg->append_conf('postgresql.conf', $o{conf}) if $o{conf};
    # Settings of a run's own, e.g. ZODAN_NODE_CONF='log_statement = all' to
    # read an add's timeline from the servers' logs afterwards.
    $pg->append_conf('postgresql.conf', $ENV{ZODAN_NODE_CONF}) if $ENV{ZODAN_NODE_CONF};
    # The OS user reaches the node over its socket (test set-up); everybody
    # else over TCP with a password.
    open my $hba, '>', $pg->data_dir . '/pg_hba.conf' or die $!;
    print $hba "local all all trust\n";
    print $hba "host all all 127.0.0.1/32 scram-sha-256\n";
    print $hba "host replication all 127.0.0.1/32 scram-sha-256\n";
    close $hba;
    $pg->start;
    # Set-up statements carry the password; they are the harness's, not the
    # product's, so they stay out of the log the leak check reads.
    local $ENV{PGOPTIONS} = '-c log_statement=none';
    my $self = bless { i => $i, name => $name, pg => $pg, db => $o{db},
                       password => "Zodan-pw-$name-$salt" }, $class;
    $pg->safe_psql('postgres', "CREATE ROLE $USER LOGIN SUPERUSER PASSWORD '$self->{password}'");
    $pg->safe_psql('postgres', "CREATE DATABASE $self->{db} OWNER $USER");
    $self->sql("SET client_min_messages = warning; CREATE EXTENSION spock");
    return $self;
}

sub name     { $_[0]{name} }
sub index    { $_[0]{i} }
sub db       { $_[0]{db} }
sub password { $_[0]{password} }
sub port     { $_[0]{pg}->port }
sub pg       { $_[0]{pg} }
sub logfile  { $_[0]{pg}->logfile }
sub running  { defined $_[0]{pg}{_pid} }

# The libpq DSN of the node, password included (the product must mask it).
# Behind a delay (Zodan::Mesh's delay_ms) it leads through the proxy unless
# direct => 1.
sub dsn {
    my ($self, %o) = @_;
    my $port = (!$o{direct} && $self->{proxy_port}) || $self->port;
    my $dsn = "host=127.0.0.1 port=" . $port . " dbname=" . ($o{db} // $self->db) . " user=" . ($o{user} // $USER);
    $dsn .= " password=" . ($o{password} // $self->password) unless $o{no_password};
    return $dsn;
}

# SQL text with $1..$n replaced by quoted literals (psql 15 has no \bind;
# this is test input, never the product's way).
sub bind_params {
    my ($sql, @params) = @_;
    $sql =~ s/\$(\d+)/my $v = $params[$1 - 1]; defined $v ? do { (my $q = $v) =~ s!'!''!g; "'$q'" } : 'NULL'/ge;
    return $sql;
}

# psql(SQL, [params...], {opts}) -> (exit code, stdout, stderr): as `pgedge`
# over TCP, unaligned, tuples only, stops at the first error.
# opts: user, password, db, env => {..}, timeout (s), app => application_name,
#       quiet => 1 (keep the statements out of the server log: the harness's own)
sub psql {
    my ($self, $sql, @rest) = @_;
    my %o = (@rest && ref $rest[-1] eq 'HASH') ? %{ pop @rest } : ();
    $sql = bind_params($sql, @rest) if @rest;
    my ($out, $err) = ('', '');
    local %ENV = %ENV;
    $ENV{PGPASSWORD} = $o{password} // $self->password unless exists $o{password} && !defined $o{password};
    delete $ENV{PGPASSWORD} if exists $o{password} && !defined $o{password};
    $ENV{PGAPPNAME} = $o{app} // 'zodan_test';
    $ENV{PGOPTIONS} = '-c log_statement=none' if $o{quiet};
    $ENV{$_} = $o{env}{$_} for keys %{ $o{env} // {} };
    my @cmd = ('psql', '-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1', '-p', $self->port,
               '-U', $o{user} // $USER, '-d', $o{db} // $self->db, '-f', '-');
    my $timer = IPC::Run::timeout($o{timeout} // 600);
    my $rc = eval { IPC::Run::run(\@cmd, '<', \$sql, '>', \$out, '2>', \$err, $timer); $? >> 8 };
    if (!defined $rc) { $err .= "\n[harness] psql timed out: $@"; $rc = 124; }
    chomp $out;
    note_client_output($self->name, $out, $err) unless $o{quiet};
    return ($rc, $out, $err);
}

# The output of SQL that must succeed; dies with the error otherwise. The
# harness's own work: not logged by the server (see psql's quiet).
sub sql {
    my ($self, $sql, @rest) = @_;
    my %o = (@rest && ref $rest[-1] eq 'HASH') ? %{ pop @rest } : ();
    my ($rc, $out, $err) = $self->psql($sql, @rest, { quiet => 1, %o });
    die $self->name . ": SQL failed ($rc): $err\n  in: " . substr($sql, 0, 300) . "\n" if $rc != 0;
    return $out;
}

# Polls SQL until its output equals EXPECTED (default 't'); fails the test
# and returns false when TIMEOUT seconds pass first.
sub poll {
    my ($self, $sql, $expected, $timeout, $what) = @_;
    $expected //= 't';
    my $deadline = time + ($timeout // 60);
    my $last = '';
    while (time < $deadline) {
        my ($rc, $out, $err) = $self->psql($sql, { quiet => 1 });
        return 1 if $rc == 0 && $out eq $expected;
        $last = $rc == 0 ? $out : $err;
        sleep 0.1;
    }
    fail(($what // "poll on " . $self->name) . " (timed out; last: '$last', wanted '$expected')");
    return 0;
}

# Spock can lose track of an apply worker it started (docs/add_node.md, "The
# waits that remain"): the subscription then stays 'down' while that worker
# runs. The harness's own meshes meet it too; it heals them as the product
# does, by ending a worker that runs under the name of a 'down' subscription.
my $end_lost_workers = <<'SQL';
SELECT count(pg_catalog.pg_terminate_backend(a.pid)) FROM pg_catalog.pg_stat_activity a
JOIN spock.subscription s ON a.application_name = pg_catalog.format('spock apply %s:%s',
  (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database()), s.sub_id)
JOIN spock.sub_show_status() st ON st.subscription_name = s.sub_name
WHERE st.status = 'down' AND a.backend_start < pg_catalog.clock_timestamp() - interval '3 seconds'
SQL

sub wait_replicating {
    my ($self, $timeout) = @_;
    my $deadline = time + ($timeout // 60);
    my ($last, $next_cure) = ('', time + 3);
    while (time < $deadline) {
        my ($rc, $out, $err) = $self->psql("SELECT count(*) FROM spock.sub_show_status() WHERE status <> 'replicating'",
            { quiet => 1 });
        return 1 if $rc == 0 && $out eq '0';
        $last = $rc == 0 ? $out : $err;
        if (time >= $next_cure) {
            my ($crc, $ended) = $self->psql($end_lost_workers, { quiet => 1 });
            note($self->name . ": ended $ended apply worker(s) Spock had lost track of") if $crc == 0 && $ended;
            $next_cure = time + 2;
        }
        sleep 0.1;
    }
    fail("every subscription on " . $self->name . " replicating (timed out; last: '$last', wanted '0')");
    die $self->name . ": subscriptions did not reach replicating\n";
}

# A session running SQL in the background (IPC::Run); finish() waits for it
# and returns (exit code, stdout, stderr).
sub background {
    my ($self, $sql, %o) = @_;
    # From a file: IPC::Run feeds a scalar only while someone pumps, and a
    # session waiting in the background must run without that.
    my ($fh, $file) = tempfile("zodan-bg.XXXXXX", TMPDIR => 1, SUFFIX => '.sql', UNLINK => 1);
    print $fh $sql;
    close $fh;
    return $self->start_session($file, app => 'zodan_background', %o);
}

# A session fed from a pipe that stays open: it runs SQL and then sits
# idle, holding whatever it took, until kill_it() (or finish) ends it.
sub holding_session {
    my ($self, $sql, %o) = @_;
    my $in = $sql;
    my $s = $self->start_session(\$in, app => 'zodan_holder', %o);
    $s->{h}->pump_nb while length $in && $s->{h}->pumpable;
    return $s;
}

# psql on this node reading INPUT (a file name, or a scalar that is fed as
# it is pumped).
sub start_session {
    my ($self, $input, %o) = @_;
    my ($out, $err) = ('', '');
    local %ENV = %ENV;
    $ENV{PGPASSWORD} = $o{password} // $self->password;
    $ENV{PGAPPNAME} = $o{app};
    my @cmd = ('psql', '-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1', '-p', $self->port,
               '-U', $o{user} // $USER, '-d', $o{db} // $self->db, '-f', '-');
    my $h = IPC::Run::start(\@cmd, '<', $input, '>', \$out, '2>', \$err);
    return bless { h => $h, out => \$out, err => \$err, started => time, name => $self->name }, 'Zodan::Background';
}

# The postmaster's process id while the node runs.
sub postmaster_pid { $_[0]{pg}{_pid} }

# Appends a line to postgresql.conf (the last one wins) and restarts;
# restore_conf drops every line appended so and restarts again.
sub reconfigure {
    my ($self, $line) = @_;
    $self->{pg}->append_conf('postgresql.conf', $line);
    push @{ $self->{conf_lines} }, $line;
    $self->restart;
}
sub restore_conf {
    my ($self) = @_;
    my $file = $self->{pg}->data_dir . '/postgresql.conf';
    my %added = map { $_ => 1 } @{ delete $self->{conf_lines} // [] };
    my @kept = grep { chomp; !$added{$_} } split /^/, PostgreSQL::Test::Utils::slurp_file($file);
    open my $fh, '>', $file or die "cannot write $file: $!";
    print $fh map { "$_\n" } @kept;
    close $fh;
    $self->restart;
}

sub stop    { my ($self, $mode) = @_; $self->{pg}->stop($mode // 'fast'); }
sub start   { my ($self) = @_; $self->{pg}->start; }
sub crash   { my ($self) = @_; $self->{pg}->stop('immediate'); }
sub restart { my ($self) = @_; $self->{pg}->restart; }

# Started again after it went down on its own (a crash, which the test
# servers do not restart after: restart_after_crash = off). Returns 1 when
# it had to be started, 0 when it answers.
sub start_if_down {
    my ($self) = @_;
    my $pid = $self->{pg}{_pid};
    # A postmaster that crashed takes a moment to end its processes and exit.
    for (1 .. 100) {
        last unless defined $pid && kill(0, $pid);
        my ($rc) = $self->psql("SELECT 1", { quiet => 1 });
        return 0 if $rc == 0;
        sleep 0.1;
    }
    die "[harness] " . $self->name . " neither answers nor exits\n" if defined $pid && kill(0, $pid);
    $self->{pg}{_pid} = undef;
    $self->{pg}->start;
    return 1;
}

# The server log's lines since MARK that say one of Spock's background
# workers was killed by a signal (a crash of Spock's own).
sub spock_crashes_since {
    my ($self, $mark) = @_;
    return grep { /background worker "spock [^"]*" \(PID \d+\) was terminated by signal/ }
      split /\n/, $self->log_since($mark);
}

# Lines appended to the server log since the mark (`log_mark` returns one).
sub log_mark { -s $_[0]->logfile // 0 }
sub log_since {
    my ($self, $mark) = @_;
    return PostgreSQL::Test::Utils::slurp_file($self->logfile, $mark);
}

package Zodan::Background;
use Time::HiRes qw(time);

sub finish {
    my ($self, $timeout) = @_;
    my $deadline = time + ($timeout // 600);
    while ($self->{h}->pumpable && time < $deadline) {
        $self->{h}->pump_nb;
        select(undef, undef, undef, 0.05);
    }
    my $rc;
    if ($self->{h}->pumpable) {
        $self->{h}->kill_kill;
        $rc = 124;
    } else {
        $self->{h}->finish;
        $rc = $self->{h}->result(0);
    }
    my $out = ${ $self->{out} };
    chomp $out;
    Zodan::Node::note_client_output($self->{name}, $out, ${ $self->{err} });
    return ($rc, $out, ${ $self->{err} });
}

sub running { my ($self) = @_; $self->{h}->pump_nb if $self->{h}->pumpable; return $self->{h}->pumpable; }
sub kill_it { my ($self) = @_; $self->{h}->kill_kill; }
sub stderr  { my ($self) = @_; $self->{h}->pump_nb if $self->{h}->pumpable; return ${ $self->{err} }; }

1;
