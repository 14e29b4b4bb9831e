# What the procedure takes from the server it runs on, the server's way:
# - every connection it opens takes one of the session's external file
#   descriptors (fd.c's AcquireExternalFD, as dblink's take): none left is a
#   clear error, and each is given back exactly once;
# - a cancel of the caller cancels its remote statement at once (on
#   PostgreSQL 17+ with libpq's non-blocking cancel, before with a thread)
#   and the remote statement is gone when the call returns;
# - the dump's scratch directory lives in the server's temporary area
#   (base/pgsql_tmp, named pgsql_tmp*), which a restart clears, and is
#   removed when the copy is done.
# matrix: every combination
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use Zodan::Mesh;
use Zodan::Faults;
use Test::More;
use Time::HiRes qw(time sleep);

my $c = Zodan::Mesh->new(nodes => 2);
$c->inventory(1);
my ($n1, $n2) = ($c->node(1), $c->node(2));
$n2->sql("CREATE EXTENSION zodan");
my $f = Zodan::Faults->new($c, new => 2);

# --- File descriptors -------------------------------------------------------
# With max_files_per_process low, a session may hold a handful of
# external descriptors: dblink takes them all, then the procedure asks.
# (100: PostgreSQL 15 refuses to start with much less.)
$n2->reconfigure("max_files_per_process = 100");
my $fill = sub {
    my ($from) = @_;
    my $extra = $from == 0 ? 'true' : 'false';
    return Zodan::Node::bind_params(<<'SQL' =~ s/FROM/$from/r =~ s/FILL/$extra/r, $n1->dsn);
DO $do$ DECLARE i int := 0; why text; BEGIN
  LOOP
    BEGIN
      PERFORM dblink_connect('fd_' || (FROM + i), $1);
    -- None left for the connection, or for the wait on it.
    EXCEPTION WHEN OTHERS THEN why := SQLERRM; EXIT;
    END;
    i := i + 1;
    EXIT WHEN i >= 500;
  END LOOP;
  RAISE NOTICE 'dblink took % descriptors', i USING DETAIL = coalesce(why, '');
  -- PostgreSQL 18 gives back one descriptor too many when a wait fails to
  -- get one (CreateWaitEventSet: the resource owner frees a set that never
  -- held its descriptor), which dblink's last attempt just did. One more
  -- attempt takes that one, if it is there: then one is left either way,
  -- too few for a connection and the wait on it.
  IF FILL THEN
    BEGIN PERFORM dblink_connect('fd_extra', $1); EXCEPTION WHEN OTHERS THEN NULL; END;
  END IF;
END $do$;
SQL
};
my $health = Zodan::Node::bind_params("CALL spock.health_check('n1', \$1);\n", $n1->dsn);
my $fd_error = qr/node "n1": connecting failed: this server has no file descriptor left for another connection/;
my ($rc, $out, $err) = $n2->psql("\\set ON_ERROR_STOP off\nCREATE EXTENSION IF NOT EXISTS dblink;\n"
      . $fill->(0)
      . $health
      . "SELECT dblink_disconnect('fd_' || g) FROM generate_series(0, 2) g;\n"
      . $health x 4
      . $fill->(1000), { quiet => 1 });
my ($took) = $err =~ /dblink took (\d+) descriptors/;
ok(defined $took && $took > 0 && $took < 500, "dblink takes every external descriptor the session may hold ("
      . ($took // 'none') . ")") or diag($err);
like($err, qr/ERROR:  $fd_error\n(.*\n)*?HINT:  Raise the server's max_files_per_process/,
    "with none left, the procedure refuses to connect, saying why and what to raise") or diag($err);
is(scalar(() = $err =~ /$fd_error/g), 1, "once three are free, four calls in a row connect (each gave its own back)")
  or diag($err);
my @took = $err =~ /dblink took (\d+) descriptors/g;
is($took[-1], 3, "and afterwards exactly those three are free again: none kept, none given back twice")
  or diag($err);
$n2->restore_conf;

# --- Cancel -----------------------------------------------------------------
# The add waits in a remote statement on n2 (an advisory lock another
# session holds: zodan.pause_at_step); a cancel of the caller ends it.
$f->hold_pause_lock;
my $caller = $n2->background($f->add_sql("zodan.pause_at_step = 'check_versions'"), app => 'zodan_cancel_084');
my $waiting = "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'zodan:%'
                AND state = 'active' AND wait_event_type = 'Lock'";
$n2->poll($waiting, '1', 30, "the add waits on n2 in a remote statement") or die "the add did not wait\n";
sleep 0.3;
my $t0 = time;
$n2->sql("SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'zodan_cancel_084'");
($rc, $out, $err) = $caller->finish(30);
my $elapsed = int((time - $t0) * 1000);
like($err, qr/canceling statement due to user request/, "pg_cancel_backend ends the call");
cmp_ok($elapsed, '<', 1000, "within a second, its remote statement cancelled on the way ($elapsed ms)");
is($n2->sql($waiting), '0', "the remote statement is gone the moment the call has returned");
$f->release_pause_lock;

# --- The dump's scratch directory ---------------------------------------------
# pg_restore waits on n2 for a session that creates one of the tables it
# restores and has not committed: the test reads where the dump is while it
# waits, then crashes n2 under it.
my $gate = $n2->background("BEGIN;\nCREATE TABLE public.items (id int);\nSELECT pg_sleep(600);\nCOMMIT;",
    app => 'zodan_gate');
$n2->poll("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'zodan_gate' AND backend_xid IS NOT NULL",
    '1', 30, "a session on n2 creates items") or die "no gate on n2\n";
$caller = $n2->background($f->add_sql, app => 'zodan_scratch_084');
my $backend = '';
my $deadline = time + 60;
while (!$backend && time < $deadline) {
    $backend = $n2->sql("SELECT pid FROM pg_stat_activity WHERE application_name = 'zodan_scratch_084'");
    sleep 0.05 unless $backend;
}
my ($child, $dump);
while (!$dump && time < $deadline && $caller->running) {
    for my $stat (glob "/proc/[0-9]*/stat") {
        open my $fh, '<', $stat or next;
        my $line = <$fh> // '';
        close $fh;
        next unless $line =~ /^(\d+) \(pg_restore\) \S+ (\d+)/ && $2 == $backend;
        $child = $1;
        open my $cf, '<', "/proc/$child/cmdline" or next;
        # The dump is the one absolute path among its arguments (after its own).
        my (undef, @args) = split /\0/, do { local $/; <$cf> // '' };
        ($dump) = grep { m{^/} } @args;
    }
    sleep 0.05 unless $dump;
}
ok($dump, "pg_restore runs, waiting for the session on n2") or diag($caller->stderr);
my $data = $n2->pg->data_dir;
my $scratch = ($dump // '') =~ s{/[^/]*$}{}r;
like($scratch, qr{^\Q$data\E/base/pgsql_tmp/pgsql_tmp[^/]+$}, "the dump's scratch directory is in n2's base/pgsql_tmp, named pgsql_tmp*");
ok(-d $scratch, "and exists while it is restored");
$n2->crash;
kill 'TERM', $child if $child;
ok(-d $scratch, "n2 crashed: the directory is left behind");
$n2->start;
ok(!-e $scratch, "n2 started again: the server removed it");
$caller->finish(30);
$gate->finish(30);

($rc, $out, $err) = $f->add;
is($rc, 0, "the add, called again, completes") or diag($err);
is_deeply([ glob("$data/base/pgsql_tmp/pgsql_tmp*zodan*") ], [], "and leaves no scratch directory behind");
$c->done;
