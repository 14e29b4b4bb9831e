# The pg_regress suites of spock.add_node, run on n4 as it joins meshed
# n1..n3 that hold data in the built-in sets and in a user-created one:
# every precondition failure, the join itself, health_check before and
# after, and remove_node. Also whether the test hooks are settings of the
# build: a test build has them, the library a plain `make` ships has none
# (regress/test-all.sh runs this test so on the release tarball).
# matrix: every combination
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use Zodan::Mesh;
use Test::More;

my $c = Zodan::Mesh->new(nodes => 4);
$c->inventory(3, counters => 0);    # as the expected output was written for
$c->node(4)->sql("CREATE EXTENSION zodan");
my $hooks = $c->node(4)->sql("SELECT coalesce(string_agg(name, ',' ORDER BY name), 'none') FROM pg_settings "
      . "WHERE name IN ('zodan.fail_at_step', 'zodan.pause_at_step', 'zodan.skip_fence')");
if (Zodan::Env::test_hooks()) {
    is($hooks, 'zodan.fail_at_step,zodan.pause_at_step,zodan.skip_fence', "a test build has the test hooks");
} else {
    is($hooks, 'none', "a plain build has no test hooks");
}
$c->pg_regress(4, qw(add_node_preconditions add_node health_check remove_node));
$c->done;
