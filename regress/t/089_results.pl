# What a script reads around the calls (docs/add_node.md, "Results";
# docs/remove_node.md): n1..n3 meshed, n4 bare.
#  - spock.health_check_report: the checks as rows, a failed check a row
#    (passed false) and not an ERROR, while the procedure still raises one;
#  - spock.zodan_last_result() right after the CALL, in the same session:
#    the add's run, members, seconds, rows compared;
#  - the add again with the same arguments: success, "already a member ...
#    nothing to do", and no catalog of any node changed; with another DSN,
#    or with a subscription to n4 disabled, it fails as before (55000);
#  - remove_node journaled on the node it runs on: a remove made to fail at
#    its step clean_target shows as failed at that step in
#    spock.zodan_results, a new call starts over and finishes it;
#  - the remove again: success, "not a member ... nothing to do".
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
$_->sql("CREATE EXTENSION zodan") for $n1, $n4;
my $f = Zodan::Faults->new($c);

# --- health_check_report -----------------------------------------------------
my $report = Zodan::Node::bind_params(
    "SELECT coalesce(node_name, '-') || '|' || check_name || '|' || passed FROM spock.health_check_report(\$1, \$2, \$3, \$4) ORDER BY 1",
    'n1', $n1->dsn, 'n4', $n4->dsn);
my ($rc, $out, $err) = $n4->psql($report);
is($rc, 0, "health_check_report runs") or diag($err);
my @rows = split /\n/, $out;
cmp_ok(scalar @rows, '>=', 10, "one row per check (" . scalar(@rows) . ")");
is(scalar(grep { !/\|true$/ } @rows), 0, "every check passes before the add") or diag($out);
ok((grep { $_ eq 'n4|spock version on n4|true' } @rows), "a check of one node names it");
ok((grep { $_ eq 'n4|no user tables on the new node|true' } @rows), "a check of the new node names it");
ok((grep { /^-\|all subscriptions enabled\|true$/ } @rows), "a check of the whole cluster names none");

# A failed check is a row, not an ERROR: n2's name is taken.
my $taken = Zodan::Node::bind_params(
    "SELECT check_name || '|' || message FROM spock.health_check_report(\$1, \$2, \$3, \$4) WHERE NOT passed",
    'n1', $n1->dsn, 'n2', $n4->dsn);
($rc, $out, $err) = $n4->psql($taken);
is($rc, 0, "health_check_report with failing checks returns rows") or diag($err);
like($out, qr/^new node name is free\|node name "n2" is already taken in the cluster/m, "the failed check as a row");
($rc, $out, $err) = $n4->psql(Zodan::Node::bind_params("CALL spock.health_check(\$1, \$2, \$3, \$4)",
    'n1', $n1->dsn, 'n2', $n4->dsn));
isnt($rc, 0, "the procedure still raises an ERROR for the same checks");
like($err, qr/check FAILED: new node name is free/, "after its NOTICEs");
($rc, $out, $err) = $n4->psql("\\set VERBOSITY sqlstate\n"
    . Zodan::Node::bind_params("SELECT * FROM spock.health_check_report(\$1, \$2, check_type => 'during')", 'n1', $n1->dsn));
like($err, qr/ERROR:\s+22023/, "a check_type it does not know: an ERROR (22023), not rows");

# --- the add and its result ----------------------------------------------------
my $last = "SELECT operation || '|' || node_name || '|' || status || '|' || changed::text || '|' || "
  . "coalesce(note, '-') || '|' || array_to_string(members, ',') || '|' || (seconds > 0)::text || '|' || "
  . "coalesce(rows_compared::text, '-') || '|' || coalesce(failed_step, '-') FROM spock.zodan_last_result()";
($rc, $out, $err) = $n4->psql($f->add_sql . ";\n$last");
is($rc, 0, "add_node of n4") or diag($err);
my ($row) = grep { /^add_node\|/ } split /\n/, $out;
like($row // '', qr/^add_node\|n4\|done\|true\|-\|n1,n2,n3\|true\|(\d+)\|-$/,
    "zodan_last_result() right after the CALL: the run, done, changed, the members, seconds, rows compared")
  or diag($out);
my ($rows_compared) = ($row // '') =~ /\|(\d+)\|-$/;
cmp_ok($rows_compared // 0, '>', 0, "rows compared: $rows_compared");
my $run_id = $n4->sql("SELECT max(run_id) FROM spock.zodan_runs WHERE operation = 'add_node'");
is($n4->sql("SELECT status FROM spock.zodan_results WHERE run_id = $run_id"), 'done',
    "the same result later, by run id");
is(($n4->psql($last))[1], '', "shows nothing: that session ran nothing");

# --- the add again ---------------------------------------------------------------
# Everything a node's Spock configuration and slots hold, on every node.
sub catalogs {
    return join "\n", map {
        $_->name . ': ' . $_->sql(
            "SELECT (SELECT string_agg(node_name || ':' || node_id, ',' ORDER BY node_name) FROM spock.node) || ' / ' || "
          . "(SELECT string_agg(sub_name || ':' || sub_enabled, ',' ORDER BY sub_name) FROM spock.subscription) || ' / ' || "
          . "(SELECT coalesce(string_agg(slot_name, ',' ORDER BY slot_name), '') FROM pg_replication_slots) || ' / ' || "
          . "(SELECT coalesce(string_agg(roname, ',' ORDER BY roname), '') FROM pg_replication_origin)")
    } map { $c->node($_) } 1 .. 4;
}
my $before = catalogs();
($rc, $out, $err) = $n4->psql($f->add_sql . ";\n$last");
is($rc, 0, "add_node of n4 again, the same arguments: success") or diag($err);
like($err, qr/NOTICE:  add_node: node n4 is already a member of the cluster with this DSN, .*; nothing to do/,
    "saying it is already a member, nothing to do");
unlike($err, qr/step \d+\/\d+/, "running no step");
like($out, qr/^add_node\|n4\|done\|false\|node n4 is already a member of the cluster\|n1,n2,n3\|/m,
    "its result: changed false, with the reason");
is(catalogs(), $before, "no node's Spock configuration, slots or origins changed");

# Another DSN for the same name: refused as before.
(my $other_dsn = $n4->dsn) =~ s/host=127\.0\.0\.1/host=localhost/;
($rc, $out, $err) = $n4->psql("\\set VERBOSITY sqlstate\n"
    . Zodan::Node::bind_params("CALL spock.add_node(\$1, \$2, \$3, \$4)", 'n1', $n1->dsn, 'n4', $other_dsn));
like($err, qr/ERROR:\s+55000/, "the same name with another DSN: refused (55000)");
# An incomplete member (a subscription to it disabled): refused as before.
$n2->sql("SELECT spock.sub_disable('sub_n4_n2', true)");
($rc, $out, $err) = $n4->psql($f->add_sql);
isnt($rc, 0, "with a subscription to n4 disabled: refused");
like($err, qr/disabled subscription\(s\) in the cluster: sub_n4_n2 on n2/, "naming it");
$n2->sql("SELECT spock.sub_enable('sub_n4_n2', true)");
$n2->poll("SELECT count(*) FROM spock.sub_show_status() WHERE subscription_name = 'sub_n4_n2' AND status = 'replicating'",
    '1', 60, "sub_n4_n2 replicates again");

# --- remove_node's journal -------------------------------------------------------
my $remove = Zodan::Node::bind_params("CALL spock.remove_node(\$1, \$2)", 'n4', $n4->dsn);
($rc, $out, $err) = $n1->psql("SET zodan.fail_at_step = 'clean_target';\n$remove");
isnt($rc, 0, "a remove of n4 from n1 made to fail at clean_target fails");
like($err, qr/injected failure at "clean_target"/, "there");
my $results = "SELECT status || '|' || coalesce(failed_step, '-') || '|' || coalesce(changed::text, '-') "
  . "FROM spock.zodan_results WHERE operation = 'remove_node' ORDER BY run_id";
is($n1->sql($results), 'failed|clean_target|true', "spock.zodan_results on n1 shows the failed remove and its step");
is($n1->sql("SELECT string_agg(step_name || ':' || state, ' ' ORDER BY step_no) FROM spock.zodan_steps "
      . "WHERE run_id = (SELECT max(run_id) FROM spock.zodan_runs WHERE operation = 'remove_node')"),
    'check_target:done drain_target:done clean_members:done clean_target:failed', "and each step's state");
is($n4->sql("SELECT count(*) FROM spock.zodan_runs WHERE operation = 'remove_node'"), '0',
    "journaled on the node the call ran on only");

($rc, $out, $err) = $n1->psql("$remove;\n$last");
is($rc, 0, "the remove called again") or diag($err);
like($err, qr/the earlier remove of node n4 \(run \d+\) did not finish; starting over/, "starts over");
like($err, qr/remove_node: node n4 removed; changes on 1 of 4 node\(s\)/, "and finishes it (the node itself left)");
like($out, qr/^remove_node\|n4\|done\|true\|-\|n1,n2,n3\|true\|-\|-$/m, "zodan_last_result(): the remove, done");
is($n4->sql("SELECT count(*) FROM spock.node"), '0', "n4 is no Spock node any more");

($rc, $out, $err) = $n1->psql("$remove;\n$last");
is($rc, 0, "the remove once more: success") or diag($err);
like($err, qr/NOTICE:  remove_node: node n4 is not a member of this cluster; nothing to do/, "nothing to do");
like($out, qr/^remove_node\|n4\|done\|false\|node n4 is not a member of this cluster\|/m,
    "its result: changed false, with the reason");
is($n1->sql($results), "failed|clean_target|true\ndone|-|true\ndone|-|false", "three removes journaled on n1");

# A node of that name that is a Spock node of another cluster: still refused.
$n4->sql("SELECT spock.node_create('n4', \$\$" . $n4->dsn . "\$\$)");
($rc, $out, $err) = $n1->psql("\\set VERBOSITY sqlstate\n$remove");
like($err, qr/ERROR:\s+42704/, "a node n4 of another cluster (no member lists it) is still refused (42704)");
$n4->sql("SELECT spock.node_drop('n4')");

$c->done;
