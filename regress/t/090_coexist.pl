# Coexistence with what an operator had before the extension, and settings
# of theirs that the extension honours:
# - the published zodan.sql and zodremove.sql (of the Spock version under
#   test, loaded with \i as pgEdge's tutorial says): CREATE EXTENSION zodan
#   refuses, naming what is there, before creating anything; the DROP its
#   HINT gives clears the way, and the extension then installs and adds;
# - large objects in the source's pg_largeobject: the add refuses them
#   (logical replication would never bring them);
# - spock.sync_timeout bounds the waits when zodan.sync_timeout is not set,
#   and an explicitly set zodan.sync_timeout wins over it.
# matrix: every combination
use strict;
use warnings;
use Cwd ();
use FindBin;
use lib "$FindBin::RealBin/../lib";
use Zodan::Mesh;
use Test::More;

my $c = Zodan::Mesh->new(nodes => 2);
$c->inventory(1);
my ($n1, $n2) = ($c->node(1), $c->node(2));

# samples/Z0DAN/NAME out of the Spock source tarball the server was built
# from (as Zodan::Bench finds zodan.sql).
sub published_script {
    my ($name) = @_;
    my $shared = $ENV{ZODAN_SHARED} // Cwd::abs_path("$Zodan::Env::root/..") . '/shared/spock';
    my %pattern = ('6' => 'spock-6.0.0-devel-*.tar.gz', '5.0.11' => 'spock-5.0.11.tar.gz',
                   '5.0.9' => 'spock-5.0.9.tar.gz', '5' => 'spock-5.0.11.tar.gz');
    my ($tarball) = glob("$shared/" . ($pattern{ $ENV{SPOCK} // '6' } // die "no scripts known for SPOCK=$ENV{SPOCK}\n"));
    die "no Spock source tarball in $shared\n" unless $tarball && -f $tarball;
    my $file = "$ENV{TESTDIR}/$name";
    system("tar -xOzf '$tarball' --wildcards '*/samples/Z0DAN/$name' > '$file'") == 0 && -s $file
      or die "$tarball has no samples/Z0DAN/$name\n";
    return $file;
}

sub load_script {
    my ($node, $name) = @_;
    my $file = published_script($name);
    my ($rc, undef, $err) =
      $node->psql("SET client_min_messages = warning;\n" . PostgreSQL::Test::Utils::slurp_file($file), { quiet => 1 });
    die "loading $name failed: $err\n" if $rc != 0;
}

# Routines in schema spock that no extension owns: what the scripts left.
my $loose = "SELECT count(*) FROM pg_proc p WHERE p.pronamespace = 'spock'::regnamespace AND NOT EXISTS "
  . "(SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')";

# CREATE EXTENSION (with OPTIONS) on n2 -> (code, message line, hint).
sub create_extension {
    my ($options) = @_;
    my ($rc, $out, $err) = $n2->psql("\\set VERBOSITY verbose\nCREATE EXTENSION zodan$options");
    return ('none', '', '') if $rc == 0;
    my ($code, $message) = $err =~ /ERROR:\s+(\w{5}):\s+(.*)$/m;
    my ($hint) = $err =~ /HINT:\s+(.*)$/m;
    return ($code // "no code in: $err", $message // '', $hint // '');
}

$n2->sql("CREATE EXTENSION dblink");

# zodan.sql defines spock.add_node and spock.health_check (the same
# signatures as the extension's: CREATE EXTENSION used to fail half-way).
load_script($n2, 'zodan.sql');
my ($code, $message, $hint) = create_extension('');
is($code, '42723', "with zodan.sql loaded, CREATE EXTENSION zodan fails: duplicate_function");
like($message, qr/^the procedures of the published zodan scripts are installed: spock\.add_node\(.*\), spock\.health_check\(/,
    "naming the published add_node and health_check") or diag($message);
unlike($message, qr/remove_node/, "and nothing that is not there");
my ($drop) = $hint =~ /^Drop what the scripts created, then CREATE EXTENSION zodan again: (DROP ROUTINE .*;)$/;
ok($drop, "the HINT gives the DROP statement") or diag($hint);
$n2->sql($drop);
is($n2->sql($loose), '0', "which drops every routine zodan.sql created");

# zodremove.sql defines spock.remove_node with other arguments than the
# extension's (the extension used to install, and every CALL was ambiguous).
load_script($n2, 'zodremove.sql');
($code, $message, $hint) = create_extension(" VERSION '0.1.0'");
is($code, '42723', "with zodremove.sql loaded, CREATE EXTENSION zodan VERSION '0.1.0' fails too");
like($message, qr/^the procedures of the published zodan scripts are installed: spock\.remove_node\(/,
    "with the same message (0.1.0's own script checks too)") or diag($message);
($code, $message, $hint) = create_extension('');
is($code, '42723', "and so does CREATE EXTENSION zodan");
like($message, qr/^the procedures of the published zodan scripts are installed: spock\.remove_node\([^,]*text/,
    "naming the published remove_node") or diag($message);
($drop) = $hint =~ /^Drop what the scripts created, then CREATE EXTENSION zodan again: (DROP ROUTINE .*;)$/;
ok($drop, "with the DROP statement") or diag($hint);
$n2->sql($drop);
is($n2->sql($loose), '0', "which drops every routine zodremove.sql created");
($code) = create_extension('');
is($code, 'none', "then CREATE EXTENSION zodan succeeds");

my $add = Zodan::Node::bind_params("CALL spock.add_node('n1', \$1, 'n2', \$2)", $n1->dsn, $n2->dsn);

# A large object of n1's own: logical replication would never bring it.
$n1->sql("SELECT lo_from_bytea(0, '\\x0102'::bytea)");
my ($rc, $out, $err) = $n2->psql("\\set VERBOSITY verbose\n$add");
like($err, qr/ERROR:  55000: source "n1" holds 1 large object\(s\) in pg_largeobject, which logical replication does not carry/,
    "a large object in the source's pg_largeobject: the add refuses (55000)") or diag($err);
like($err, qr/HINT:  Keep large objects with the lolor extension/, "pointing to lolor");
is($n2->sql("SELECT count(*) FROM spock.node"), '0', "before anything changed");
$n1->sql("SELECT lo_unlink(oid) FROM pg_largeobject_metadata");

# spock.sync_timeout bounds the waits: a transaction holding an xid on the
# source keeps the copy point's slot from being made.
my $xid = $n1->background("BEGIN;\nINSERT INTO audit_log VALUES (990001, 'held');\nSELECT pg_sleep(600);\nCOMMIT;",
    app => 'zodan_xid_holder');
$n1->poll("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'zodan_xid_holder' AND backend_xid IS NOT NULL",
    '1', 30, "n1 holds a transaction open")
  or die "no transaction held open on n1\n";
($rc, $out, $err) = $n2->psql("\\set VERBOSITY verbose\nSET spock.sync_timeout = '2s';\n$add");
like($err, qr/ERROR:  57014: timed out after 2 s waiting for the transaction/,
    "spock.sync_timeout set, zodan.sync_timeout not: the wait ends after spock.sync_timeout") or diag($err);
($rc, $out, $err) = $n2->psql("\\set VERBOSITY verbose\nSET spock.sync_timeout = '2s';\nSET zodan.sync_timeout = '5s';\n$add");
like($err, qr/ERROR:  57014: timed out after 5 s waiting for the transaction/,
    "both set: zodan.sync_timeout wins") or diag($err);
($rc, $out, $err) = $n2->psql("\\set VERBOSITY verbose\nSET spock.sync_timeout = 0;\nSET zodan.sync_timeout = '3s';\n$add");
like($err, qr/ERROR:  57014: timed out after 3 s/, "spock.sync_timeout 0 leaves zodan.sync_timeout in force") or diag($err);
if (Zodan::Mesh::spock_version() =~ /^5\./) {
    # Spock 5 has no such setting: a SET makes a placeholder of any text.
    ($rc, $out, $err) = $n2->psql("\\set VERBOSITY verbose\nSET spock.sync_timeout = 'soon';\n$add");
    like($err, qr/ERROR:  22023: spock.sync_timeout is "soon", which is not a duration/,
        "under Spock 5, a spock.sync_timeout that is no duration is a bad argument") or diag($err);
} else {
    ($rc, $out, $err) = $n2->psql("SET spock.sync_timeout = 'soon'");
    like($err, qr/invalid value for parameter "spock.sync_timeout"/, "under Spock 6 it is Spock's own setting")
      or diag($err);
}
$n1->sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'zodan_xid_holder'");
$xid->finish(30);

($rc, $out, $err) = $n2->psql("SET spock.sync_timeout = '1h';\n$add");
is($rc, 0, "once the transaction is gone, the add completes") or diag($err);
$n2->wait_replicating;
$c->converge(1, 2);
is($n2->sql("SELECT count(*) FROM items"), '500', "n2 has n1's rows");
$c->done;
