# remove_node never touches a node of another cluster. Cluster A is n1, n2;
# cluster B, separate, is n4, n5 (database inventory of the third and fourth
# servers); cluster C, a staging copy of A, names its nodes n1, n2 too
# (database staging of the same two servers). A call on A naming B's or
# C's node, by a DSN that reaches it, is refused with an error that says
# so, and nothing changes on any node of any cluster; the same call with
# A's own DSN removes A's n2, and B and C are untouched.
# matrix: full suite only
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use Zodan::Mesh;
use Test::More;
use Time::HiRes qw(time sleep);

my $c = Zodan::Mesh->new(nodes => 4);
my ($s1, $s2, $s3, $s4) = map { $c->node($_) } 1 .. 4;
my $sets = '{default,default_insert_only,ddl_sql}';

# Spock node NAME in database DB of server S, subscribed to the other nodes given.
sub make_node {
    my ($s, $db, $name) = @_;
    $s->sql("SELECT spock.node_create(\$1, \$2)", $name, $s->dsn(db => $db), { db => $db });
}
sub subscribe {
    my ($s, $db, $sub, $provider_dsn) = @_;
    $s->sql("SELECT spock.sub_create(\$1, \$2, \$3::text[], false, false, '{}')", $sub, $provider_dsn, $sets, { db => $db });
}
sub wait_replicating_in {
    my ($s, $db) = @_;
    my $deadline = time + 60;
    while (time < $deadline) {
        return 1 if $s->sql("SELECT count(*) FROM spock.sub_show_status() WHERE status <> 'replicating'", { db => $db }) eq '0';
        sleep 0.1;
    }
    die $s->name . "/$db: subscriptions did not reach replicating\n";
}

# A: n1, n2.
$c->mesh(2);
# B: n4 on the third server, n5 on the fourth.
make_node($s3, 'inventory', 'n4');
make_node($s4, 'inventory', 'n5');
subscribe($s3, 'inventory', 'sub_n5_n4', $s4->dsn);
subscribe($s4, 'inventory', 'sub_n4_n5', $s3->dsn);
# C: n1, n2 again, in database staging of the same two servers.
for my $s ($s3, $s4) {
    $s->sql("CREATE DATABASE staging OWNER pgedge");
    $s->sql("SET client_min_messages = warning; CREATE EXTENSION spock", { db => 'staging' });
}
make_node($s3, 'staging', 'n1');
make_node($s4, 'staging', 'n2');
subscribe($s3, 'staging', 'sub_n2_n1', $s4->dsn(db => 'staging'));
subscribe($s4, 'staging', 'sub_n1_n2', $s3->dsn(db => 'staging'));
wait_replicating_in($_->[0], $_->[1]) for [ $s1, 'inventory' ], [ $s2, 'inventory' ], [ $s3, 'inventory' ],
  [ $s4, 'inventory' ], [ $s3, 'staging' ], [ $s4, 'staging' ];
$_->sql("CREATE EXTENSION zodan") for $s1, $s2;

# Everything remove_node could change, on every server and database.
sub state_of {
    my ($s, $db) = @_;
    return join ' | ', $s->name . "/$db",
      map { $s->sql($_, { db => $db }) }
      "SELECT string_agg(slot_name, ',' ORDER BY slot_name) FROM pg_replication_slots",
      "SELECT string_agg(roname, ',' ORDER BY roname) FROM pg_replication_origin",
      "SELECT string_agg(sub_name || ':' || sub_enabled, ',' ORDER BY sub_name) FROM spock.subscription",
      "SELECT string_agg(node_name, ',' ORDER BY node_name) FROM spock.node",
      "SELECT string_agg(if_dsn, ',' ORDER BY if_dsn) FROM spock.node_interface",
      "SELECT string_agg(set_name, ',' ORDER BY set_name) FROM spock.replication_set",
      "SELECT count(*) FROM spock.local_node";
}
sub all_states {
    return join "\n", state_of($s1, 'inventory'), state_of($s2, 'inventory'), other_clusters();
}
sub other_clusters {
    return join "\n", map { state_of(@$_) } [ $s3, 'inventory' ], [ $s4, 'inventory' ], [ $s3, 'staging' ],
      [ $s4, 'staging' ];
}
my $before = all_states();

my ($rc, $out, $err) = $s1->psql("CALL spock.remove_node('n4', \$1)", $s3->dsn);
isnt($rc, 0, "on A's n1, remove_node of n4 by the DSN of cluster B's n4 is refused");
like($err, qr/ERROR:  could not show that target_node_dsn reaches node "n4" of this cluster/,
    "saying the DSN reaches no node n4 of this cluster") or diag($err);
is(all_states(), $before, "and nothing changed on any node of A or B (or C)");

($rc, $out, $err) = $s1->psql("CALL spock.remove_node('n2', \$1)", $s4->dsn(db => 'staging'));
isnt($rc, 0, "on A's n1, remove_node of n2 by the DSN of C's n2, its namesake, is refused");
like($err, qr/ERROR:  target_node_dsn reaches a node "n2" that is not this cluster's/, "saying so") or diag($err);
like($err, qr/DETAIL:  The DSN this cluster lists for node "n2" \(spock.node_interface\) reaches another database/,
    "and why") or diag($err);
is(all_states(), $before, "nothing changed anywhere");

($rc, $out, $err) = $s2->psql("CALL spock.remove_node('n2', \$1)", $s4->dsn(db => 'staging'));
isnt($rc, 0, "on A's n2, remove_node of n2 by the DSN of C's n2 is refused too");
like($err, qr/ERROR:  target_node_dsn reaches another database than this one, node "n2"/, "saying so") or diag($err);
is(all_states(), $before, "nothing changed anywhere");

my $others = other_clusters();
($rc, $out, $err) = $s1->psql("CALL spock.remove_node('n2', \$1)", $s2->dsn);
is($rc, 0, "with A's own DSN of n2, n1 removes it") or diag($err);
is($s2->sql("SELECT count(*) FROM spock.local_node"), '0', "A's n2 is no Spock node any more");
is($s1->sql("SELECT count(*) FROM spock.subscription"), '0', "n1 has no subscription from it");
is(other_clusters(), $others, "B and C are untouched");
$c->done;
