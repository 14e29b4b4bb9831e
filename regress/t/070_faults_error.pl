# For every step of add_node: an error injected right after the step's work
# (before it is recorded as done), then (a) add_node again resumes at that
# step and completes with all four nodes identical, or (b) remove_node on n4
# leaves nothing behind and n1..n3 still replicate alike. n1..n3 take
# writes throughout; the checker finds each acknowledged write exactly once
# on every member.
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
Zodan::Faults->new($c)->suite('error', ways => [ 'resume', 'rollback' ], load => 1);
$c->done;
