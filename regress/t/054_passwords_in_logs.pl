# No password of the run in any server's log, with every node logging all
# it can: log_statement = all, log_min_error_statement = debug5,
# log_lock_waits = on, and the calling sessions at log_min_messages =
# debug5. DSNs in key=value and URI form, given to calls that succeed, fail,
# are refused before zodan runs (no EXECUTE, a bad boolean, a mistyped
# procedure name) and wait on a lock. The statements are still logged,
# masked (docs/security.md, "What is masked").
# matrix: full suite only
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use Zodan::Mesh;
use Test::More;
use Time::HiRes qw(time sleep);

my $c = Zodan::Mesh->new(nodes => 4, conf => <<'EOF');
log_statement = all
log_min_error_statement = debug5
log_lock_waits = on
deadlock_timeout = '100ms'
EOF
$c->inventory(3);
my ($n1, $n4) = ($c->node(1), $c->node(4));
$_->sql("CREATE EXTENSION zodan") for $n1, $n4;
my $operator_pw = "Zodan-pw-operator-" . $c->salt;
my $wrong_pw    = "Zodan-pw-wrong-" . $c->salt;
$n4->sql("CREATE ROLE operator LOGIN PASSWORD \$1; GRANT USAGE ON SCHEMA spock TO operator", $operator_pw);
# Every level of the calling sessions reaches the log (DEBUG5 to PANIC),
# each followed by its STATEMENT.
$n4->sql("ALTER ROLE operator SET log_min_messages = debug5");
my %debug5 = (env => { PGOPTIONS => '-c log_min_messages=debug5' });

# A node's DSN as a URI (postgresql://user:password@host:port/db).
sub uri {
    my ($n, %o) = @_;
    return sprintf('postgresql://pgedge:%s@127.0.0.1:%d/%s', $o{password} // $n->password, $n->port, $n->db);
}
my %mark = map { $_->name => $_->log_mark } $c->nodes;

# Refused before zodan runs: PostgreSQL's error, the statement after it.
# (Tersely: psql would otherwise quote the statement around the error's
# position in its own output.)
my $terse = "\\set VERBOSITY terse\n";
my ($rc, $out, $err) = $n4->psql("CALL spock.add_node('n1', \$1, 'n4', \$2)", uri($n1), $n4->dsn,
    { user => 'operator', password => $operator_pw });
like($err, qr/permission denied for procedure add_node/, "a role without EXECUTE is refused");
($rc, $out, $err) = $n4->psql($terse . "CALL spock.remove_node('n4', \$1, 'maybe')", uri($n4), \%debug5);
like($err, qr/invalid input syntax for type boolean: "maybe"/, "a bad boolean is refused");
($rc, $out, $err) = $n4->psql($terse . "CALL spock.add_nod('n1', \$1, 'n4', \$2)", uri($n1), $n4->dsn, \%debug5);
like($err, qr/procedure spock\.add_nod\(unknown, unknown, unknown, unknown\) does not exist/,
    "a mistyped procedure name is refused");

# Failed calls: a wrong password, in a URI and in key=value form.
($rc, $out, $err) = $n4->psql("CALL spock.health_check('n1', \$1)", uri($n1, password => $wrong_pw), \%debug5);
like($err, qr/authentication failed for user "pgedge"/, "a call with a wrong password in a URI fails");
($rc, $out, $err) = $n4->psql("CALL spock.health_check('n1', \$1)", $n1->dsn(password => $wrong_pw), \%debug5);
like($err, qr/authentication failed for user "pgedge"/, "and in key=value form");

# A successful add: the source's DSN a URI, the new node's key=value.
($rc, $out, $err) = $n4->psql("CALL spock.add_node('n1', \$1, 'n4', \$2)", uri($n1), $n4->dsn, \%debug5);
is($rc, 0, "add_node with a URI and a key=value DSN succeeds") or diag($err);

# A call that fails after its NOTICEs: n4 is a member now.
($rc, $out, $err) = $n4->psql("CALL spock.health_check('n1', \$1, 'n4', \$2, 'pre')", uri($n1), $n4->dsn, \%debug5);
like($err, qr/health_check pre: \d+ of \d+ checks failed/, "health_check 'pre' of a member fails, after NOTICEs");

# A call that waits on a lock (log_lock_waits): remove_node on n1 reads
# Spock's catalog there while another session holds it.
my $holder = $n1->background("BEGIN;\nLOCK TABLE spock.local_node, spock.node IN ACCESS EXCLUSIVE MODE;\n"
      . "SELECT pg_sleep(2);\nCOMMIT;", app => 'zodan_lock_holder');
$n1->poll("SELECT count(*) > 0 FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
      . "WHERE a.application_name = 'zodan_lock_holder' AND l.mode = 'AccessExclusiveLock' AND l.granted",
    't', 30, "the lock holder holds spock.local_node");
($rc, $out, $err) = $n1->psql("CALL spock.remove_node('n4', \$1)", uri($n4));
is($rc, 0, "remove_node, after waiting on the lock, succeeds") or diag($err);
$holder->finish(30);

# Every password of the run, in every line of every node's log since the
# start of the calls (Spock's workers and the harness's sessions included).
my @passwords = ((map { $_->password } $c->nodes), $operator_pw, $wrong_pw);
my %log = map { $_->name => $_->log_since($mark{ $_->name }) } $c->nodes;
my @hits;
for my $name (sort keys %log) {
    for my $line (split /\n/, $log{$name}) {
        for my $p (@passwords) {
            next if index($line, $p) < 0;
            (my $shown = $line) =~ s/\Q$p\E/<password>/g;
            push @hits, "$name: $shown";
        }
    }
}
ok(!@hits, "no password of the run in any node's log") or diag(join "\n", @hits[0 .. ($#hits < 9 ? $#hits : 9)]);

# The statements are there, masked: so the search above read real entries.
# (After an ERROR, Spock's own log filter overwrites what follows the word
# "password" in the statement with X, masked or not.)
my $n1_uri = qr/'postgresql:\/\/pgedge:\*{8}\@127\.0\.0\.1:\d+\/inventory'/;
my $n4_kv  = qr/'host=127\.0\.0\.1 port=\d+ dbname=inventory user=pgedge password=\*{8}'/;
my $n4_kv_after_error = qr/'host=127\.0\.0\.1 port=\d+ dbname=inventory user=pgedge password(?:=\*{8}'\)|X+)$/m;
like($log{n4}, qr/ERROR:  permission denied for procedure add_node\n[^\n]*STATEMENT:  CALL spock\.add_node\('n1', $n1_uri, 'n4', $n4_kv_after_error/,
    "the refused call's statement is logged after its error, masked");
like($log{n4}, qr/ERROR:  invalid input syntax for type boolean: "maybe"[^\n]*\n[^\n]*STATEMENT:  CALL spock\.remove_node\('n4', 'postgresql:\/\/pgedge:\*{8}\@/,
    "so is the one with a bad boolean");
like($log{n4}, qr/STATEMENT:  CALL spock\.add_nod\('n1', $n1_uri, 'n4', $n4_kv_after_error/,
    "and the mistyped one");
like($log{n4}, qr/DEBUG:  [^\n]*\n[^\n]*STATEMENT:  CALL spock\.add_nod\('n1', $n1_uri, 'n4', $n4_kv\)/,
    "also after DEBUG entries, logged before the statement is even parsed");
like($log{n4}, qr/LOG:  statement: CALL spock\.add_node\('n1', $n1_uri, 'n4', $n4_kv\)/,
    "log_statement writes the successful call masked");
like($log{n4}, qr/NOTICE:  check FAILED: [^\n]*\n[^\n]*STATEMENT:  CALL spock\.health_check\('n1', $n1_uri, 'n4', $n4_kv, 'pre'\)/,
    "a NOTICE of a call is followed by its statement, masked");
like($log{n1}, qr/LOG:  process \d+ still waiting for AccessShareLock [^\n]*\n(?:[^\n]*(?:DETAIL|QUERY|CONTEXT):  [^\n]*\n)*[^\n]*STATEMENT:  CALL spock\.remove_node\('n4', 'postgresql:\/\/pgedge:\*{8}\@127\.0\.0\.1:\d+\/inventory'\)/,
    "log_lock_waits fired for the waiting remove_node, its statement masked");
$c->done;
