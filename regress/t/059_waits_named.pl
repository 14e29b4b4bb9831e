# A wait says what it waits for. A transaction holding an xid on a peer
# (n2) makes the slot creation there wait: every zodan.progress_interval the
# add says which process on which node it waits for and how long that
# transaction has been open, and at zodan.sync_timeout it fails with an
# error naming it and leaves nothing for a retry to trip on; once the
# transaction has ended, the retry completes. Meanwhile pg_stat_activity
# shows the caller's statement with its passwords masked.
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
my ($n1, $n2, $n4) = map { $c->node($_) } 1, 2, 4;
$n4->sql("CREATE EXTENSION zodan");
my $f = Zodan::Faults->new($c);

my $long = $n2->background("BEGIN;\nSELECT txid_current();\nSELECT pg_sleep(600);\nCOMMIT;", app => 'zodan_long_tx');
$n2->poll("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'zodan_long_tx' AND backend_xid IS NOT NULL",
    '1', 30, "a transaction holds an xid on n2");
my $pid = $n2->sql("SELECT pid FROM pg_stat_activity WHERE application_name = 'zodan_long_tx'");

my $caller = $n4->background($f->add_sql("zodan.sync_timeout = '6s'", "zodan.progress_interval = '1s'"),
    app => 'zodan_waiting_caller');
# While it waits, another session sees the call with its passwords masked.
$n4->poll("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'zodan_waiting_caller'
           AND query LIKE '%password=********%'", '1', 30, "pg_stat_activity shows the caller's statement masked");
is($n4->sql("SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND query LIKE '%' || \$1 || '%'", $n1->password), '0',
    "and nowhere shows a password");
my ($rc, $out, $err) = $caller->finish(60);
isnt($rc, 0, "the add fails at zodan.sync_timeout");

like($err, qr/NOTICE:  waiting for the transaction of process $pid \(application zodan_long_tx, database inventory, user pgedge\) on node "n2", open for \d+ s, to end: a replication slot there cannot start before/,
    "while it waited, it said what for, naming node, process, application and age");
like($err, qr/ERROR:  timed out after 6 s waiting for the transaction of process $pid .* on node "n2", open for \d+ s, to end/,
    "the error names the blocking transaction");
is($n2->sql("SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE '%n4%'"), '0', "no half-made slot on n2");

$n2->sql("SELECT pg_terminate_backend(\$1)", $pid);
$long->finish(30);
($rc, $out, $err) = $f->add;
is($rc, 0, "once the transaction has ended, the retry completes") or diag($err);
like($err, qr/resuming the unfinished run/, "resuming the run");
ok($f->converges, "all four nodes converge");
is(scalar($f->tables_differing), 0, "and hold the same tables");
$c->done;
