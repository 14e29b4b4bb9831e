# The physical add's refusals, its edge cases, and the fence's negative
# control (docs/physical.md).
#
# Refused before anything changes, each with its own error and hint:
# S's synchronous_standby_names naming the standby; a row filter and a
# column list in S's sets; a Spock node in another database of S's
# instance (the copy would start its workers); the standby's replay paused
# and more than 1 GB behind; its replay delayed (recovery_min_apply_delay).
# A cascaded standby (streaming from a standby of S) is told apart and
# allowed: it reaches the fence.
#
# Then the add of the direct standby n4 with a transaction on n1 begun
# before the call (the add waits for it) and a large one begun inside the
# fence and committed after the add, and with n2's last transactions
# applied on n1 empty (a sync event, a logical message, a change of an
# unreplicated table): nothing lost or doubled.
#
# Last, the negative control: a fresh standby n6 of n1 promoted with the
# fence skipped (a test hook) and the run dead before the strip. Spock on
# n6 starts n1's apply workers; once n1 is down they take n1's slots, and n1
# loses the rows n6 confirmed in its place. This is what 085's fence checks
# would see if the fence broke.
# matrix: every combination
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use Zodan::Mesh;
use Zodan::Standby;
use Test::More;
use Time::HiRes qw(time sleep);

my $c = Zodan::Mesh->new(nodes => 3);
$c->inventory(3);
my ($n1, $n2, $n3) = map { $c->node($_) } 1 .. 3;
$n1->sql("CREATE EXTENSION zodan");
# n4 streams through a slot on n1 (which keeps the WAL n4 has not received
# while its replay is paused below; the add drops it).
my $n4 = Zodan::Standby->make($c, 1, 4, slot => 1);

# The slots of the mesh's database and the physical ones (other databases
# of n1's instance get theirs below).
my $slots_sql = "SELECT count(*) FROM pg_replication_slots WHERE coalesce(database, current_database()) = current_database()";
my %slots_before = map { $_ => $c->node($_)->sql($slots_sql) } 1 .. 3;
my $add = "CALL spock.add_node('n1', \$1, 'n4', \$2)";

sub nothing_changed {
    my ($what) = @_;
    is($n4->sql("SELECT pg_is_in_recovery()"), 't', "$what: n4 is still a standby");
    is_deeply({ map { $_ => $c->node($_)->sql($slots_sql) } 1 .. 3 }, \%slots_before, "$what: no slot made on n1..n3");
    is($n1->sql("SELECT count(*) FROM spock.zodan_runs WHERE operation LIKE 'physical%'"), '0',
        "$what: no fence or probe left on n1");
    is($n1->sql("SELECT count(*) FROM spock.subscription WHERE NOT sub_enabled"), '0',
        "$what: n1's subscriptions enabled");
}

# The call on n4, refused with each of @expected (the first failed check's
# hint, the others' errors) in its output. Were a refusal missing, the call
# would stop at its fence (lifted: nothing changed) or time out.
sub refused {
    my ($what, $sql, @expected) = @_;
    my ($rc, $out, $err) = $n4->psql("SET zodan.fail_at_step = 'copy_source:fence'; SET zodan.sync_timeout = '20s'; $sql",
        $n1->dsn, $n4->dsn);
    isnt($rc, 0, "$what: refused");
    like($err, $_, "$what: $_") or diag($err) for @expected;
    unlike($err, qr/cascaded standby/, "$what: n4 is not taken for a cascaded standby");
    nothing_changed($what);
}

# --- synchronous_standby_names on n1 naming n4
$n1->sql("ALTER SYSTEM SET synchronous_standby_names = 'n4'; SELECT pg_reload_conf()");
$n1->poll("SELECT count(*) FROM pg_stat_replication WHERE application_name = 'n4' AND sync_state = 'sync'", '1', 30,
    "n1 waits for n4 at commit");
refused("a synchronous standby", $add, qr/"n1" waits for this standby at commit \(application_name "n4", sync\)/,
    qr/HINT:  Remove it from synchronous_standby_names on "n1"/);
$n1->sql("ALTER SYSTEM RESET synchronous_standby_names; SELECT pg_reload_conf()");
$n1->poll("SELECT count(*) FROM pg_stat_replication WHERE sync_state <> 'async'", '0', 30, "n1 waits for no standby");

# --- a row filter and a column list in n1's sets
$n1->sql(<<'SQL');
SELECT spock.repset_remove_table('inventory_set', 'public.orders');
SELECT spock.repset_add_table('inventory_set', 'public.orders', false, NULL, 'id > 0');
SELECT spock.repset_remove_table('default_insert_only', 'public.audit_log');
SELECT spock.repset_add_table('default_insert_only', 'public.audit_log', false, '{id}');
SQL
refused("filtered sets", $add, qr/the replication sets of "n1" filter rows or columns: /,
    qr/orders in inventory_set \(row filter\)/, qr/audit_log in default_insert_only \(column list\)/,
    qr/HINT:  A physical copy holds every row and column of the source/);
$n1->sql(<<'SQL');
SELECT spock.repset_remove_table('inventory_set', 'public.orders');
SELECT spock.repset_add_table('inventory_set', 'public.orders');
SELECT spock.repset_remove_table('default_insert_only', 'public.audit_log');
SELECT spock.repset_add_table('default_insert_only', 'public.audit_log');
SQL

# --- Spock nodes in other databases of n1's instance: o1 in "other"
# subscribes to o2 in "other2" (its manager and apply worker run on n1).
$n1->sql("CREATE DATABASE other", { db => 'postgres' });
$n1->sql("CREATE DATABASE other2", { db => 'postgres' });
$n1->sql("SET client_min_messages = warning; CREATE EXTENSION spock; SELECT spock.node_create('o2', \$1)",
    $n1->dsn(db => 'other2'), { db => 'other2' });
$n1->sql("SET client_min_messages = warning; CREATE EXTENSION spock; SELECT spock.node_create('o1', \$1);
          SELECT spock.sub_create('sub_o2_o1', \$2, '{default}', false, false)",
    $n1->dsn(db => 'other'), $n1->dsn(db => 'other2'), { db => 'other' });
$n1->poll("SELECT count(*) FROM pg_stat_activity a JOIN pg_database d ON d.oid = a.datid
           WHERE d.datname = 'other' AND a.application_name LIKE 'spock apply %'", '1', 60,
    "Spock applies sub_o2_o1 in n1's database other");
refused("a Spock node in another database", $add,
    qr/another database of the instance of "n1" has a Spock node: (.*, )?"other" \(spock apply \d+:\d+, spock manager \d+\)/,
    qr/HINT:  A physical copy holds every database of the instance/);
$n1->sql("SELECT spock.sub_drop('sub_o2_o1'); SELECT spock.node_drop('o1')", { db => 'other' });
$n1->sql("SELECT spock.node_drop('o2')", { db => 'other2' });
$n1->sql("DROP DATABASE other WITH (FORCE)", { db => 'postgres' });
$n1->sql("DROP DATABASE other2 WITH (FORCE)", { db => 'postgres' });

# --- n4's replay paused, and far behind: 1.1 GB of WAL positions (segment
# switches) that n4 does not replay meanwhile.
$n4->sql("SELECT pg_wal_replay_pause()");
$n4->poll("SELECT pg_get_wal_replay_pause_state() <> 'not paused'", 't', 30, "n4's replay is paused");
$n1->sql("DO \$\$ BEGIN FOR i IN 1 .. 70 LOOP PERFORM pg_logical_emit_message(false, 'zodan-test', 'wal');
          PERFORM pg_switch_wal(); END LOOP; END \$\$");
refused("a paused standby far behind", $add, qr/this standby's replay is paused/,
    qr/HINT:  Run SELECT pg_wal_replay_resume\(\) on it/,
    qr/this standby's replay is \d+ MB behind the WAL of "n1" \(more than 1024 MB\)/);
$n4->sql("SELECT pg_wal_replay_resume()");
my $lsn = $n1->sql("SELECT pg_current_wal_lsn()");
$n4->poll("SELECT pg_last_wal_replay_lsn() >= '$lsn'", 't', 120, "n4 caught up again");
$n1->sql("CHECKPOINT");

# --- n4 applies n1's commits an hour late
$n4->sql("ALTER SYSTEM SET recovery_min_apply_delay = '1h'; SELECT pg_reload_conf()");
$n4->poll("SHOW recovery_min_apply_delay", '1h', 30, "n4's replay is delayed");
refused("a delayed standby", $add, qr/this standby applies the source's commits 3600000 ms late \(recovery_min_apply_delay\)/,
    qr/HINT:  The fence on "n1" would hold at least that long/);
$n4->sql("ALTER SYSTEM RESET recovery_min_apply_delay; SELECT pg_reload_conf()");
$n4->poll("SHOW recovery_min_apply_delay", '0', 30, "n4's replay is not delayed");

# --- the cascaded standby n5 (n1 -> n4 -> n5, through a slot on n4) passes
# the checks and reaches the fence (made to fail there: lifted, and n5 left
# a standby); the add leaves its slot on n4 alone, and says so.
my $n5 = Zodan::Standby->make($c, 4, 5, slot => 1);
my ($rc, $out, $err) = $n5->psql("SET zodan.fail_at_step = 'copy_source:fence'; CALL spock.add_node('n1', \$1, 'n5', \$2)",
    $n1->dsn, $n5->dsn);
like($err, qr/NOTICE:  add_node: this standby streams from \S+, not from n1 itself \(a cascaded standby\)\nDETAIL:  Its slot "n5_standby" on that server is not the add's to drop/,
    "a cascaded standby is told apart, its slot on n4 named") or diag($err);
like($err, qr/injected failure at "copy_source:fence"/, "and allowed: it reaches the fence") or diag($err);
is($n5->sql("SELECT pg_is_in_recovery()"), 't', "n5 is still a standby");
nothing_changed("the cascaded standby stopped at its fence");
$n5->pg->stop('fast');
$n4->sql("SELECT pg_drop_replication_slot('n5_standby')");

# --- the add of n4 with long transactions on n1 and n2 quiet.
# n2's last transactions applied on n1 are empty: a change of a table in no
# set, a transactional logical message, and a sync event (Spock advances
# n1's origin of n2 for them in memory only).
$n2->sql("SET spock.enable_ddl_replication = off; CREATE TABLE public.n2_only (id int PRIMARY KEY)");
$n2->sql("INSERT INTO public.n2_only VALUES (1)");
$n2->sql("SELECT pg_logical_emit_message(true, 'zodan-test', 'empty')");
ok($c->sync_reaches(2, 1, 60), "n1 applied n2's empty transactions");

# T1, begun on n1 before the call: the slot's consistent point waits for it.
my $t1 = $n1->background("BEGIN; INSERT INTO items SELECT g, 'before ' || g, 1 FROM generate_series(100001, 120000) g;
                          SELECT pg_sleep(3); COMMIT;", app => 'zodan_t1');
$n1->poll("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'zodan_t1' AND state = 'active'
           AND backend_xid IS NOT NULL", '1', 30, "T1 is open on n1");
# T2, begun inside the fence, committed after the add ends.
my $t2_lock = $n1->background("SELECT pg_advisory_lock(hashtext('zodan.t2'));\nSELECT pg_sleep(600);", app => 'zodan_t2_holder');
$n1->poll("SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE l.locktype = 'advisory'
           AND l.granted AND a.application_name = 'zodan_t2_holder'", '1', 30, "T2's lock is held on n1");
my $pause = $n4->background("SELECT pg_advisory_lock(hashtext('zodan.pause'));\nSELECT pg_sleep(600);",
    app => 'zodan_pause_holder');
$n4->poll("SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
           WHERE l.locktype = 'advisory' AND l.granted AND a.application_name = 'zodan_pause_holder'", '1', 30,
    "the pause lock is held on n4");
my $bg = $n4->background(Zodan::Node::bind_params("SET zodan.pause_at_step = 'copy_source:fence'; $add",
    $n1->dsn, $n4->dsn));
$n4->poll("SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
           WHERE l.locktype = 'advisory' AND NOT l.granted AND a.application_name LIKE 'zodan:%'", '1', 90,
    "the add waits inside its fence");
($rc) = $t1->finish(30);
is($rc, 0, "T1 committed while the add waited for it");
my $t2 = $n1->background("BEGIN; INSERT INTO audit_log SELECT g, 'inside ' || g FROM generate_series(100001, 150000) g;
                          SELECT pg_advisory_lock(hashtext('zodan.t2')); COMMIT;", app => 'zodan_t2');
$n1->poll("SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE l.locktype = 'advisory'
           AND NOT l.granted AND a.application_name = 'zodan_t2'", '1', 60, "T2 wrote inside the fence and is open");
$n4->sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'zodan_pause_holder'");
$pause->finish(30);
($rc, $out, $err) = $bg->finish(300);
is($rc, 0, "the add of n4 succeeds with T2 open across its cut") or diag($err);
my ($fence) = $err =~ /the fence held (\d+) ms/;
note("the fence held " . ($fence // '?') . " ms (with a pause inside it)");
$n1->sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'zodan_t2_holder'");
$t2_lock->finish(30);
($rc) = $t2->finish(60);
is($rc, 0, "T2 committed after the add");
$n2->sql("INSERT INTO items SELECT g, 'n2 after', 2 FROM generate_series(200001, 200100) g");
$c->converge(1 .. 4);
is($n1->sql("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'n4_standby'"), '0',
    "n4's physical slot on n1 is dropped");
is($n4->sql("SELECT count(*) FROM items WHERE id BETWEEN 100001 AND 120000"), '20000', "n4 holds T1 once");
is($n4->sql("SELECT count(*) FROM audit_log WHERE id BETWEEN 100001 AND 150000"), '50000', "n4 holds T2 once");
is($n4->sql("SELECT count(*) FROM items WHERE id BETWEEN 200001 AND 200100"), '100', "n4 holds n2's rows after the add");
$c->same_tables([ 1 .. 4 ], qw(items orders audit_log counters));
is($c->node($_)->sql("SELECT count(*) FROM spock.exception_log"), '0', "no exception on n$_") for 1 .. 4;
is($c->node($_)->sql("SELECT count(*) FROM spock.sub_show_status() WHERE status <> 'replicating'"),
    '0', "every subscription on n$_ replicating") for 1 .. 4;

# --- the negative control: n6, a standby of n1 (now in a mesh of four),
# promoted by an add with the fence skipped that dies before the strip.
my $n6 = Zodan::Standby->make($c, 1, 6);
my $dboid = $n1->sql("SELECT oid FROM pg_database WHERE datname = current_database()");
my @n1_workers = map { "spock apply $dboid:$_" }
  split /\n/, $n1->sql("SELECT sub_id FROM spock.subscription WHERE sub_target = (SELECT node_id FROM spock.local_node)");
my $n1_slot_on_n2 = $n1->sql("SELECT s.sub_slot_name FROM spock.subscription s JOIN spock.node n ON n.node_id = s.sub_origin
                              WHERE n.node_name = 'n2' AND s.sub_target = (SELECT node_id FROM spock.local_node)");
($rc, $out, $err) = $n6->psql("SET zodan.skip_fence = on; SET zodan.fail_at_step = 'copy_source:promoted';
                               CALL spock.add_node('n1', \$1, 'n6', \$2)", $n1->dsn, $n6->dsn);
like($err, qr/WARNING:  add_node: the fence is skipped/, "negative control: the fence is skipped") or diag($err);
like($err, qr/injected failure at "copy_source:promoted"/, "and the run dies after the promotion") or diag($err);
is($n6->sql("SELECT pg_is_in_recovery()"), 'f', "n6 is promoted, still holding n1's node");
my $list = '{' . join(',', map { "\"$_\"" } @n1_workers) . '}';
$n6->poll("SELECT count(*) > 0 FROM pg_stat_activity WHERE application_name = ANY('$list'::text[])", 't', 60,
    "negative control: n6 runs n1's apply workers (085's \"never ran an apply worker\" would fail)");
# n1 gone: its walsenders on n2 end, and n6's worker takes its slot there.
$n1->pg->stop('fast');
my $theft;
my $deadline = time + 90;
while (!$theft && time < $deadline) {
    my %n6_workers = map { $_ => 1 } split /,/,
      $n6->sql("SELECT string_agg(pid::text, ',') FROM pg_stat_activity WHERE application_name = ANY('$list'::text[])");
    my $client = $n2->sql("SELECT r.client_port FROM pg_replication_slots s JOIN pg_stat_replication r ON r.pid = s.active_pid
                           WHERE s.slot_name = '$n1_slot_on_n2'");
    if (length $client) {
        for my $line (split /\n/, `ss -tnpH 2>/dev/null`) {
            my @f = split /\s+/, $line;
            next unless @f >= 6 && $f[3] =~ /:(\d+)$/ && $1 eq $client;
            $theft = "n6's process $_ streams from n2 over n1's slot $n1_slot_on_n2"
              for grep { $n6_workers{$_} } $line =~ /pid=(\d+)/g;
        }
    }
    sleep 0.2 unless $theft;
}
ok($theft, "negative control: a process of n6 streams from n2 over n1's slot (085's theft check would fail)");
note($theft) if $theft;
# n2 writes; n6 applies and confirms it on n1's slot.
$n2->sql("INSERT INTO items SELECT g, 'stolen', 2 FROM generate_series(300001, 300050) g");
my $n2_lsn = $n2->sql("SELECT pg_current_wal_lsn()");
$n2->poll("SELECT confirmed_flush_lsn >= '$n2_lsn' FROM pg_replication_slots WHERE slot_name = '$n1_slot_on_n2'", 't', 60,
    "n6 confirmed n2's rows on n1's slot");
$n6->pg->stop('fast');
$n1->pg->start;
$n2->sql("INSERT INTO items VALUES (300100, 'after', 2)");
$n1->poll("SELECT count(*) FROM items WHERE id = 300100", '1', 120, "n1 applies n2's changes again");
is($n2->sql("SELECT count(*) FROM items WHERE id BETWEEN 300001 AND 300050"), '50', "n2 holds its 50 rows");
is($n1->sql("SELECT count(*) FROM items WHERE id BETWEEN 300001 AND 300050"), '0',
    "negative control: n1 lost the 50 rows n6 confirmed in its place, without the fence");
$c->done;
