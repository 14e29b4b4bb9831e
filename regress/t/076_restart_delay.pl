# A node whose operator set Spock's apply-worker restart delay longer than
# the product's own 10 s allowance for a 'down' subscription: n1's
# subscription from n2 loses its provider connection just before the add, so
# Spock starts its worker again only 15 s later. The add must wait that out
# (the subscription is the one its first wait needs) and complete, with all
# four nodes identical, instead of failing on a subscription Spock is about
# to heal.
# matrix: every combination
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use Time::HiRes qw(time sleep);
use Zodan::Mesh;
use Zodan::Faults;
use Test::More;

my $delay_s = 15;
my $c = Zodan::Mesh->new(nodes => 4, conf => join("\n",
    "spock.restart_delay_default = " . $delay_s * 1000, "spock.restart_delay_on_exception = " . $delay_s * 1000));
$c->inventory(3);
my ($n1, $n2, $n4) = ($c->node(1), $c->node(2), $c->node(4));
$n4->sql("CREATE EXTENSION zodan");
my $f = Zodan::Faults->new($c);

# End the walsender on n2 that feeds n1's sub_n2_n1 (Spock names it after
# the subscription's slot): the apply worker fails on the lost connection.
my $slot = $n1->sql("SELECT sub_slot_name FROM spock.subscription WHERE sub_name = 'sub_n2_n1'");
my $cut = time;
is($n2->sql("SELECT count(pg_catalog.pg_terminate_backend(pid)) FROM pg_catalog.pg_stat_replication
             WHERE application_name = \$1", $slot), '1', "the walsender feeding sub_n2_n1 ended");
$n1->poll("SELECT status = 'down' FROM spock.sub_show_status() WHERE subscription_name = 'sub_n2_n1'",
    't', 10, "sub_n2_n1 on n1 down") or BAIL_OUT("the subscription never went down");

my ($rc, $out, $err) = $f->add;
my $took = time - $cut;
is($rc, 0, "the add completes while Spock waits out n1's restart delay") or diag($err);
cmp_ok($took, '>', 10, sprintf("it waited on the outage past the fixed 10 s allowance (%.1f s from the cut)", $took));
unlike($err, qr/is down/, "no error about the subscription being down");

$f->converges(1 .. 4);
ok($f->all_replicating(1 .. 4), "all subscriptions replicating");
is_deeply([ $f->tables_differing(1 .. 4) ], [], "all four nodes hold identical tables");
$c->done;
