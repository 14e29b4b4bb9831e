# The copy's structure dumped on the source (docs/protocol.md, "The
# structure copy across the link"), every node behind a 50 ms delay and
# under Spock's DDL replication. An add through n1 dumps the structure on
# n1 (the journal says "source"): the tables, a view, a function, a
# sequence and an index arrive, the rows are the same, and the function
# zodan made on n1 for its session reached no other node. Then n1's
# pg_hba.conf refuses local connections: with zodan.structure_dump =
# source the add fails cleanly, naming the refusal, and leaves nothing on
# the new node; the next add (auto) falls back to pg_dump on the new
# node's host with a NOTICE saying why and what it costs, and succeeds.
# The structure's milliseconds both ways are noted.
# matrix: full suite only
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use Zodan::Mesh;
use Zodan::AddStatus;
use Test::More;

my $ddl = "spock.enable_ddl_replication = on\nspock.include_ddl_repset = on\n";
my $c = Zodan::Mesh->new(nodes => 4, conf => $ddl, delay_ms => 50);
my ($n1, $n2, $n3, $n4) = map { $c->node($_) } 1 .. 4;

my $extra = <<'SQL';
CREATE SEQUENCE public.ticket_seq START 100;
CREATE TABLE public.tickets (id bigint PRIMARY KEY DEFAULT nextval('public.ticket_seq'), item_id int NOT NULL, note text);
CREATE INDEX tickets_item ON public.tickets (item_id);
CREATE FUNCTION public.item_label(i public.items) RETURNS text LANGUAGE sql AS $$ SELECT i.name || ' x' || i.qty $$;
CREATE VIEW public.item_labels AS SELECT i.id, public.item_label(i) AS label FROM public.items i;
SQL
# The structure on each node before the nodes exist, then the sets and
# the mesh (as 077_real_schemas.pl does under DDL replication).
$_->sql(Zodan::Mesh::inventory_schema() . $extra) for $n1, $n2;
$c->create_nodes(2);
$_->sql(Zodan::Mesh::inventory_sets() . "SELECT spock.repset_add_table('default', 'public.tickets');") for $n1, $n2;
$c->subscribe_mesh(2, $Zodan::Mesh::INVENTORY_SETS);
$n1->sql(<<'SQL');
INSERT INTO items SELECT g, 'item ' || g, g % 17 FROM generate_series(1, 300) g;
INSERT INTO orders SELECT g, 1 + g % 300, 'order ' || g FROM generate_series(1, 100) g;
INSERT INTO tickets (item_id, note) SELECT 1 + g % 300, 'ticket ' || g FROM generate_series(1, 50) g;
SQL
$c->converge(1, 2);
my @tables = qw(items orders audit_log counters tickets);

sub add_through_n1 {
    my ($new, @settings) = @_;
    return $new->psql(join('', map { "SET $_;\n" } @settings) . "CALL spock.add_node('n1', \$1, \$2, \$3)",
        $n1->dsn, $new->name, $new->dsn);
}
sub figure {
    my ($n, $key) = @_;
    return $n->sql("SELECT output::jsonb ->> '$key' FROM spock.zodan_add_node_status WHERE step_name = 'copy_source'");
}
sub has_objects {
    my ($n) = @_;
    is($n->sql("SELECT count(*) FROM item_labels"), 300, $n->name . " has the view, over the function");
    is($n->sql("SELECT to_regprocedure('public.item_label(public.items)') IS NOT NULL"), 't', "and the function");
    is($n->sql("SELECT last_value FROM public.ticket_seq"), $n1->sql("SELECT last_value FROM public.ticket_seq"),
        "and the sequence, at n1's value");
    is($n->sql("SELECT to_regclass('public.tickets_item') IS NOT NULL"), 't', "and the index");
}

# 1. Dumped on the source.
$n3->sql("CREATE EXTENSION zodan");
my ($rc, $out, $err) = add_through_n1($n3);
is($rc, 0, "n3 joins through n1") or diag($err);
unlike($err, qr/is dumped on this node/, "without dumping the structure on its own host");
is(figure($n3, 'structure_dump'), 'source', "the journal says the structure was dumped on the source");
cmp_ok(figure($n3, 'structure_bytes'), '>', 1000, "and how large the archive was");
my $source_ms = figure($n3, 'structure_ms');
note "structure dumped on n1: structure_ms $source_ms (" . Zodan::AddStatus::copy_parts($n3) . ")";
has_objects($n3);
$c->converge(1 .. 3);
$c->same_tables([ 1, 2, 3 ], @tables);
# zodan's function was n1's session's alone: nothing queued for DDL
# replication, nothing on the others.
is($n1->sql("SELECT CASE WHEN to_regclass('spock.queue') IS NULL THEN 0 ELSE
               (SELECT count(*) FROM spock.queue WHERE message::text LIKE '%zodan_dump_structure%') END"),
    0, "the dump function was not queued for DDL replication on n1");
is($_->sql("SELECT count(*) FROM pg_proc WHERE proname = 'zodan_dump_structure'"), 0,
    $_->name . " holds no dump function") for $n1, $n2, $n3;
ok($c->sync_reaches(1, 2, 60) && $c->sync_reaches(1, 3, 60), "n1 still replicates to n2 and n3");

# 2. n1 refuses local connections: its pg_dump cannot reach it.
my $hba = $n1->pg->data_dir . '/pg_hba.conf';
my $lines = PostgreSQL::Test::Utils::slurp_file($hba);
open my $fh, '>', $hba or die "cannot write $hba: $!";
print $fh "local all all reject\n$lines";
close $fh;
$n1->pg->reload;

$n4->sql("CREATE EXTENSION zodan");
($rc, $out, $err) = add_through_n1($n4, "zodan.structure_dump = source");
isnt($rc, 0, "with zodan.structure_dump = source the add fails when n1 cannot dump its structure");
like($err, qr/ERROR:  the structure of n1 could not be dumped on n1 \(zodan\.structure_dump = source\): .*pg_hba\.conf rejects connection/,
    "naming pg_dump's refusal") or diag($err);
unlike($err, qr/is dumped on this node/, "and not falling back");
is($n4->sql("SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace"), 0,
    "nothing was made on n4");

($rc, $out, $err) = add_through_n1($n4);
is($rc, 0, "the next add (auto) succeeds") or diag($err);
like($err, qr/NOTICE:  the structure of n1 is dumped on this node, not on n1, at one round trip to n1 per catalog query pg_dump reads \(some eighty for a small schema\): .*pg_hba\.conf rejects connection/,
    "dumping on n4's host, with a NOTICE saying why and what it costs");
is(figure($n4, 'structure_dump'), 'new node', "the journal says where");
cmp_ok(figure($n4, 'structure_bytes'), '>', 1000, "and how large");
my $local_ms = figure($n4, 'structure_ms');
note "structure dumped on n4's host across the link: structure_ms $local_ms ("
  . Zodan::AddStatus::copy_parts($n4) . "); on n1: $source_ms";
has_objects($n4);
$c->converge(1 .. 4);
$c->same_tables([ 1, 2, 3, 4 ], @tables);
$c->done;
