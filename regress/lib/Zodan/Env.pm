# Where the tests' servers come from, before PostgreSQL's own test modules
# load: the pg_config of a server with Spock (PG_CONFIG, else the one
# regress/build-spock.sh builds for SPOCK and PG), its TAP modules on @INC,
# its binaries on PATH, and a scratch directory for the nodes.
#
# PostgreSQL refuses to run as root. Run as root, a test builds what it
# needs (Spock, zodan) and then runs itself again as the OS user `postgres`,
# with the same arguments and output, so `prove regress/t/x.pl` works as
# root and as any other user.
package Zodan::Env;

use strict;
use warnings;
use Cwd qw(abs_path);
use File::Basename qw(dirname basename);
use File::Path ();
use File::Temp qw(tempdir);
use File::Spec;

our $root = abs_path(dirname(__FILE__) . '/../../..');    # the project
our ($pg_config, $bindir, $pkglibdir, $sharedir, $spock_version, $pg_major);

sub run_or_die {
    my (@cmd) = @_;
    my $out = `@cmd`;
    die "[harness] failed: @cmd\n" if $? != 0;
    chomp $out;
    return $out;
}

sub find_pg_config {
    return $ENV{PG_CONFIG} if $ENV{PG_CONFIG};
    my $spock = $ENV{SPOCK} // '6';
    my $pg    = $ENV{PG}    // '15';
    # Builds once, then reuses the prefix (keyed by its inputs).
    my $found = run_or_die("bash '$root/regress/build-spock.sh' '$spock' '$pg'");
    return (split /\n/, $found)[-1];
}

# Whether zodan is built with its test hooks (zodan.fail_at_step,
# zodan.pause_at_step; Makefile: ZODAN_TEST_HOOKS=1): yes, as the tests
# need them, unless ZODAN_TEST_HOOKS=0 asks for the library as a plain
# `make` ships it (regress/test-all.sh's check of the release tarball).
sub test_hooks { ($ENV{ZODAN_TEST_HOOKS} // '1') ne '0' }

# Builds and installs zodan into the server, unless the runner did.
sub ensure_zodan {
    return if $ENV{ZODAN_INSTALLED};
    my $stamp = "$root/.built-for";
    my $was = -f $stamp ? do { local (@ARGV) = $stamp; my $l = <>; chomp $l; $l } : '';
    if ($was ne $pg_config) {
        system("make -s -C '$root' PG_CONFIG='$pg_config' clean >/dev/null 2>&1");
        open my $fh, '>', $stamp or die "[harness] cannot write $stamp: $!\n";
        print $fh "$pg_config\n";
        close $fh;
    }
    my $hooks = test_hooks() ? 1 : 0;
    system("make -s -C '$root' PG_CONFIG='$pg_config' ZODAN_TEST_HOOKS=$hooks -j2 >/dev/null") == 0
      or die "[harness] building zodan failed\n";
    # Scripts another build left in the extension directory (a zodan--X.sql
    # this version does not ship) would give CREATE EXTENSION a shorter path
    # than ours: only this build's are there.
    my $sharedir = `'$pg_config' --sharedir`;
    chomp $sharedir;
    unlink glob("$sharedir/extension/zodan--*.sql");
    system("make -s -C '$root' PG_CONFIG='$pg_config' ZODAN_TEST_HOOKS=$hooks install >/dev/null") == 0
      or die "[harness] installing zodan failed\n";
}

sub setup {
    $pg_config = find_pg_config();
    $bindir    = run_or_die("'$pg_config' --bindir");
    $pkglibdir = run_or_die("'$pg_config' --pkglibdir");
    $sharedir  = run_or_die("'$pg_config' --sharedir");
    -f "$sharedir/extension/spock.control" && -f "$pkglibdir/spock.so"
      or die "[harness] no Spock in ${pg_config}'s server: run regress/build-spock.sh, "
      . "or point PG_CONFIG at a server with Spock\n";
    ($spock_version) =
      run_or_die("sed -nE \"s/^default_version *= *'([^']*)'.*/\\1/p\" '$sharedir/extension/spock.control'");
    ($pg_major) = run_or_die("'$pg_config' --version") =~ /PostgreSQL (\d+)/;

    # A test that swaps the installed zodan (the upgrade test) gets a copy of
    # the installation of its own (an installation is relocatable).
    if ($ENV{ZODAN_PRIVATE_INSTALL} && !$ENV{ZODAN_PRIVATE_PREFIX}) {
        my $prefix = run_or_die("dirname \"\$(dirname '$pg_config')\"");
        my $copy = tempdir("zodan-install.XXXXXX", TMPDIR => 1, CLEANUP => 0);
        system('cp', '-a', "$prefix/.", $copy) == 0 or die "[harness] cannot copy $prefix\n";
        $ENV{ZODAN_PRIVATE_PREFIX} = $copy;
        $ENV{PG_CONFIG} = "$copy/bin/pg_config";
        return setup();
    }
    if ($> == 0) {
        # The test re-runs from this checkout as the servers' owner: a
        # checkout it cannot read (a 0700 directory, as mktemp -d makes)
        # would otherwise end every test with perl's bare exit 13.
        my $user = $ENV{ZODAN_TEST_USER} // 'postgres';
        my $script = File::Spec->rel2abs($0);
        system('runuser', '-u', $user, '--', 'test', '-r', $script) == 0
          or die "[harness] the user $user cannot read $script: make the checkout and every directory above it "
          . "readable to $user (chmod o+rx), or set ZODAN_TEST_USER\n";
        ensure_zodan();
        if ($ENV{ZODAN_PRIVATE_PREFIX}) {
            system('chown', '-R', $user, $ENV{ZODAN_PRIVATE_PREFIX}) == 0
              or die "[harness] cannot chown $ENV{ZODAN_PRIVATE_PREFIX}\n";
        }
        # Again as the unprivileged owner of the servers, output unchanged.
        my $scratch = tempdir("zodan-tap.XXXXXX", TMPDIR => 1, CLEANUP => 0);
        system('chown', $user, $scratch) == 0 or die "[harness] cannot chown $scratch to $user\n";
        chmod 0755, $scratch;
        my @env = ("PG_CONFIG=$pg_config", "ZODAN_INSTALLED=1", "TMPDIR=$scratch",
                   "PATH=$ENV{PATH}", map { "$_=$ENV{$_}" } grep { /^(PG_TEST_|ZODAN_|SPOCK$|PG$|KEEP_)/ } keys %ENV);
        exec('runuser', '-u', $user, '--', 'env', @env, $^X, (map { "-I$_" } @INC), $0, @ARGV)
          or die "[harness] cannot run as $user: $!\n";
    }
    ensure_zodan() unless $ENV{ZODAN_INSTALLED};

    unshift @INC, "$pkglibdir/pgxs/src/test/perl";
    $ENV{PATH} = "$bindir:$ENV{PATH}";
    $ENV{PG_REGRESS} = "$pkglibdir/pgxs/src/test/regress/pg_regress";
    # Every node's data and log under one folder per test run.
    my $name = basename($0);
    $name =~ s/\.[^.]+$//;
    my $base = $ENV{ZODAN_TEST_DIR}
      // tempdir("zodan-$name.XXXXXX", TMPDIR => 1, CLEANUP => 0);
    $ENV{TESTDIR}     = $base;              # PostgreSQL 15: $TESTDIR/tmp_check
    $ENV{TESTDATADIR} = "$base/tmp_check";  # PostgreSQL 17 on
    $ENV{TESTLOGDIR}  = "$base/tmp_check/log";
    $ENV{PG_TEST_TIMEOUT_DEFAULT} //= 120;
    return;
}

# A test's own copy of the installation goes with the test (after
# PostgreSQL::Test::Cluster's END has stopped the servers it ran).
END {
    File::Path::remove_tree($ENV{ZODAN_PRIVATE_PREFIX}) if $ENV{ZODAN_PRIVATE_PREFIX} && $> != 0 && -d $ENV{ZODAN_PRIVATE_PREFIX};
}

1;
