# For every step of add_node on a quiet cluster (no writes anywhere, so every
# wait depends on sync events alone): the caller's backend terminated while
# its run waits at that step, then add_node again resumes at that step and
# completes with all four nodes identical.
# (ZODAN_FAULT_STEPS="step ..." runs only those steps.)
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
$c->node(4)->sql("CREATE EXTENSION zodan");
Zodan::Faults->new($c)->suite('kill', ways => [ 'resume' ], load => 0);
$c->done;
