# The checks a long join needs (docs/add_node.md, "Long joins"), on real
# Spock:
# - a node whose DSN role may not open replication connections stops the
#   add in step 1, naming the node, the connection and the fix, with
#   nothing changed anywhere;
# - a node writing faster than its max_slot_wal_keep_size can hold for the
#   join is refused in step 1, nothing changed;
# - a slot of the join pushed past max_slot_wal_keep_size during a paused
#   run stops the run at its next step, naming node, slot and setting,
#   while the slot is still there to save (not yet invalidated); with the
#   limit raised, calling again resumes and completes;
# - the comparison reads a large table by intervals of its key, reports its
#   progress (as the index builds do), and still names every key that
#   differs.
# matrix: full suite only
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use Zodan::Mesh;
use Zodan::Faults;
use Test::More;

my $c = Zodan::Mesh->new(nodes => 4);
$c->inventory(3);
my ($n1, $n2, $n3, $n4) = map { $c->node($_) } 1 .. 4;
$n4->sql("CREATE EXTENSION zodan");
my $f = Zodan::Faults->new($c);

# Everything an add would have changed, on all four nodes.
sub state {
    return join ' ', map {
        $_->sql("SELECT (SELECT count(*) FROM pg_replication_slots) || '/' || (SELECT count(*) FROM spock.subscription)
                 || '/' || (SELECT count(*) FROM spock.node) || '/' || (SELECT count(*) FROM pg_replication_origin)")
    } $c->nodes;
}
my $before = state();

# 1. Replication connections. The source's DSN names a role that may read
# what the checks read but not replicate (NOREPLICATION, not a superuser):
# every ordinary session works, the copy point's replication connection
# would not.
my $pw = 'joiner_' . $c->salt;
for my $n ($n1, $n4) {
    $n->sql("CREATE ROLE joiner LOGIN NOREPLICATION PASSWORD \$1", $pw);
}
$n1->sql("GRANT USAGE ON SCHEMA spock TO joiner; GRANT SELECT ON ALL TABLES IN SCHEMA spock TO joiner;
          GRANT SELECT ON pg_catalog.pg_replication_origin_status TO joiner;
          GRANT EXECUTE ON FUNCTION pg_catalog.pg_show_replication_origin_status() TO joiner;
          GRANT pg_read_all_settings, pg_read_all_stats TO joiner");
my $joiner_dsn = $n1->dsn(user => 'joiner', password => $pw);
my ($rc, $out, $err) = $n4->psql("CALL spock.add_node('n1', \$1, 'n4', \$2)", $joiner_dsn, $n4->dsn);
isnt($rc, 0, "the add with a source DSN that may not replicate fails");
like($err, qr/ERROR:  node "n1" refuses a replication connection \(replication=database\), which the copy point \(from n4\) opens: (must be superuser or replication role to start walsender|permission denied to start WAL sender)/,
    "naming the node, the connection and the server's reason") or diag($err);
like($err, qr/DETAIL:  .*\(DSN host=127\.0\.0\.1 [^\n]*user=joiner password=\*{8}/, "and the DSN, masked");
like($err, qr/HINT:  On "n1", pg_hba.conf needs a line that lets user joiner reach database inventory .*the role needs the REPLICATION attribute/,
    "the hint names the pg_hba.conf line and the role's attribute");
like($err, qr/step 1\/\d+: check preconditions/, "in step 1");
unlike($err, qr/step 2\//, "before any step that changes something");
unlike($err, qr/\Q$pw\E/, "the password is not shown");
is(state(), $before, "nothing changed on any node");
$n1->sql("ALTER ROLE joiner REPLICATION");
# The same role, now allowed to replicate, passes this check (the add is
# not run through: Spock's own functions need more than it has).
($rc, $out, $err) = $n4->psql("CALL spock.health_check('n1', \$1, 'n4', \$2, 'pre')", $joiner_dsn, $n4->dsn);
like("$out\n$err", qr/check passed: replication connection to n1/, "with REPLICATION the check passes") or diag("$out\n$err");
for my $n ($n1, $n4) { $n->sql("DROP OWNED BY joiner; DROP ROLE joiner") }

# 2. WAL retention before anything changes: n2 writes (into a table of its
# own, replicated nowhere) at several MB/s while its max_slot_wal_keep_size
# is 32MB: the join, expected to take a minute at least, would lose its
# slot there.
$n2->sql("CREATE TABLE local_scratch (id int, pad text)");
$n2->sql("ALTER SYSTEM SET max_slot_wal_keep_size = '32MB'; SELECT pg_reload_conf()");
my $writer = $n2->background(
    "DO \$\$ BEGIN FOR i IN 1..150 LOOP INSERT INTO local_scratch SELECT g, repeat('x', 200) FROM generate_series(1, 2000) g;
     COMMIT; PERFORM pg_sleep(0.05); END LOOP; END \$\$;", app => 'zodan_writer');
sleep 1;
($rc, $out, $err) = $n4->psql("CALL spock.add_node('n1', \$1, 'n4', \$2)", $n1->dsn, $n4->dsn);
$writer->finish(60);
isnt($rc, 0, "the add is refused while n2 writes faster than its limit can hold");
like($err, qr/ERROR:  node "n2" would keep about \S+ \S+ of WAL \(\S+ \S+\/s written now, for about \d+ s\) for the new node's slot, more than its max_slot_wal_keep_size = 32MB: the slot would be invalidated before the join ends/,
    "naming the node, the estimate and the limit") or diag($err);
like($err, qr/HINT:  On "n2": ALTER SYSTEM SET max_slot_wal_keep_size = '\d+MB'/, "the hint gives the fix");
like($err, qr/step 1\/\d+: check preconditions/, "in step 1");
is(state(), $before, "nothing changed on any node");

# 3. The slot watched during the run. n2 is quiet now: the estimate passes.
# The run pauses at sync_source, when n2 holds the slot of sub_n2_n4; n2
# then writes three times its limit, and the slot is 'unreserved' (a
# checkpoint would invalidate it). The run, let go, stops at once.
$f->hold_pause_lock;
my $caller = $n4->background($f->add_sql("zodan.pause_at_step = 'sync_source'"));
$f->wait_at_step('sync_source', $caller) or die "the add did not pause at sync_source\n";
my $slot = $n2->sql("SELECT slot_name FROM pg_replication_slots WHERE slot_name LIKE '%sub_n2_n4'");
isnt($slot, '', "n2 holds the join's slot $slot");
$n2->sql("INSERT INTO local_scratch SELECT g, repeat('x', 200) FROM generate_series(1, 400000) g");
is($n2->sql("SELECT wal_status FROM pg_replication_slots WHERE slot_name = '$slot'"), 'unreserved',
    "the slot is past max_slot_wal_keep_size (unreserved)");
$f->release_pause_lock;
($rc, $out, $err) = $caller->finish(60);
isnt($rc, 0, "the run stops");
like($err, qr/ERROR:  replication slot \Q$slot\E on node "n2" keeps more WAL for the new node than max_slot_wal_keep_size = 32MB allows \(wal_status unreserved\): the next checkpoint there invalidates it/,
    "naming node, slot and setting") or diag($err);
like($err, qr/HINT:  On "n2": ALTER SYSTEM SET max_slot_wal_keep_size = '64MB'.*call spock.add_node again: it resumes/s,
    "the hint gives the fix and says a call resumes");
unlike($err, qr/step 5\//, "in the step it was let go at, before the copy");
is($n2->sql("SELECT wal_status FROM pg_replication_slots WHERE slot_name = '$slot'"), 'unreserved',
    "the slot is still there to save: not invalidated");

$n2->sql("ALTER SYSTEM RESET max_slot_wal_keep_size; SELECT pg_reload_conf()");
# Before the resumed add copies: public.big (600,000 rows, a bigint key and
# a second index) on every node, the same rows everywhere (compared in 4).
for my $n ($n1, $n2, $n3) {
    $n->sql("CREATE TABLE public.big (id bigint PRIMARY KEY, v int NOT NULL, pad text NOT NULL)");
    $n->sql("SELECT spock.repset_add_table('default', 'public.big')");
}
$n1->sql("INSERT INTO public.big SELECT g, g % 1000, repeat(md5(g::text), 2) FROM generate_series(1, 600000) g");
$n1->sql("CREATE INDEX big_v ON public.big (v, pad)");
$n2->sql("CREATE INDEX big_v ON public.big (v, pad)");
$n3->sql("CREATE INDEX big_v ON public.big (v, pad)");
$f->converges(1 .. 3);
$n2->poll("SELECT wal_status IN ('reserved', 'extended') FROM pg_replication_slots WHERE slot_name = '$slot'", 't', 10,
    "with the limit lifted the slot is kept again");
($rc, $out, $err) = $f->add("zodan.progress_interval = '100ms'");
is($rc, 0, "calling again resumes and completes") or diag($err);
like($err, qr/resuming the unfinished run/, "it resumed");
SKIP: {
    # Where Spock crashed meanwhile, the harness called again, and this
    # output is the last call's: the copy was an earlier call's.
    skip "the copy ran in an earlier call (Spock crashed and the harness called again)", 2
      if $err =~ /step 5\/\d+: [^\n]*\(done before\)/;
    like($err, qr/NOTICE:  building indexes on n4: \d+ of about \d+ made(, now on public\.big \([^)]*\))*; \d+ s in/,
        "the index builds report their progress") or diag($err);
    like($err, qr/NOTICE:  comparing n4 with n1: \d+\/\d+ tables, \d+ of about \d+ rows/, "so does the comparison");
}
is($n4->sql("SELECT (output -> 'progress' ->> 'rows_done')::bigint >= 600000 FROM spock.zodan_add_node_status
             WHERE step_name = 'verify_data'"), 't', "the comparison's progress is in the journal");
$f->converges(1 .. 4);
ok($f->all_replicating(1 .. 4), "all subscriptions replicating");
is_deeply([ $f->tables_differing(1 .. 4) ], [], "all four nodes hold identical tables");


# 4. The comparison by intervals of the key: n4 copied public.big (600,000
# rows, bigint key) in the add above; health_check('post') runs the add's
# comparison. n1 logs every statement meanwhile: none reads public.big whole,
# two read an interval of it (500,000 rows a statement).
is($n4->sql("SELECT count(*) FROM public.big"), '600000', "n4 holds the 600000 rows of public.big");
$n1->sql("ALTER SYSTEM SET log_statement = 'all'; SELECT pg_reload_conf()");
my $mark = $n1->log_mark;
($rc, $out, $err) = $n4->psql("SET zodan.progress_interval = '1ms';\nCALL spock.health_check('n1', \$1, 'n4', \$2, 'post')",
    $n1->dsn, $n4->dsn);
my $log = $n1->log_since($mark);
$n1->sql("ALTER SYSTEM RESET log_statement; SELECT pg_reload_conf()");
like("$out\n$err", qr/check passed: tables match the source/, "the tables match");
my @whole = $log =~ /FROM public\.big AS zodan_row/g;
my @narrow = $log =~ /FROM \(SELECT \* FROM public\.big WHERE \(\$2::text IS NULL OR id > \$2::text::bigint\) AND \(\$3::text IS NULL OR id <= \$3::text::bigint\)\) AS zodan_row/g;
is(scalar @whole, 0, "no statement on n1 reads public.big whole");
is(scalar @narrow, 2, "two statements on n1 read it, an interval of its key each");

# A row changed on n4 alone (repair mode: not replicated) in the second
# interval, one gone at the first interval's upper bound, one beyond the
# source's last key: all three named.
$n4->sql("BEGIN; SELECT spock.repair_mode(true); UPDATE public.big SET v = -1 WHERE id = 550000;
          DELETE FROM public.big WHERE id = 500000; INSERT INTO public.big VALUES (700000, 7, 'x');
          SELECT spock.repair_mode(false); COMMIT");
($rc, $out, $err) = $n4->psql("SET zodan.sync_timeout = '5s';\nCALL spock.health_check('n1', \$1, 'n4', \$2, 'post')",
    $n1->dsn, $n4->dsn);
like("$out\n$err", qr/check FAILED: tables match the source: .*public\.big: 3 row\(s\) differ \(key 500000 missing on n4; key 550000 differs; key 700000 only on n4\)/,
    "health_check post names the three keys") or diag("$out\n$err");

done_testing();
