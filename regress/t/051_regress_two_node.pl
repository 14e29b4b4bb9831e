# The pg_regress suite of the two-node case: n2 joins single-node n1.
# matrix: every combination
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use Zodan::Mesh;
use Test::More;

my $c = Zodan::Mesh->new(nodes => 2);
$c->inventory(1, counters => 0);    # as the expected output was written for
$c->node(2)->sql("CREATE EXTENSION zodan");
$c->pg_regress(2, 'add_node_two_node');
$c->done;
