# Fault injection for spock.add_node, on a Zodan::Mesh whose n1..n3 are
# meshed and whose n4 is to join: stop a run at a step, with an injected
# error or by terminating the caller while it waits there, then take one way
# out (call the add again: resume; or remove_node: roll back) and check the
# cluster.
#
# The hooks are the product's test-only settings (superuser only):
#   zodan.fail_at_step = 'STEP' or 'STEP:after'  raise an error there
#   zodan.pause_at_step = 'STEP'                 wait at STEP while another
#       session holds the advisory lock hashtext('zodan.pause') on the new node
#
#   my $f = Zodan::Faults->new($c);               # n4 joins through n1
#   $f->scenario('kill', 'copy_source', 'resume', load => 1);
#   $f->suite('error', ways => ['resume', 'rollback'], load => 1);
package Zodan::Faults;

use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time sleep);
use Zodan::Load;

# The tables of Zodan::Mesh->inventory, all replicated.
our @TABLES = qw(items orders audit_log counters);

sub new {
    my ($class, $c, %o) = @_;
    my $new = $o{new} // 4;
    return bless { c => $c, new => $new, src => $o{src} // 1, members => [ grep { $_ != $new } 1 .. $new ] },
      $class;
}

sub cluster  { $_[0]{c} }
sub new_node { $_[0]{c}->node($_[0]{new}) }
sub src_node { $_[0]{c}->node($_[0]{src}) }
sub members  { @{ $_[0]{members} } }

# The steps a suite goes through: all, or those in ZODAN_FAULT_STEPS
# (space-separated), to rerun one scenario while debugging.
sub steps {
    my ($self) = @_;
    return split ' ', $ENV{ZODAN_FAULT_STEPS} if $ENV{ZODAN_FAULT_STEPS};
    return $self->plan_steps;
}

# add_node's steps in order, as the installed extension has them (the view
# spock.zodan_add_node_steps), read once.
sub plan_steps {
    my ($self) = @_;
    $self->{plan} //= [ split ' ',
        $self->new_node->sql("SELECT string_agg(step_name, ' ' ORDER BY step_no) FROM spock.zodan_add_node_steps") ];
    return @{ $self->{plan} };
}

sub step_no {
    my ($self, $step) = @_;
    my @plan = $self->plan_steps;
    my ($no) = grep { $plan[$_] eq $step } 0 .. $#plan;
    return $no // die "no add_node step named $step\n";
}

# The CALL of the add, DSNs (passwords included) bound in, after SETTINGS
# ("name = value", each SET first in the same session).
sub add_sql {
    my ($self, @settings) = @_;
    my ($s, $n) = ($self->src_node, $self->new_node);
    return join('', map { "SET $_;\n" } @settings)
      . Zodan::Node::bind_params("CALL spock.add_node(\$1, \$2, \$3, \$4)", $s->name, $s->dsn, $n->name, $n->dsn);
}

# add(SETTINGS...) -> (rc, stdout, stderr), on the new node.
sub add {
    my ($self, @settings) = @_;
    return $self->surviving_spock_crash(sub { $self->new_node->psql($self->add_sql(@settings)) });
}

# remove_node of the new node, run on it -> (rc, stdout, stderr).
sub remove {
    my ($self) = @_;
    my $n = $self->new_node;
    return $self->surviving_spock_crash(sub { $n->psql("CALL spock.remove_node(\$1, \$2)", $n->name, $n->dsn) });
}

# CALL runs a call of the product -> (rc, stdout, stderr). When it failed
# and one of Spock's own background workers was killed by a signal on some
# node meanwhile (a crash of Spock's, not the product's: docs/testing.md,
# "Spock's own crashes"), that node went down, as the test servers do not
# restart after a crash; a production server would restart at once. The
# product's promise for a node that restarts under it is that calling
# again completes the job: the node is started, the crash reported, and
# the call made once more (after BEFORE_AGAIN, when given: what the node's
# restart must have let recover first). Any other failure is returned as it is.
sub surviving_spock_crash {
    my ($self, $call, %o) = @_;
    my @nodes = $self->{c}->nodes;
    my %mark = map { ($_->name => $_->log_mark) } @nodes;
    my @r = $call->();
    return @r if $r[0] == 0;
    my %crash = map { my ($line) = $_->spock_crashes_since($mark{ $_->name }); $line ? ($_->name => [ $_, $line ]) : () } @nodes;
    return @r unless %crash;
    $self->{spock_crashed}{$_} = 1 for keys %crash;
    for my $name (sort keys %crash) {
        my ($n, $line) = @{ $crash{$name} };
        diag("Spock crashed on $name ($line); " . ($n->start_if_down ? "started it again" : "it restarted")
            . ", calling again (the failed call said: "
            . (error_lines($r[2]) || (split /\n/, $r[2] // '')[0] // '') . ")");
    }
    $o{before_again}->() if $o{before_again};
    return $call->();
}

# The nodes where surviving_spock_crash saw Spock crash.
sub spock_crashed { sort keys %{ $_[0]{spock_crashed} // {} } }

# Held by a session of its own on NODE (default the new node): while it is,
# a run with zodan.pause_at_step waits at that step. Returns once granted.
sub hold_pause_lock {
    my ($self, $node) = @_;
    $node //= $self->new_node;
    my $h = $node->background("SELECT pg_advisory_lock(hashtext('zodan.pause'));\nSELECT pg_sleep(600);",
        app => 'zodan_pause_holder');
    $node->poll("SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
                  WHERE l.locktype = 'advisory' AND l.granted AND a.application_name = 'zodan_pause_holder'",
        '1', 30, "the pause lock is held on " . $node->name)
      or die "[harness] could not hold the pause lock on " . $node->name . "\n";
    $self->{holder}{ $node->name } = $h;
    return $h;
}

sub release_pause_lock {
    my ($self, $node) = @_;
    $node //= $self->new_node;
    $node->sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'zodan_pause_holder'");
    my $h = delete $self->{holder}{ $node->name };
    $h->finish(30) if $h;
}

# The run on NODE (default the new node) has reached STEP and is in it (a
# pause, or a wait that cannot end); fails the test when CALLER (a
# background session) ends first or TIMEOUT seconds pass.
sub wait_at_step {
    my ($self, $step, $caller, %o) = @_;
    my $n = $o{node} // $self->new_node;
    my $sql = "SELECT count(*) FROM spock.zodan_add_node_status
                WHERE run_state = 'running' AND step_name = '$step' AND state = 'running'";
    my $deadline = time + ($o{timeout} // 30);
    while (time < $deadline) {
        return 1 if $n->sql($sql) eq '1';
        last unless $caller->running;
        sleep 0.1;
    }
    return 1 if $n->sql($sql) eq '1';
    fail("the add on " . $n->name . " waits at $step ("
        . ($caller->running ? "not there within " . ($o{timeout} // 30) . " s" : "the call ended: " . (error_lines($caller->stderr) || $caller->stderr)) . ")");
    return 0;
}

# Runs the add with a fault; returns (1, messages) once the run has stopped
# at the point, (0, messages) when it did not.
#   error STEP  zodan.fail_at_step = 'STEP:after': the step's work is done but
#               not recorded as done
#   kill STEP   paused at STEP, the caller's backend terminated there (no
#               unwinding: the journal keeps the step 'running')
sub inject {
    my ($self, $kind, $step) = @_;
    my $n = $self->new_node;
    if ($kind eq 'error') {
        my ($rc, $out, $err) = $self->add("zodan.fail_at_step = '$step:after'");
        return ($rc != 0 && $err =~ /injected failure at "\Q$step\E:after"/, $err);
    }
    die "no fault kind $kind\n" unless $kind eq 'kill';
    $self->hold_pause_lock;
    my $caller = $n->background($self->add_sql("zodan.pause_at_step = '$step'"), app => 'zodan_fault');
    my $paused = $self->wait_at_step($step, $caller);
    $n->sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'zodan_fault'");
    my ($rc, $out, $err) = $caller->finish(60);
    $self->release_pause_lock;
    my $left_running = $n->sql("SELECT count(*) FROM spock.zodan_add_node_status
                                 WHERE step_name = '$step' AND state = 'running'");
    return ($paused && $rc != 0 && $left_running eq '1', $err);
}

# Everything that ties any member to the new node, and anything on the new
# node itself (Spock objects, copied tables); 0 when clean. Named per node.
sub leftovers {
    my ($self) = @_;
    my $n = $self->new_node;
    my ($name, $port) = ($n->name, $n->port);
    my $total = 0;
    for my $m (map { $self->{c}->node($_) } $self->members) {
        my $k = $m->sql("SELECT (SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE '%$name%')
                 + (SELECT count(*) FROM pg_replication_origin WHERE roname LIKE '%$name%')
                 + (SELECT count(*) FROM spock.subscription WHERE sub_name LIKE '%$name%')
                 + (SELECT count(*) FROM spock.node WHERE node_name = '$name')
                 + (SELECT count(*) FROM spock.node_interface WHERE if_dsn LIKE '%port=$port %')");
        diag("leftovers on " . $m->name . ": $k") if $k;
        $total += $k;
    }
    return $total unless $n->running;
    my $k = $n->sql("SELECT (SELECT count(*) FROM pg_replication_slots)
             + (SELECT count(*) FROM pg_replication_origin)
             + (SELECT count(*) FROM spock.subscription)
             + (SELECT count(*) FROM spock.node)
             + (SELECT count(*) FROM spock.node_interface)
             + (SELECT count(*) FROM pg_tables WHERE schemaname = 'public')");
    diag("leftovers on $name: $k") if $k;
    return $total + $k;
}

# The tables (of @TABLES) whose rows differ on any listed node from the first.
sub tables_differing {
    my ($self, @nodes) = @_;
    my ($first, @rest) = @nodes;
    my @bad;
    for my $t (@TABLES) {
        my $ref = $self->{c}->digest($first, $t);
        push @bad, map { "$t on n$_" } grep { $self->{c}->digest($_, $t) ne $ref } @rest;
    }
    return @bad;
}

# Every subscription on every listed node replicating (each poll fails the
# test on its timeout).
sub all_replicating {
    my ($self, @nodes) = @_;
    my $all = 1;
    for my $i (@nodes) {
        $self->{c}->node($i)->poll("SELECT count(*) FROM spock.sub_show_status() WHERE status <> 'replicating'",
            '0', 30, "every subscription on n$i replicating") or $all = 0;
    }
    return $all;
}

# converge() as an assertion: false (with the reason) instead of dying.
sub converges {
    my ($self, @nodes) = @_;
    my $ok = eval { $self->{c}->converge(@nodes); 1 };
    return ok($ok, "n" . join(', n', @nodes) . " converge") || diag($@);
}

# Back to n1..n3 meshed and the new node bare, whatever a scenario left.
sub reset_new_node {
    my ($self) = @_;
    my $n = $self->new_node;
    $n->psql("CALL spock.remove_node(\$1, \$2)", $n->name, $n->dsn, { quiet => 1 });
    $n->psql("DROP TABLE IF EXISTS " . join(', ', @TABLES) . " CASCADE", { quiet => 1 });
}

sub error_lines { join ' | ', grep { /ERROR|FATAL/ } split /\n/, $_[0] // '' }

# scenario(KIND, STEP, WAY, load => 1): one injected stop (KIND error or
# kill, at STEP) and one way out (WAY resume or rollback), as one subtest;
# under writes on every member when load is set.
sub scenario {
    my ($self, $kind, $step, $way, %o) = @_;
    my $label = "$kind at $step, then $way" . ($o{load} ? '' : ' (quiet)');
    subtest $label => sub {
        my $ok = eval { $self->scenario_body($kind, $step, $way, %o); 1 };
        return if $ok;
        fail("the scenario ran to its end") or diag($@);
        $self->clean_up_after_failure;
    };
}

# After a scenario that died midway: no writer, caller or pause lock left.
sub clean_up_after_failure {
    my ($self) = @_;
    my $load = delete $self->{load};
    eval { $load->stop } if $load && !$load->{stopped};
    my $n = $self->new_node;
    eval { $n->sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'zodan_fault'") };
    eval { $self->release_pause_lock } if $self->{holder}{ $n->name };
    eval { $self->reset_new_node };
}

sub scenario_body {
    my ($self, $kind, $step, $way, %o) = @_;
    my $c = $self->{c};
    my @members = $self->members;
    my $load = $self->{load} = $o{load} ? Zodan::Load->start($c, nodes => \@members, tps => 50) : undef;
    my ($stopped, $msgs) = $self->inject($kind, $step);
    if (!ok($stopped, "the run stopped at the injected point")) {
        diag(error_lines($msgs));
        $load->stop if $load;
        $self->reset_new_node;
        return;
    }
    my ($rc, $out, $err) = $way eq 'resume' ? $self->add : $self->remove;
    my $no = $self->step_no($step);
    if ($way eq 'resume') {
        is($rc, 0, "add_node again completes") or diag(error_lines($err));
        if ($no <= $self->step_no('check_preconditions')) {
            # Stopped in the checks, the run changed nothing: a new one starts.
            unlike($err, qr/resuming the unfinished run/, "the run stopped in its checks is started afresh");
        } else {
            like($err, qr/resuming the unfinished run at step $step\b/, "it resumed the run at step $step");
        }
    } else {
        is($rc, 0, "remove_node rolls it back") or diag(error_lines($err));
    }
    if ($load) {
        # Writes go on a moment after the way out: through n4's new paths
        # after a resume, among n1..n3 alone after a rollback.
        sleep 0.3;
        $load->stop;
        is_deeply([ $load->errors ], [], "the writers ran without error");
    }
    my @nodes = $way eq 'resume' ? (@members, $self->{new}) : @members;
    is($self->leftovers, 0, "nothing of n$self->{new} left on any node") if $way eq 'rollback';
    $self->converges(@nodes);
    ok($self->all_replicating(@nodes), "every subscription replicating on n" . join(', n', @nodes));
    is_deeply([ $self->tables_differing(@nodes) ], [], "n" . join(', n', @nodes) . " hold identical tables");
    $load->check(\@nodes) if $load;
    if ($way eq 'resume') {
        # For the next scenario, and a check of its own: a joined node
        # leaves nothing behind either (its copied tables are ours to drop).
        my ($rrc, undef, $rerr) = $self->remove;
        $self->new_node->sql("DROP TABLE IF EXISTS " . join(', ', @TABLES) . " CASCADE");
        ok($rrc == 0 && $self->leftovers == 0, "remove_node then takes the joined n$self->{new} out, leaving nothing")
          or diag(error_lines($rerr));
    }
    is($c->settled_zodan_sessions(3), 0, "no zodan session left on any node");
    $self->reset_new_node if $self->leftovers;
}

# suite(KIND, ways => [..], load => 1): a scenario for every step and way.
sub suite {
    my ($self, $kind, %o) = @_;
    for my $step ($self->steps) {
        $self->scenario($kind, $step, $_, %o) for @{ $o{ways} // [ 'resume', 'rollback' ] };
    }
}

1;
