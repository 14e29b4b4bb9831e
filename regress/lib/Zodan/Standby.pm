# A hot standby of a mesh node, made as an operator makes one for a
# physical add (docs/physical.md): a base backup of the source, streaming
# from it, on a port of its own and the source's listen address (its
# postgresql.conf is the source's copy), the source's roles and passwords.
# It joins the mesh's list of nodes as node I, so the mesh's helpers, the
# load and the leak checks see it like any other node.
#
#   my $n4 = Zodan::Standby->make($c, 1, 4);    # n4: a hot standby of n1
#   my $n4 = Zodan::Standby->make($c, 1, 4, direct => 1);
#   printf "%.2f s\n", $n4->{made}{backup_s};
#   Zodan::Standby::discard($c, 4);              # stopped, its files gone
#
# direct => 1: pg_basebackup writes straight into the standby's data
# directory, as an operator makes one (docs/physical.md), instead of a
# backup the harness then copies file by file: a benchmark times the
# backup alone (regress/bench-physical.pl). Either way $node->{made} holds
# backup_s (the base backup, and its copy without direct) and catchup_s
# (from the standby's start until it streams and has replayed what the
# source wrote before it started).
#
#   my $n5 = Zodan::Standby->make($c, 4, 5);    # n5: cascaded, a standby of n4
#   Zodan::Standby->make($c, 1, 4, slot => 1);  # through a physical slot on n1
package Zodan::Standby;

use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use File::Path ();
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
    my $t0 = time;
    my $st = PostgreSQL::Test::Cluster->new("n$i");
    if ($o{direct}) {
        # The data directory is the backup; the rest as init_from_backup
        # does it: the standby's own port, streaming from the source.
        # --no-sync as the harness's backups: its servers run with fsync off.
        my @cmd = ("$Zodan::Env::bindir/pg_basebackup", '--no-sync', '-D', $st->data_dir, '-h', $pg->host,
                   '-p', $pg->port, '-c', 'fast', '-X', 'stream');
        system(@cmd) == 0 or die "pg_basebackup of " . $src->name . " failed\n";
        chmod(0700, $st->data_dir) or die $!;
        $st->append_conf('postgresql.conf', "port = " . $st->port);
        $st->enable_streaming($pg);
    } else {
        my $backup = "standby_n$i";
        $pg->backup($backup);
        # The copy's configuration is the source's: its own port before it starts.
        $st->init_from_backup($pg, $backup, has_streaming => 1);
    }
    # hot_standby_feedback: the add's own queries on the standby (and a
    # test's sessions there) are never cancelled by the replay of the
    # source's cleanup under writes ("conflict with recovery").
    $st->append_conf('postgresql.conf', "cluster_name = 'n$i'\nhot_standby_feedback = on");
    # slot => 1: through a physical slot on the source, which keeps the WAL
    # the standby has not received yet.
    if ($o{slot}) {
        $src->sql("SELECT pg_create_physical_replication_slot('n${i}_standby')");
        $st->append_conf('postgresql.conf', "primary_slot_name = 'n${i}_standby'");
    }
    my $t1 = time;
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
    $node->{made} = { backup_s => $t1 - $t0, catchup_s => time - $t1 };
    return $node;
}

# The mesh's last node I, a standby made by make() (or what its add made of
# it), stopped and its files removed: the next make() can be node I again.
sub discard {
    my ($c, $i) = @_;
    die "[harness] only the mesh's last node can be discarded\n" unless @{ $c->{nodes} } == $i;
    my $node = pop @{ $c->{nodes} };
    $node->pg->teardown_node;
    File::Path::rmtree($node->pg->basedir);
}

1;
