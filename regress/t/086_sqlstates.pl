# The SQLSTATE of each kind of failure a script branches on (docs/errors.md),
# as psql reports it (\set VERBOSITY sqlstate: the code alone): a bad
# argument, a source that is no node, a node that cannot be reached, a
# failed precondition, the join lock held by another run, a wait past
# zodan.sync_timeout, and a new node that differs from the source.
# matrix: full suite only
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use IO::Socket::INET;
use Zodan::Mesh;
use Zodan::Faults;
use Test::More;

my $c = Zodan::Mesh->new(nodes => 4);
$c->inventory(3);
my ($n1, $n2, $n4) = map { $c->node($_) } 1, 2, 4;
$n4->sql("CREATE EXTENSION zodan");
my $f = Zodan::Faults->new($c);

# The SQLSTATE SQL ends with on n4 ('none' when it succeeds), and its stderr.
sub sqlstate_of {
    my ($sql) = @_;
    my ($rc, $out, $err) = $n4->psql("\\set VERBOSITY sqlstate\n$sql");
    my ($code) = $err =~ /ERROR:\s+(\S+)\s*$/m;
    return ($rc == 0 ? 'none' : $code // "no code in: $err", $err);
}
sub add_call {
    my ($src, $src_dsn, $new, $new_dsn) = @_;
    return Zodan::Node::bind_params("CALL spock.add_node(\$1, \$2, \$3, \$4)", $src, $src_dsn, $new, $new_dsn);
}

# Arguments and names, refused before anything changes.
my ($code) = sqlstate_of(add_call('n1', $n1->dsn, 'n1', $n4->dsn));
is($code, '22023', "the same name for source and new node: invalid_parameter_value");
($code) = sqlstate_of(add_call('n2', $n1->dsn, 'n4', $n4->dsn));
is($code, '22023', "src_dsn reaching another node than src_node_name: invalid_parameter_value");
($code) = sqlstate_of(add_call('n1', $n4->dsn, 'n4', $n4->dsn));
is($code, '42704', "src_dsn reaching a database that is no Spock node: undefined_object");

# A node that cannot be reached: a port nothing listens on.
my $sock = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1', LocalPort => 0) or die "no free port: $!\n";
my $closed = $sock->sockport;
close $sock;
(my $unreachable = $n1->dsn) =~ s/port=\d+/port=$closed/;
($code) = sqlstate_of(add_call('n1', $unreachable, 'n4', $n4->dsn));
is($code, '08001', "a node that cannot be connected to: sqlclient_unable_to_establish_sqlconnection");

# A failed precondition keeps 55000.
($code) = sqlstate_of(add_call('n1', $n1->dsn, 'n2', $n4->dsn));
is($code, '55000', "a node name already taken: object_not_in_prerequisite_state");

# The join lock held by another run (as a run holds it: the advisory lock
# on a member, held by a session of its own).
my $holder = $n2->holding_session("SELECT pg_advisory_lock(hashtext('zodan'), 1);\n", app => 'zodan_lock_holder');
$n2->poll("SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
            WHERE l.locktype = 'advisory' AND l.granted AND a.application_name = 'zodan_lock_holder'",
    '1', 30, "another session holds the join lock on n2")
  or die "no join lock held on n2\n";
my $err;
($code, $err) = sqlstate_of($f->add_sql);
is($code, '55P03', "the join lock held by another run: lock_not_available");
$holder->kill_it;
$n2->sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'zodan_lock_holder'");

# A wait past zodan.sync_timeout: a transaction holding an xid on n2 keeps
# the new node's slot there from being made.
my $xid = $n2->background("BEGIN;\nINSERT INTO audit_log VALUES (986001, 'held');\nSELECT pg_sleep(600);\nCOMMIT;",
    app => 'zodan_xid_holder');
$n2->poll("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'zodan_xid_holder' AND backend_xid IS NOT NULL",
    '1', 30, "n2 holds a transaction open")
  or die "no transaction held open on n2\n";
($code, $err) = sqlstate_of($f->add_sql("zodan.sync_timeout = '2s'"));
is($code, '57014', "a wait past zodan.sync_timeout: query_canceled");
$n2->sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'zodan_xid_holder'");
$xid->finish(30);

# A new node that differs from the source: the run resumed up to the
# comparison, a row changed on n4 alone (repair mode: not replicated), the
# comparison then finds it.
($code, $err) = sqlstate_of($f->add_sql("zodan.fail_at_step = 'verify_data'"));
is($n4->sql("SELECT step_name FROM spock.zodan_add_node_status WHERE state = 'failed'"), 'verify_data',
    "the add resumed and stopped before comparing") or diag($err);
$n4->sql("BEGIN; SELECT spock.repair_mode(true); UPDATE items SET name = 'only on n4' "
      . "WHERE id = (SELECT min(id) FROM items); SELECT spock.repair_mode(false); COMMIT");
($code, $err) = sqlstate_of($f->add_sql("zodan.sync_timeout = '20s'"));
is($code, 'ZD001', "the new node differs from the source: zodan's own code") or diag($err);
$c->done;
