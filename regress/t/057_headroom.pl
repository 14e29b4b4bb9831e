# Headroom before any change: a node short of replication slots, WAL senders
# or worker processes stops add_node in its checks with one clear error per
# node and setting, and nothing has changed anywhere; health_check('pre')
# reports the same. (wal_level and track_commit_timestamp are checked too,
# but Spock itself refuses to start without them, so only the unit tests
# show those messages.)
# matrix: full suite only
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use Zodan::Mesh;
use Test::More;

my $c = Zodan::Mesh->new(nodes => 4);
$c->inventory(3);
my ($n1, $n2, $n3, $n4) = map { $c->node($_) } 1 .. 4;
$n4->sql("CREATE EXTENSION zodan");

# Everything an add would have changed, on all four nodes.
sub state {
    return join ' ', map {
        $_->sql("SELECT (SELECT count(*) FROM pg_replication_slots) || '/' || (SELECT count(*) FROM spock.subscription)
                 || '/' || (SELECT count(*) FROM spock.node) || '/' || (SELECT count(*) FROM pg_replication_origin)")
    } $c->nodes;
}
my $before = state();

sub add { return $n4->psql("CALL spock.add_node('n1', \$1, 'n4', \$2)", $n1->dsn, $n4->dsn) }

sub expect_refused {
    my ($label, $pattern) = @_;
    my (undef, undef, $err) = add();
    like($err, $pattern, "$label: the add is refused, naming node, setting, use and need");
    is(state(), $before, "$label: nothing changed on any node");
}

# n2 serves two subscriptions: with max_replication_slots = 2 it has no slot
# left for n4's subscription.
$n2->reconfigure("max_replication_slots = 2");
$n2->wait_replicating;
expect_refused("n2 without a free slot", qr/node "n2": max_replication_slots = 2, 2 in use, the join needs 1 more/);
my (undef, $out, $err) = $n4->psql("CALL spock.health_check('n1', \$1, 'n4', \$2, 'pre')", $n1->dsn, $n4->dsn);
like("$out\n$err", qr/check FAILED: free replication slots on n2/, "health_check pre names the same shortfall");
$n2->restore_conf;

# n3 with every WAL sender busy (n1's and n2's subscriptions to it).
$n3->reconfigure("max_wal_senders = 2");
$n3->wait_replicating;
$n3->poll("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'walsender'", '2', 30,
    "n1 and n2 stream from n3 again, through its 2 WAL senders");
expect_refused("n3 without a free WAL sender", qr/node "n3": max_wal_senders = 2, 2 in use, the join needs 1 more/);
$n3->restore_conf;

# n4 needs an apply worker per existing node and a sync worker.
$n4->reconfigure("max_worker_processes = 4");
expect_refused("n4 short of worker processes", qr/node "n4": max_worker_processes = 4, .* in use, the join needs 4 more/);
$n4->restore_conf;

# PostgreSQL 18 as Debian and Spock's patches ship it gates logical
# decoding plugins (output_plugin_libraries): a node as an operator first
# configures it refuses every Spock slot. The check names node, setting and
# fix in step 1, before anything changes. (Servers without the setting,
# PostgreSQL 15 here, have nothing of it to check: no assertion is made.)
# The new node is the one a user sets up fresh: n4 here.
if ($n4->sql("SELECT count(*) FROM pg_settings WHERE name = 'output_plugin_libraries'") eq '1') {
    $n4->reconfigure("output_plugin_libraries = 'pgoutput, test_decoding'");
    my (undef, undef, $e) = add();
    like($e, qr/ERROR:  node "n4": output_plugin_libraries is 'pgoutput, test_decoding', it must list spock_output/,
        "on PostgreSQL 18, n4 without spock_output among its output plugins stops the add");
    like($e, qr/step 1\/\d+: check preconditions/, "in step 1");
    unlike($e, qr/step 2\//, "before any step that changes something");
    like($e, qr/HINT:  On "n4": ALTER SYSTEM SET output_plugin_libraries = 'pgoutput, test_decoding, spock_output'; SELECT pg_reload_conf\(\)/,
        "and the hint gives the fix");
    is(state(), $before, "nothing has changed on any node");
    $n4->restore_conf;
} else {
    note("this server has no output_plugin_libraries: nothing of it to check here");
}

$_->wait_replicating for $n1, $n2, $n3;
my $rc;
# A new node whose database stores text in another encoding than the
# source's is refused before anything changes: the copy moves the source's
# bytes, and the comparison hashes what each node stores.
$n4->pg->safe_psql('postgres',
    "CREATE DATABASE latin OWNER pgedge ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0");
$n4->sql("SET client_min_messages = warning; CREATE EXTENSION spock; CREATE EXTENSION zodan", { db => 'latin' });
(undef, undef, $err) = $n4->psql("CALL spock.add_node('n1', \$1, 'n4', \$2)", $n1->dsn, $n4->dsn(db => 'latin'),
    { db => 'latin' });
like($err, qr/ERROR:  new node "n4" stores text as LATIN1, the source "n1" as UTF8/,
    "a new node of another encoding is refused, naming both");
like($err, qr/HINT:  Create the new node's database with ENCODING 'UTF8'/, "and the hint says how to make it right");
is(state(), $before, "nothing changed on any node");
is($n4->sql("SELECT count(*) FROM spock.node", { db => 'latin' }), '0', "nor in the refused database");
$n4->pg->safe_psql('postgres', "DROP DATABASE latin");

($rc, $out, $err) = add();
is($rc, 0, "with the settings back, the add succeeds") or diag($err);
$c->done;
