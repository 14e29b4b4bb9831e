# Safe by default: who may call the procedures, which connections a
# non-superuser may use (none stored in Spock's catalog), that remove_node
# changes nothing when its DSN reaches another node than the one named, and
# that a node without the zodan extension can still be removed.
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
    qr/the DSN of node "n1" has no password, which only a superuser may leave out/,
    "a granted role may not connect without a password");
my ($rc, $out, $err) = $n4->psql("CALL spock.health_check('n1', \$1)", $trust_dsn);
is($rc, 0, "a superuser may (the same call succeeds)") or diag($err);

# Nor may it borrow a password the server holds: a password file readable by
# the server's OS user, named in the DSN, with the DSN itself giving none.
my $passfile = $n4->pg->basedir . "/borrowed.pgpass";
open my $pf, '>', $passfile or die $!;
print $pf "127.0.0.1:" . $n1->port . ":*:pgedge:" . $n1->password . "\n";
close $pf;
chmod 0600, $passfile;
my $borrowing = $n1->dsn(no_password => 1) . " passfile=$passfile";
like(as_operator("CALL spock.health_check('n1', \$1)", $borrowing),
    qr/the DSN of node "n1" uses passfile, which only a superuser may use here/,
    "a granted role may not name a password file of the server's");
like(as_operator("CALL spock.health_check('n1', \$1)", $n1->dsn(no_password => 1)),
    qr/the DSN of node "n1" has no password, which only a superuser may leave out/,
    "nor leave the password out (the server's environment or ~/.pgpass would supply one)");
like(as_operator("CALL spock.health_check('n1', \$1)", $n1->dsn . " sslkey=/etc/ssl/private/server.key"),
    qr/uses sslkey, which only a superuser may use here/, "nor use a key file of the server's");
# With its own password it reaches n1; but n1's peers only through the DSNs
# n1 stores, the cluster's credentials: refused (42501), nothing reached.
($rc, $out, $err) = $n4->psql("\\set VERBOSITY verbose\nCALL spock.health_check('n1', \$1)", $n1->dsn,
    { user => 'operator', password => $operator_pw });
like($err, qr/ERROR:  42501: this call would reach node\(s\) n2, n3 with the DSNs stored in spock.node_interface, which only a superuser may have the server use/,
    "the granted role's call may not reach the peers with the DSNs n1 stores") or diag($err);
# A superuser may keep the password out of the call altogether: the server's
# password file answers for it (docs/security.md).
($rc, $out, $err) = $n4->psql("CALL spock.health_check('n1', \$1)", $borrowing);
is($rc, 0, "a superuser's DSN may name a password file instead of a password") or diag($err);
unlike("$out$err", qr/Zodan-pw-/, "and nothing the call printed shows the password");

# Bad arguments are the caller's (22023); NULLs stay NULL.
($rc, $out, $err) = $n4->psql("\\set VERBOSITY verbose\nCALL spock.health_check('n1', \$1, NULL, NULL, 'sideways')", $n1->dsn);
like($err, qr/ERROR:  22023: check_type must be 'pre' or 'post', not 'sideways'/,
    "a bad check_type is an invalid parameter value (22023)");

# The remote sessions resolve names in pg_catalog only: a schema named like
# the DSN role (found first through "$user") with a better-matching
# quote_ident and format on the source changes nothing and runs never.
$n1->sql(<<'SQL');
CREATE TABLE public.shadow_calls (fn text);
CREATE SCHEMA pgedge;
CREATE FUNCTION pgedge.quote_ident(name) RETURNS text LANGUAGE sql
  AS $$ INSERT INTO public.shadow_calls VALUES ('quote_ident') RETURNING '1' || $1::text $$;
CREATE FUNCTION pgedge.format(text, name) RETURNS text LANGUAGE sql
  AS $$ INSERT INTO public.shadow_calls VALUES ('format') RETURNING 'x' $$;
SQL
($rc, $out, $err) = $n4->psql("CALL spock.health_check('n1', \$1, 'n4', \$2, 'pre')", $n1->dsn, $n4->dsn);
is($rc, 0, "health_check 'pre' passes with shadowing functions on the source") or diag($err);
is($n1->sql("SELECT count(*) FROM public.shadow_calls"), '0', "and none of them ever ran there");
$n1->sql("DROP SCHEMA pgedge CASCADE; DROP TABLE public.shadow_calls");

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

# A role granted remove_node on a member may not have the server reach the
# other members with the DSNs stored in spock.node_interface (the
# credentials the cluster was set up with), though its own DSN of the node
# it removes carries a password: refused before anything changes. (It may
# read Spock's catalog here, so only that rule stands in its way.)
$n1->sql("CREATE ROLE operator LOGIN PASSWORD \$1; GRANT USAGE ON SCHEMA spock TO operator;
          GRANT SELECT ON ALL TABLES IN SCHEMA spock TO operator;
          GRANT EXECUTE ON PROCEDURE spock.remove_node(text, text, boolean, boolean) TO operator", $operator_pw);
($rc, $out, $err) = $n1->psql("\\set VERBOSITY verbose\nCALL spock.remove_node('n3', \$1)", $n3->dsn,
    { user => 'operator', password => $operator_pw });
isnt($rc, 0, "a granted role's remove_node run on a member is refused");
like($err, qr/ERROR:  42501: spock.remove_node would reach node\(s\) n1, n2 with the DSNs stored in spock.node_interface, which only a superuser may have the server use/,
    "saying it would use the DSNs stored in spock.node_interface") or diag($err);
is(snapshot(), $before, "and nothing changed on n1..n3");

# Replication origins belong to the instance: an origin of another Spock
# database on n3's instance (named as Spock names them) must survive n3's
# removal from this one.
$n3->pg->safe_psql('postgres', "CREATE DATABASE other");
$n3->pg->safe_psql('other', "SELECT pg_replication_origin_create('spk_other_n1_sub_n1_n3')");

# n3 joined by hand and has no zodan extension: still removable from n1.
($rc, $out, $err) = $n1->psql("CALL spock.remove_node('n3', \$1)", $n3->dsn);
is($rc, 0, "remove_node of a node without the zodan extension succeeds") or diag($err);
is($n3->sql("SELECT count(*) FROM spock.local_node"), '0', "n3 is no Spock node any more");
is($n3->sql("SELECT count(*) FROM pg_replication_origin WHERE roname = 'spk_other_n1_sub_n1_n3'"), '1',
    "the origin of the other database on n3's instance is still there");
is(join(' ', map { $_->sql("SELECT count(*) FROM spock.node WHERE node_name = 'n3'") } $n1, $n2), '0 0',
    "n1 and n2 no longer know n3");
$n1->sql("INSERT INTO items VALUES (777001, 'after removing n3', 1)");

ok($c->sync_reaches(1, 2, 30), "n1 and n2 still replicate (n2 applies n1's changes within 30 s)");
is($n2->sql("SELECT count(*) FROM items WHERE id = 777001"), '1', "the row written on n1 after the removal is on n2");
$c->done;
