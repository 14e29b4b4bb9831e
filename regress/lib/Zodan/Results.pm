# The figures files of the benchmarks: figures/<name>.tsv in the checkout,
# committed with the code, one row per measurement appended by each run, so
# that a reader diffs a run against the ones before it. The columns every
# file starts with: the run's date (UTC), the zodan commit, the machine and
# the server; then the file's own (docs/benchmark.md).
#
#   use Zodan::Results;
#   BEGIN { Zodan::Results::claim(add_node => qw(nodes load tool ...)) }   # before Zodan::Mesh
#   use Zodan::Mesh;
#   Zodan::Results::row(add_node => { nodes => 3, load => 'quiet', ... });
#
# RESULTS_DIR picks another folder; RESULTS_DIR=none records nothing.
#
# Run as root, a benchmark goes on as the OS user postgres (Zodan::Env),
# who cannot write into a checkout root owns. So claim() opens each file
# before that switch, and the open descriptor crosses it (its number in
# the environment, ZODAN_RESULTS_FD_<name>, which Zodan::Env passes on).
package Zodan::Results;

use strict;
use warnings;
use Cwd ();
use Fcntl qw(F_GETFD F_SETFD FD_CLOEXEC);
use File::Basename qw(dirname);
use POSIX ();

our @COMMON = qw(date commit machine server);
my (%fh, %columns);
my $root = Cwd::abs_path(dirname(__FILE__) . '/../../..');
my $date = POSIX::strftime('%Y-%m-%d %H:%M', gmtime);

sub dir { return $ENV{RESULTS_DIR} // "$root/figures"; }
sub recording { return dir() ne 'none'; }
sub file { my ($name) = @_; return dir() . "/$name.tsv"; }

sub claim {
    my ($name, @columns) = @_;
    $columns{$name} = [ @COMMON, @columns ];
    return unless recording();
    my $var = "ZODAN_RESULTS_FD_$name";
    my $fh;
    if (defined $ENV{$var}) {
        open($fh, '>>&=', $ENV{$var}) or die "cannot write to the results file $name (descriptor $ENV{$var}): $!\n";
    } else {
        my $path = file($name);
        open($fh, '>>', $path) or die "cannot append to $path: $!\n";
        my $flags = fcntl($fh, F_GETFD, 0) or die "fcntl: $!\n";
        fcntl($fh, F_SETFD, $flags & ~FD_CLOEXEC) or die "fcntl: $!\n";
        $ENV{$var} = fileno($fh);
        print $fh join("\t", @{ $columns{$name} }), "\n" if -z $path;
    }
    $fh->autoflush(1);
    $fh{$name} = $fh;
}

# One row of NAME's file: the common columns filled in, the others from
# FIELDS ('-' where missing).
sub row {
    my ($name, $fields) = @_;
    my $cols = $columns{$name} or die "no results file $name claimed\n";
    my %f = (date => $date, commit => commit(), machine => machine(), server => server(), %$fields);
    my $line = join("\t", map { my $v = $f{$_} // '-'; $v = '-' if $v eq ''; $v =~ s/[\t\n]+/ /g; $v } @$cols);
    print { $fh{$name} } "$line\n" if $fh{$name};
    return $line;
}

my ($commit, $machine);
sub commit {
    return $commit if defined $commit;
    $commit = `git -c safe.directory='*' -C '$root' rev-parse --short HEAD 2>/dev/null`;
    chomp $commit;
    my $dirty = `git -c safe.directory='*' -C '$root' status --porcelain -- src sql 2>/dev/null`;
    $commit ||= 'unknown';
    $commit .= '+modified' if $dirty;
    return $commit;
}

sub machine {
    return $machine if defined $machine;
    my ($cpu) = map { /^model name\s*:\s*(.*)/ ? $1 : () } split /\n/, `cat /proc/cpuinfo 2>/dev/null`;
    my $cpus = `nproc`;
    chomp $cpus;
    $machine = "$cpus CPUs" . ($cpu ? ", $cpu" : '');
    $machine =~ s/\s+/ /g;
    return $machine;
}

# The server of PG_CONFIG (by default the harness's, once Zodan::Env is
# set up): "PostgreSQL 15.18, Spock 6.0.0-devel", and the SPOCK build's
# name where it is not a version.
sub server {
    my ($pg_config) = @_;
    $pg_config //= $Zodan::Env::pg_config or return '-';
    my ($pg) = `'$pg_config' --version` =~ /PostgreSQL (\S+)/;
    my $share = `'$pg_config' --sharedir`;
    chomp $share;
    my ($spock) = map { /^default_version\s*=\s*'([^']*)'/ ? $1 : () }
      split /\n/, `cat '$share/extension/spock.control' 2>/dev/null`;
    my $build = $ENV{SPOCK} && $ENV{SPOCK} !~ /^[\d.]+$/ ? " ($ENV{SPOCK})" : '';
    return sprintf("PostgreSQL %s, Spock %s%s", $pg // '?', $spock // '?', $build);
}

# For the shell scripts that write figures files (regress/test-all.sh,
# regress/bench-connection.sh): the first three columns, tab-separated.
sub run_columns { return join("\t", $date, commit(), machine()); }

# The header line of a benchmark's output.
sub header {
    my $load = (split ' ', `cat /proc/loadavg`)[0];
    return sprintf("# %s (%s)\n# machine: %s, load average %s; zodan commit %s\n# figures: %s\n", server(),
        $Zodan::Env::pg_config // '-', machine(), $load, commit(),
        recording() ? join(', ', map { file($_) } sort keys %fh) : 'not recorded (RESULTS_DIR=none)');
}

1;
