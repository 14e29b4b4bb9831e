# Kill and resume under writes: the caller of spock.add_node is terminated
# while its run waits at copy_source, n1..n3 writing all along; called
# again, the add resumes at that step and completes. All four nodes then
# hold identical tables, the checker finds every acknowledged write exactly
# once everywhere, and removing n4 again leaves nothing behind. The one
# fault scenario small enough for every combination (071 runs every step).
# matrix: every combination
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use Zodan::Mesh;
use Zodan::Faults;
use Test::More;

my $c = Zodan::Mesh->new(nodes => 4);
$c->inventory(3);
$c->node(4)->sql("CREATE EXTENSION zodan");

Zodan::Faults->new($c)->scenario('kill', 'copy_source', 'resume', load => 1);
$c->done;
