# An install of zodan 0.1.0 with an unfinished run in its journal is
# updated the PostgreSQL way (the new library, then ALTER EXTENSION zodan
# UPDATE), and the new version resumes that run where 0.1.0 left it: the
# journal is keyed by step name, so the steps 0.2.0 added do not shift it.
# The 0.1.0 library is built from the project's own history (commit
# e85c927, the last 0.1.0) into a copy of the installation of this test's own.
# matrix: full suite only
use strict;
use warnings;
BEGIN { $ENV{ZODAN_PRIVATE_INSTALL} = 1 }
use FindBin;
use lib "$FindBin::RealBin/../lib";
use Zodan::Mesh;
use Zodan::Faults;
use Test::More;
use File::Temp qw(tempdir);
use File::Copy qw(copy);

my $OLD = 'e85c927';
my $pg_config = Zodan::Mesh::pg_config();
chomp(my $pkglibdir = `'$pg_config' --pkglibdir`);
chomp(my $extdir = `'$pg_config' --sharedir`);
$extdir .= '/extension';
my $root = Zodan::Mesh::project_dir();

# The new version's files, kept aside while 0.1.0 is installed.
my $keep = tempdir("zodan-new.XXXXXX", TMPDIR => 1, CLEANUP => 1);
copy("$pkglibdir/zodan.so", "$keep/zodan.so") or die "no installed zodan.so: $!";
copy("$extdir/$_", "$keep/$_") or die $! for grep { /^zodan/ } map { s{.*/}{}r } glob("$extdir/zodan*");
my @new_files = map { s{.*/}{}r } glob("$keep/*");

# 0.1.0, built from history.
my $src = tempdir("zodan-0.1.0.XXXXXX", TMPDIR => 1, CLEANUP => 1);
system("git -c safe.directory='*' -C '$root' archive $OLD | tar -x -C '$src'") == 0
  or BAIL_OUT("cannot read commit $OLD from the project's history (a shallow clone?)");
system("make -s -C '$src' PG_CONFIG='$pg_config' -j2 >/dev/null 2>&1 && make -s -C '$src' PG_CONFIG='$pg_config' install >/dev/null 2>&1") == 0
  or BAIL_OUT("building zodan 0.1.0 failed");
unlink "$extdir/zodan--0.2.0.sql", "$extdir/zodan--0.1.0--0.2.0.sql";
like(`grep default_version '$extdir/zodan.control'`, qr/'0\.1\.0'/, "zodan 0.1.0 is installed");

my $c = Zodan::Mesh->new(nodes => 4);
$c->inventory(3);
my ($n1, $n4) = ($c->node(1), $c->node(4));
$n4->sql("CREATE EXTENSION zodan VERSION '0.1.0'");
is($n4->sql("SELECT extversion FROM pg_extension WHERE extname = 'zodan'"), '0.1.0', "CREATE EXTENSION zodan VERSION '0.1.0'");
my $f = Zodan::Faults->new($c);
# (0.1.0 logged the statement of a call, passwords and all, with
# log_statement on: fixed in 0.2.0; so it is off for 0.1.0's call.)
my ($rc, $out, $err) = $f->add("log_statement = none", "zodan.fail_at_step = 'mirror_replication_sets'");
like($err, qr/injected failure at "mirror_replication_sets"/, "0.1.0's add stops at mirror_replication_sets");
is($n4->sql("SELECT string_agg(step_no || ':' || step_name, ' ' ORDER BY step_no) FROM spock.zodan_steps WHERE state = 'done'"),
    '0:check_versions 1:check_preconditions 2:create_node 3:prepare_other_nodes 4:sync_source 5:copy_source 6:catch_up 7:advance_slots',
    "its journal has the steps 0.1.0 finished");

# The new library (a preloaded one needs the server restarted), then the update.
$n4->stop;
# Each file replaced by a rename, never rewritten in place: the other
# nodes' processes still map the old library.
for my $file (@new_files) {
    my $to = $file eq 'zodan.so' ? "$pkglibdir/$file" : "$extdir/$file";
    copy("$keep/$file", "$to.new") or die $!;
    rename("$to.new", $to) or die $!;
}
$n4->start;
$n4->sql("ALTER EXTENSION zodan UPDATE");
is($n4->sql("SELECT extversion FROM pg_extension WHERE extname = 'zodan'"), '0.2.0', "ALTER EXTENSION zodan UPDATE to 0.2.0");
($rc, $out, $err) = $f->add;
is($rc, 0, "the new version completes the unfinished run") or diag($err);
like($err, qr/resuming the unfinished run at step mirror_replication_sets/, "resuming it where 0.1.0 stopped");
like($err, qr/copy the source to the new node \(done before\)/, "the copy 0.1.0 made is kept");
like($err, qr/compare the new node with the source/, "and the steps 0.2.0 added run too");
ok($f->converges, "all four nodes converge");
is(scalar($f->tables_differing), 0, "and hold the same tables");
$c->done;
