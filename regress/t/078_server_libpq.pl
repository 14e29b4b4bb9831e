# The servers the tests run on load their own libpq: spock.so and zodan.so
# (both preloaded) resolve libpq through their RUNPATH, and a RUNPATH naming
# a folder that no longer exists makes the backend fall back to the
# system's libpq, of another major (then a module calling a newer libpq
# function, dblink's PQcancelStart on PostgreSQL 18, fails to load).
# matrix: every combination
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use Zodan::Mesh;
use Test::More;

my $c = Zodan::Mesh->new(nodes => 1);
my $n1 = $c->node(1);
my $libdir = `'${\ Zodan::Mesh::pg_config()}' --libdir`;
chomp $libdir;
my $maps = $n1->sql("SELECT pg_read_file('/proc/' || pg_backend_pid() || '/maps')");
my %loaded = map { (split ' ', $_)[-1] => 1 } grep { m{/(spock|zodan)\.so|libpq\.so} } split /\n/, $maps;
my @libpq = grep { /libpq\.so/ } sort keys %loaded;
ok((grep { m{/spock\.so$} } keys %loaded), "the backend has spock.so loaded") or diag(join "\n", sort keys %loaded);
ok((grep { m{/zodan\.so$} } keys %loaded), "the backend has zodan.so loaded");
ok(@libpq > 0, "the backend has a libpq loaded") or diag(join "\n", sort keys %loaded);
# The same file as the server's own (a test's private copy of the
# installation still loads the libpq of the build it was copied from).
my ($own) = glob("$libdir/libpq.so.5.*");
my $digest = sub { my ($f) = @_; my $d = `md5sum '$f'`; return (split ' ', $d)[0] // ''; };
is_deeply([ grep { !-f $_ || $digest->($_) ne $digest->($own) } @libpq ], [],
    "every libpq it loaded is the server's own (" . ($own // 'none') . ")")
  or diag("loaded: @libpq");
my ($rc, $out, $err) = $n1->psql("CREATE EXTENSION dblink; SELECT dblink_connect('x', \$1); SELECT dblink_disconnect('x');",
    $n1->dsn, { quiet => 1 });
is($rc, 0, "dblink loads and connects") or diag($err);
$c->done;
