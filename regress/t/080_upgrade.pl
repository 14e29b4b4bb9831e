# An install of an older zodan with an unfinished run in its journal is
# updated the PostgreSQL way (the new library, then ALTER EXTENSION zodan
# UPDATE), and the new version takes that run over:
#  - zodan 0.2.0 (commit 0d0840a, the last 0.2.0) stopped after its copy:
#    0.3.0 reads 0.2.0's journal and resumes the run where it stopped;
#  - zodan 0.1.0 (commit e85c927, the last 0.1.0) copied with Spock's own
#    sync, which 0.3.0 no longer has: the resume is refused, naming the
#    rollback, spock.remove_node rolls the node back, and a new add joins it;
#  - zodan 0.3.0 (commit 8df2b53) stopped after its copy: 0.4.0 shows the
#    run in spock.zodan_results (failed, at its step), resumes it, and the
#    result of the resumed call reads back from spock.zodan_last_result().
# Each goes up by ALTER EXTENSION zodan UPDATE through every script between.
# The old libraries are built from the project's own history into a copy of
# the installation of this test's own.
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

my $pg_config = Zodan::Mesh::pg_config();
chomp(my $pkglibdir = `'$pg_config' --pkglibdir`);
chomp(my $extdir = `'$pg_config' --sharedir`);
$extdir .= '/extension';
my $root = Zodan::Mesh::project_dir();

# The new version's files, kept aside while an old one is installed.
my $keep = tempdir("zodan-new.XXXXXX", TMPDIR => 1, CLEANUP => 1);
copy("$pkglibdir/zodan.so", "$keep/zodan.so") or die "no installed zodan.so: $!";
copy("$extdir/$_", "$keep/$_") or die $! for grep { /^zodan/ } map { s{.*/}{}r } glob("$extdir/zodan*");
my @new_files = map { s{.*/}{}r } glob("$keep/*");
my ($new_version) = `cat '$keep/zodan.control'` =~ /default_version = '([^']+)'/;

# Installs zodan as commit COMMIT built it, without the scripts of any later version.
sub install_old {
    my ($commit, $version) = @_;
    my $src = tempdir("zodan-$version.XXXXXX", TMPDIR => 1, CLEANUP => 1);
    system("git -c safe.directory='*' -C '$root' archive $commit | tar -x -C '$src'") == 0
      or BAIL_OUT("cannot read commit $commit from the project's history (a shallow clone?)");
    # With the test hooks (zodan.fail_at_step): from 0.3.0 on only a build
    # made with ZODAN_TEST_HOOKS=1 has them; earlier ones ignore it.
    system("make -s -C '$src' PG_CONFIG='$pg_config' ZODAN_TEST_HOOKS=1 -j2 >/dev/null 2>&1 && make -s -C '$src' PG_CONFIG='$pg_config' ZODAN_TEST_HOOKS=1 install >/dev/null 2>&1") == 0
      or BAIL_OUT("building zodan $version failed");
    for my $file (glob("$extdir/zodan--*.sql")) {
        my ($to) = $file =~ /zodan--(?:[\d.]+--)?([\d.]+)\.sql$/;
        unlink $file if version_after($to, $version);
    }
    like(`grep default_version '$extdir/zodan.control'`, qr/'\Q$version\E'/, "zodan $version is installed");
}

sub version_after {
    my ($a, $b) = @_;
    my @a = split /\./, $a;
    my @b = split /\./, $b;
    for my $i (0 .. 2) { return $a[$i] > $b[$i] if $a[$i] != $b[$i] }
    return 0;
}

# The new library (a preloaded one needs the server restarted), then the update.
sub update_to_new {
    my ($n) = @_;
    $n->stop;
    # Each file replaced by a rename, never rewritten in place: the other
    # nodes' processes still map the old library.
    for my $file (@new_files) {
        my $to = $file eq 'zodan.so' ? "$pkglibdir/$file" : "$extdir/$file";
        copy("$keep/$file", "$to.new") or die $!;
        rename("$to.new", $to) or die $!;
    }
    $n->start;
    $n->sql("ALTER EXTENSION zodan UPDATE");
    is($n->sql("SELECT extversion FROM pg_extension WHERE extname = 'zodan'"), $new_version,
        "ALTER EXTENSION zodan UPDATE to $new_version");
}

# Every member converges and holds the same tables.
sub judge {
    my ($f, $what) = @_;
    ok($f->converges, "all four nodes converge ($what)");
    is(scalar($f->tables_differing), 0, "and hold the same tables ($what)");
}

# zodan 0.2.0: a run stopped after its copy is resumed by the new version.
{
    install_old('0d0840a', '0.2.0');
    my $c = Zodan::Mesh->new(nodes => 4);
    $c->inventory(3);
    my $n4 = $c->node(4);
    $n4->sql("CREATE EXTENSION zodan VERSION '0.2.0'");
    my $f = Zodan::Faults->new($c);
    my ($rc, $out, $err) = $f->add("zodan.fail_at_step = 'mirror_replication_sets'");
    like($err, qr/injected failure at "mirror_replication_sets"/, "0.2.0's add stops at mirror_replication_sets");
    update_to_new($n4);
    is($n4->sql("SELECT string_agg(step_name, ' ' ORDER BY step_no) FROM spock.zodan_add_node_steps WHERE step_no < 3"),
        'check_versions check_preconditions create_node', "the new version shows its steps");
    ($rc, $out, $err) = $f->add;
    is($rc, 0, "the new version completes 0.2.0's unfinished run") or diag($err);
    like($err, qr/resuming the unfinished run at step mirror_replication_sets/, "resuming it where 0.2.0 stopped");
    like($err, qr/copy the source to the new node \(done before\)/, "the copy 0.2.0 made is kept");
    is($n4->sql("SELECT count(*) FROM spock.zodan_steps WHERE step_name = 'advance_slots' AND state = 'done'"), '1',
        "0.2.0's slots advanced to its copy's positions are kept");
    judge($f, 'after 0.2.0');
    is($n4->sql("SELECT status || ' ' || changed FROM spock.zodan_results ORDER BY run_id DESC LIMIT 1"), 'done true',
        "0.2.0's run, resumed, in spock.zodan_results");
    $c->checks;
    $c->teardown;
}

# zodan 0.3.0: its run, journaled before 0.4.0, read as a result and resumed.
{
    install_old('8df2b53', '0.3.0');
    my $c = Zodan::Mesh->new(nodes => 4);
    $c->inventory(3);
    my $n4 = $c->node(4);
    $n4->sql("CREATE EXTENSION zodan VERSION '0.3.0'");
    my $f = Zodan::Faults->new($c);
    my ($rc, $out, $err) = $f->add("zodan.fail_at_step = 'mirror_replication_sets'");
    like($err, qr/injected failure at "mirror_replication_sets"/, "0.3.0's add stops at mirror_replication_sets");
    update_to_new($n4);
    is($n4->sql("SELECT status || ' ' || failed_step || ' ' || changed || ' ' || array_to_string(members, ',') "
          . "FROM spock.zodan_results"), 'failed mirror_replication_sets true n1,n2,n3',
        "spock.zodan_results shows 0.3.0's run: failed, where, and the members it found");
    ($rc, $out, $err) = $n4->psql($f->add_sql . ";
SELECT status || ' ' || changed || ' ' || (rows_compared > 0) "
          . "FROM spock.zodan_last_result()");
    is($rc, 0, "the new version completes 0.3.0's unfinished run") or diag($err);
    like($err, qr/resuming the unfinished run at step mirror_replication_sets/, "resuming it where 0.3.0 stopped");
    is($out, 'done true true', "and zodan_last_result() reads the resumed run back");
    judge($f, 'after 0.3.0');
    $c->checks;
    $c->teardown;
}

# zodan 0.1.0: a run that copied with Spock's sync is rolled back, then added anew.
{
    install_old('e85c927', '0.1.0');
    my $c = Zodan::Mesh->new(nodes => 4);
    $c->inventory(3);
    my $n4 = $c->node(4);
    $n4->sql("CREATE EXTENSION zodan VERSION '0.1.0'");
    my $f = Zodan::Faults->new($c);
    # (0.1.0 logged the statement of a call, passwords and all, with
    # log_statement on: fixed in 0.2.0; so it is off for 0.1.0's call.)
    my ($rc, $out, $err) = $f->add("log_statement = none", "zodan.fail_at_step = 'mirror_replication_sets'");
    like($err, qr/injected failure at "mirror_replication_sets"/, "0.1.0's add stops at mirror_replication_sets");
    update_to_new($n4);
    ($rc, $out, $err) = $f->add;
    isnt($rc, 0, "the new version does not resume a run that copied with Spock's sync");
    like($err, qr/copied with Spock's own sync .* no longer has/, "saying why");
    like($err, qr/HINT:  Roll it back with CALL spock.remove_node\('n4', <its DSN>\)/, "and naming the rollback");
    ($rc, $out, $err) = $f->remove;
    is($rc, 0, "remove_node rolls 0.1.0's run back") or diag($err);
    like($err, qr/rolled back the unfinished add_node run/, "as its rollback");
    ($rc, $out, $err) = $f->add;
    is($rc, 0, "a new add then joins the node") or diag($err);
    unlike($err, qr/resuming/, "as a run of its own");
    judge($f, 'after 0.1.0');
    $c->done;
}
