# Safe by default: who may call the procedures, which connections a
# non-superuser may use, that remove_node changes nothing when its DSN
# reaches another node than the one named, and that a node without the
# zodan extension can still be removed.
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
$_->sql("CREATE EXTENSION zodan") for $n4, $n1;
my $operator_pw = "Zodan-pw-operator-" . $c->salt;
$n4->sql("CREATE ROLE operator LOGIN PASSWORD \$1; GRANT USAGE ON SCHEMA spock TO operator", $operator_pw);

# SQL on n4 as the unprivileged role: its messages.
sub as_operator {
    my ($sql, @params) = @_;
    my (undef, $out, $err) = $n4->psql($sql, @params, { user => 'operator', password => $operator_pw });
    return "$out\n$err";
}

like(as_operator("CALL spock.health_check('n1', \$1)", $n1->dsn),
    qr/permission denied for procedure health_check/, "a role without EXECUTE cannot call health_check");
like(as_operator("CALL spock.add_node('n1', \$1, 'n4', \$2)", $n1->dsn, $n4->dsn),
    qr/permission denied for procedure add_node/, "nor add_node");
like(as_operator("CALL spock.remove_node('n4', \$1)", $n4->dsn),
    qr/permission denied for procedure remove_node/, "nor remove_node");

# Granted EXECUTE, it still may not reach a node as the server's own
# identity: n1's socket trusts local connections, so no password is asked.
$n4->sql("GRANT EXECUTE ON PROCEDURE spock.health_check(text, text, text, text, text, boolean) TO operator");
my $trust_dsn = "host=" . $n1->pg->host . " port=" . $n1->port . " dbname=" . $n1->db . " user=" . getpwuid($<);
like(as_operator("CALL spock.health_check('n1', \$1)", $trust_dsn),
    qr/without credentials, which only a superuser may rely on/, "a granted role may not connect without a password");
my ($rc, $out, $err) = $n4->psql("CALL spock.health_check('n1', \$1)", $trust_dsn);
is($rc, 0, "a superuser may (the same call succeeds)") or diag($err);

# What remove_node would touch on n1..n3.
sub snapshot {
    return join "\n", map {
        my $n = $c->node($_);
        $n->sql("SELECT string_agg(slot_name, ',' ORDER BY slot_name) FROM pg_replication_slots"),
        $n->sql("SELECT string_agg(sub_name || ':' || sub_enabled, ',' ORDER BY sub_name) FROM spock.subscription"),
        $n->sql("SELECT string_agg(set_name, ',' ORDER BY set_name) FROM spock.replication_set"),
        $n->sql("SELECT string_agg(node_name, ',' ORDER BY node_name) FROM spock.node")
    } 1 .. 3;
}
my $before = snapshot();
($rc, $out, $err) = $n1->psql("CALL spock.remove_node('n4', \$1)", $n2->dsn);
like($err, qr/target_node_dsn reaches node "n2", not "n4"/, "remove_node refuses a DSN that reaches another node");
is(snapshot(), $before, "and nothing changed on n1..n3");
($rc, $out, $err) = $n1->psql("CALL spock.remove_node('n2', \$1)", $n1->dsn);
like($err, qr/target_node_dsn reaches node "n1", not "n2"/,
    "nor may the DSN name the node the call runs on, under another name");
is(snapshot(), $before, "still nothing changed");

# n3 joined by hand and has no zodan extension: still removable from n1.
($rc, $out, $err) = $n1->psql("CALL spock.remove_node('n3', \$1)", $n3->dsn);
is($rc, 0, "remove_node of a node without the zodan extension succeeds") or diag($err);
is($n3->sql("SELECT count(*) FROM spock.local_node"), '0', "n3 is no Spock node any more");
is(join(' ', map { $_->sql("SELECT count(*) FROM spock.node WHERE node_name = 'n3'") } $n1, $n2), '0 0',
    "n1 and n2 no longer know n3");
$n1->sql("INSERT INTO items VALUES (777001, 'after removing n3', 1)");
ok($c->sync_reaches(1, 2, 30), "n1 and n2 still replicate (n2 applies n1's changes within 30 s)");
is($n2->sql("SELECT count(*) FROM items WHERE id = 777001"), '1', "the row written on n1 after the removal is on n2");
$c->done;
