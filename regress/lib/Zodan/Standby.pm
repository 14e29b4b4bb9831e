# A hot standby of a mesh node, made as an operator makes one for a
# physical add (docs/physical.md): a base backup of the source, streaming
# from it, on a port of its own and the source's listen address (its
# postgresql.conf is the source's copy), the source's roles and passwords.
# It joins the mesh's list of nodes as node I, so the mesh's helpers, the
# load and the leak checks see it like any other node.
#
#   my $n4 = Zodan::Standby->make($c, 1, 4);    # n4: a hot standby of n1
#   my $n5 = Zodan::Standby->make($c, 4, 5);    # n5: cascaded, a standby of n4
#   Zodan::Standby->make($c, 1, 4, slot => 1);  # through a physical slot on n1
package Zodan::Standby;

use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use Test::More;
use Time::HiRes qw(time sleep);
use Zodan::Node;

sub make {
    my ($class, $c, $src_i, $i, %o) = @_;
    my $src = $c->node($src_i);
    my $pg = $src->pg;
    # pg_basebackup and the standby's WAL receiver reach the source over its
    # socket as the servers' OS user (the mesh allows TCP with passwords only).
    open my $hba, '>>', $pg->data_dir . '/pg_hba.conf' or die $!;
    print $hba "local replication all trust\n";
    close $hba;
    $pg->reload;
    my $backup = "standby_n$i";
    $pg->backup($backup);
    my $st = PostgreSQL::Test::Cluster->new("n$i");
    # The copy's configuration is the source's: its own port before it starts.
    $st->init_from_backup($pg, $backup, has_streaming => 1);
    $st->append_conf('postgresql.conf', "cluster_name = 'n$i'");
    # slot => 1: through a physical slot on the source, which keeps the WAL
    # the standby has not received yet.
    if ($o{slot}) {
        $src->sql("SELECT pg_create_physical_replication_slot('n${i}_standby')");
        $st->append_conf('postgresql.conf', "primary_slot_name = 'n${i}_standby'");
    }
    $st->start;
    my $node = bless { i => $i, name => "n$i", pg => $st, db => $src->db, password => $src->password }, 'Zodan::Node';
    die "[harness] node $i exists already\n" if $c->{nodes}[ $i - 1 ];
    $c->{nodes}[ $i - 1 ] = $node;
    # Streaming, and caught up with what the source wrote until now.
    # (A standby of a standby, cascaded: the source's own replay.)
    my $lsn = $src->sql("SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END");
    $node->poll("SELECT pg_is_in_recovery() AND pg_last_wal_replay_lsn() >= '$lsn'::pg_lsn
                 AND EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming')", 't', 60,
        "n$i streams from " . $src->name . " and caught up");
    return $node;
}

1;
