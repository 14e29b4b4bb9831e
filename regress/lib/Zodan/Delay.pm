# A link "across regions" on one machine: a TCP proxy on 127.0.0.1 in front
# of every node that holds each direction's bytes for a chosen one-way
# delay, so that a round trip through it costs twice that. It is a latency,
# not a bandwidth cap: bytes are read as fast as they come, queued with the
# time they may leave, and written at that time as fast as the other side
# takes them (COPY and replication streams flow at full rate, each byte
# late by the delay).
#
# A node's own sessions to itself stay local, as on a real host: the proxy
# looks up which process opened a connection (/proc) and does not delay it
# when that process descends from the postmaster of the node it reaches
# (the backend of a CALL connecting to its own node, a pg_dump that backend
# runs). Everything else is delayed: other nodes' sessions, Spock's
# workers, the harness's clients.
#
# One process serves every node; it ends with the test (stop(), the
# object's destruction, or the test process's end, which it watches).
#
#   my $d = Zodan::Delay->start(50, [ [ n1 => $port1, $datadir1 ], ... ]);
#   $d->port('n1');    # where to reach n1 through the delay
#   $d->stop;
package Zodan::Delay;

use strict;
use warnings;
use Errno qw(EAGAIN EWOULDBLOCK EINTR);
use IO::Socket::INET;
use POSIX ();
use Socket qw(SOL_SOCKET SO_RCVBUF SO_SNDBUF IPPROTO_TCP TCP_NODELAY);
use Time::HiRes qw(time);

# Bytes a direction may hold before the proxy stops reading from its
# sender (TCP's own flow control then slows the sender): a bound on memory,
# far above what a 100 ms round trip needs to keep the link full.
our $MAX_QUEUED = 32 * 1024 * 1024;
our $CHUNK      = 256 * 1024;

my @running;    # every proxy this process started, stopped at its end

sub start {
    my ($class, $delay_ms, $nodes) = @_;
    die "[harness] a delay of '$delay_ms' ms: want a number from 0 to 10000\n"
      unless $delay_ms =~ /^\d+(\.\d+)?$/ && $delay_ms <= 10000;
    my (%listener, %port);
    for my $n (@$nodes) {
        my ($name, $target_port, $datadir) = @$n;
        my $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 128, ReuseAddr => 1)
          or die "[harness] cannot listen for the delay proxy of $name: $!\n";
        $listener{$name} = { sock => $l, target => $target_port, datadir => $datadir, name => $name };
        $port{$name} = $l->sockport;
    }
    my $parent = $$;
    my $pid = fork // die "[harness] cannot fork the delay proxy: $!\n";
    if ($pid == 0) {
        # The test's END blocks and handlers are not the proxy's.
        $SIG{$_} = 'DEFAULT' for qw(INT TERM);
        eval { serve($delay_ms / 1000.0, [ values %listener ], $parent) };
        print STDERR "[harness] delay proxy: $@" if $@;
        POSIX::_exit(0);
    }
    $_->{sock}->close for values %listener;
    my $self = bless { pid => $pid, port => \%port, delay_ms => $delay_ms, owner => $$ }, $class;
    push @running, $self;
    return $self;
}

sub port     { my ($self, $name) = @_; return $self->{port}{$name} // die "[harness] no delay proxy for $name\n" }
sub delay_ms { $_[0]{delay_ms} }

sub stop {
    my ($self) = @_;
    return unless $self->{pid} && $$ == $self->{owner};
    kill 'TERM', $self->{pid};
    waitpid $self->{pid}, 0;
    $self->{pid} = undef;
}

sub DESTROY { $_[0]->stop }
END { $_->stop for @running }

# --- the proxy process ---

# The process id of the postmaster of the node whose data directory this is
# (it changes when the node restarts).
sub postmaster_of {
    my ($datadir) = @_;
    open my $fh, '<', "$datadir/postmaster.pid" or return 0;
    my $pid = <$fh>;
    close $fh;
    return ($pid // '') =~ /^(\d+)/ ? $1 : 0;
}

sub parent_of {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/stat" or return 0;
    my $stat = <$fh> // '';
    close $fh;
    # pid (comm) state ppid ...: comm may hold spaces and parentheses.
    return $stat =~ /\)\s+\S+\s+(\d+)/ ? $1 : 0;
}

# The process that holds the client end of an accepted connection: its
# socket's inode from /proc/net/tcp, then the process with a descriptor on
# it. 0 when not found (it closed already, or belongs to another user).
sub client_process {
    my ($client_port, $proxy_port) = @_;
    my $want = sprintf('0100007F:%04X', $client_port);
    my $peer = sprintf('0100007F:%04X', $proxy_port);
    my $inode;
    open my $tcp, '<', '/proc/net/tcp' or return 0;
    while (<$tcp>) {
        my @f = split;
        if (@f > 9 && $f[1] eq $want && $f[2] eq $peer) { $inode = $f[9]; last; }
    }
    close $tcp;
    return 0 unless $inode;
    my $link = "socket:[$inode]";
    opendir my $proc, '/proc' or return 0;
    for my $pid (grep { /^\d+$/ } readdir $proc) {
        next unless -o "/proc/$pid";    # the servers run as this user
        opendir my $fds, "/proc/$pid/fd" or next;
        for my $fd (readdir $fds) {
            my $to = readlink("/proc/$pid/fd/$fd") // next;
            return $pid if $to eq $link;
        }
    }
    return 0;
}

# Whether the process PID runs on the node of DATADIR (descends from its
# postmaster).
sub runs_on {
    my ($pid, $datadir) = @_;
    my $postmaster = postmaster_of($datadir) or return 0;
    for (1 .. 64) {
        return 1 if $pid == $postmaster;
        $pid = parent_of($pid);
        return 0 if $pid <= 1;
    }
    return 0;
}

sub serve {
    my ($delay, $listeners, $parent) = @_;
    my $stop = 0;
    $SIG{TERM} = $SIG{INT} = sub { $stop = 1 };
    $SIG{PIPE} = 'IGNORE';
    my %by_fd;      # fileno -> listener or link end
    my @pipes;      # one per direction of each connection
    for my $l (@$listeners) {
        $l->{sock}->blocking(0);
        $by_fd{ fileno $l->{sock} } = { listener => $l };
    }
    while (!$stop) {
        last if getppid() != $parent;    # the test is gone: so are we
        my $now = time;
        my ($rin, $win) = ('', '');
        my $next = $now + 0.5;
        for my $fd (keys %by_fd) {
            my $e = $by_fd{$fd};
            if ($e->{listener}) { vec($rin, $fd, 1) = 1; next; }
            my $p = $e->{out};    # the direction this socket feeds
            vec($rin, $fd, 1) = 1 if !$p->{eof} && $p->{bytes} < $MAX_QUEUED;
        }
        for my $p (@pipes) {
            next unless @{ $p->{queue} };
            my $due = $p->{queue}[0][0];
            if ($due <= $now) { vec($win, fileno $p->{to}, 1) = 1; }
            elsif ($due < $next) { $next = $due; }
        }
        my $wait = $next - $now;
        $wait = 0 if $wait < 0;
        my $n = select(my $rout = $rin, my $wout = $win, undef, $wait);
        next if $n < 0;
        for my $fd (keys %by_fd) {
            my $e = $by_fd{$fd} or next;
            next unless vec($rout, $fd, 1);
            if ($e->{listener}) {
                accept_link($e->{listener}, $delay, \%by_fd, \@pipes);
                next;
            }
            my $p = $e->{out};
            my $got = sysread($p->{from}, my $buf, $CHUNK);
            if (defined $got && $got > 0) {
                push @{ $p->{queue} }, [ time + $p->{delay}, $buf, 0 ];
                $p->{bytes} += $got;
            } elsif (defined $got || !($! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR)) {
                # The end of what the sender sends (or a reset): passed on
                # after the delay too.
                push @{ $p->{queue} }, [ time + $p->{delay}, undef, 0 ];
                $p->{eof} = 1;
            }
        }
        $now = time;
        for my $p (@pipes) {
            while (@{ $p->{queue} } && $p->{queue}[0][0] <= $now) {
                my $item = $p->{queue}[0];
                if (!defined $item->[1]) {
                    shutdown($p->{to}, 1);
                    shift @{ $p->{queue} };
                    $p->{done} = 1;
                    next;
                }
                my $left = length($item->[1]) - $item->[2];
                my $put = syswrite($p->{to}, $item->[1], $left, $item->[2]);
                if (!defined $put) {
                    last if $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR;
                    # The receiver is gone: so is this connection.
                    $p->{queue} = [];
                    $p->{done} = $p->{eof} = 1;
                    $p->{twin}{done} = $p->{twin}{eof} = 1;
                    $p->{twin}{queue} = [];
                    last;
                }
                $p->{bytes} -= $put;
                if ($put < $left) { $item->[2] += $put; last; }
                shift @{ $p->{queue} };
            }
        }
        # A connection ends once both directions delivered their end.
        my @kept;
        for my $p (@pipes) {
            if ($p->{done} && $p->{twin}{done}) {
                next if $p->{closed};
                $p->{closed} = $p->{twin}{closed} = 1;
                for my $s ($p->{from}, $p->{to}) { delete $by_fd{ fileno $s }; close $s; }
                next;
            }
            push @kept, $p;
        }
        @pipes = grep { !$_->{closed} } @kept;
    }
}

sub accept_link {
    my ($l, $delay, $by_fd, $pipes) = @_;
    my $client = $l->{sock}->accept or return;
    my $server = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $l->{target}, Proto => 'tcp');
    if (!$server) { close $client; return; }    # the node is down: so is the link
    my $pid = client_process($client->peerport, $l->{sock}->sockport);
    my $d = ($pid && runs_on($pid, $l->{datadir})) ? 0 : $delay;
    for my $s ($client, $server) {
        $s->blocking(0);
        setsockopt($s, IPPROTO_TCP, TCP_NODELAY, 1);
    }
    my $up   = { from => $client, to => $server, queue => [], bytes => 0, delay => $d };
    my $down = { from => $server, to => $client, queue => [], bytes => 0, delay => $d, twin => $up };
    $up->{twin} = $down;
    $by_fd->{ fileno $client } = { out => $up };
    $by_fd->{ fileno $server } = { out => $down };
    push @$pipes, $up, $down;
}

1;
