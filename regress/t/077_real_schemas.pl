# What users' schemas hold, in an add under Spock's DDL replication: a
# list-partitioned table in the default set (its partitions listed with it),
# a table with a column of every built-in type the comparison hashes (on
# PostgreSQL 15 several types' hash functions are declared for another
# type), and DDL during the add: a table created on n2 and filled after the
# copy point, a column added on n3. The add completes, n4 holds what the
# others hold in every table, the new table's membership is mirrored, and a
# row written on n4 reaches the others.
# matrix: every combination
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use Zodan::Mesh;
use Zodan::Faults;
use Test::More;

my $ddl = "spock.enable_ddl_replication = on\nspock.include_ddl_repset = on\n";
my $c = Zodan::Mesh->new(nodes => 4, conf => $ddl);
my ($n1, $n2, $n3, $n4) = map { $c->node($_) } 1 .. 4;

my $schema = Zodan::Mesh::inventory_schema() . Zodan::Mesh::real_schema();
my $sets = Zodan::Mesh::inventory_sets() . Zodan::Mesh::real_sets();
# The structure on each node before the nodes exist (nothing to replicate
# yet), then the sets and the mesh, as Zodan::Mesh->inventory does.
$_->sql($schema) for $n1, $n2, $n3;
$c->create_nodes(3);
$_->sql($sets) for $n1, $n2, $n3;
$c->subscribe_mesh(3, $Zodan::Mesh::INVENTORY_SETS);
$n1->sql("INSERT INTO items SELECT g, 'item ' || g, g % 17 FROM generate_series(1, 200) g;\n"
      . Zodan::Mesh::real_rows());
$c->converge(1 .. 3);
like($n1->sql("SELECT string_agg(c.relname, ',' ORDER BY c.relname) FROM spock.replication_set_table t
                JOIN pg_class c ON c.oid = t.set_reloid WHERE c.relname LIKE 'events%'"),
    qr/^events,events_eu,events_other,events_us$/, "n1 lists the partitioned table and its partitions in its set");

# The add, held after its copy while n2 creates and fills a table and n3
# adds a column (both replicated as DDL).
$n4->sql("CREATE EXTENSION zodan");
my $f = Zodan::Faults->new($c);
$f->hold_pause_lock;
my $caller = $n4->background($f->add_sql("zodan.pause_at_step = 'advance_slots'"));
$f->wait_at_step('advance_slots', $caller, timeout => 120) or die "the add did not reach advance_slots\n";
$n2->sql("CREATE TABLE public.newt (id int PRIMARY KEY, v text)");
$n2->sql("INSERT INTO public.newt SELECT g, 'new ' || g FROM generate_series(1, 50) g");
$n3->sql("ALTER TABLE public.items ADD COLUMN colour text");
$n3->sql("UPDATE public.items SET colour = 'red' WHERE id <= 10");
$n1->sql("INSERT INTO events VALUES (1001, 'eu', 'during the add'), (1002, 'apac', 'during the add')");
$f->release_pause_lock;
my ($rc, $out, $err) = $caller->finish(300);
is($rc, 0, "the add completes with partitions, every hashed type and DDL during it") or diag($err);
like($err, qr/compare the new node with the source\n/, "the comparison ran (it was not switched off)");
unlike($err, qr/compare the new node with the source \(nothing to do/, "the comparison was not skipped");

is($n4->sql("SELECT output ->> 'deferred' FROM spock.zodan_add_node_status WHERE step_name = 'mirror_replication_sets'"),
    '{public.newt}', "the new table's membership waited for the table to arrive (the case under test)");
$f->converges(1 .. 4);
for my $t ('items', @Zodan::Mesh::REAL_TABLES, 'newt') {
    my $ref = $c->digest(1, $t);
    is($c->digest($_, $t), $ref, "$t on n$_ equals n1") for 2 .. 4;
}
my $members = "SELECT rs.set_name || ':' || t.set_reloid::regclass FROM spock.replication_set_table t
                JOIN spock.replication_set rs USING (set_id) ORDER BY 1";
is($n4->sql($members), $n1->sql($members), "n4's set memberships equal n1's, the new table's included");
like($n4->sql($members), qr/default:newt/, "the table created during the add is in n4's default set");

$n4->sql("INSERT INTO public.newt VALUES (1000, 'from n4')");
$n4->sql("INSERT INTO events VALUES (2000, 'us', 'from n4')");
$f->converges(1 .. 4);
is($_->sql("SELECT count(*) FROM newt WHERE id = 1000") . $_->sql("SELECT count(*) FROM events WHERE id = 2000"),
    '11', "rows written on n4 into the new and the partitioned table reach " . $_->name) for $n1, $n2, $n3;
$c->done;
