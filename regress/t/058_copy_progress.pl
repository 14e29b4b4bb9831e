# A copy longer than zodan.progress_interval reports its progress as
# NOTICEs (tables and bytes done of the total, rate, time left) and in the
# view spock.zodan_copy_progress, which another session reads while the add
# runs. (A short copy says nothing: the pg_regress suites show that.) Then
# the post-join check compares the new node with the source table by table
# and names a table made to differ on purpose.
# matrix: full suite only
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use Zodan::Mesh;
use Test::More;
use Time::HiRes qw(time sleep);

my $c = Zodan::Mesh->new(nodes => 2);
$c->inventory(1);
my ($n1, $n2) = ($c->node(1), $c->node(2));
$n1->sql(<<'SQL');
CREATE TABLE public.big (id bigint PRIMARY KEY, payload text);
SELECT spock.repset_add_table('default', 'public.big');
INSERT INTO public.big SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 800000) g;
-- Types the comparison hashes as text (an enum hashes by a node-local OID,
-- numeric and interval by a looser equality) and by their own hash.
CREATE TYPE public.mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE public.typed (id int PRIMARY KEY, m public.mood, n numeric, i interval, t timestamptz, a int[], j jsonb, v varchar(20));
SELECT spock.repset_add_table('default', 'public.typed');
INSERT INTO public.typed SELECT g, 'ok', 1.5, '1 day', '2026-01-01', ARRAY[g], jsonb_build_object('g', g), 'v' || g
  FROM generate_series(1, 100) g;
-- A reg* type's binary form is an OID of the source's, not a name.
CREATE TABLE public.refs (id int PRIMARY KEY, r regclass, rs regtype[]);
SELECT spock.repset_add_table('default', 'public.refs');
INSERT INTO public.refs VALUES (1, 'public.typed', ARRAY['public.mood']::regtype[]), (2, 'public.big', NULL);
SQL
$n2->sql("CREATE EXTENSION zodan");
my $size = $n1->sql("SELECT pg_size_pretty(pg_relation_size('public.big'))");
my $tables = $n1->sql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'");    # all replicated

my $caller = $n2->background("SET zodan.progress_interval = '250ms';\n"
      . Zodan::Node::bind_params("CALL spock.add_node('n1', \$1, 'n2', \$2)", $n1->dsn, $n2->dsn));
# Another session samples the view while the add runs (a sample, not a
# wait: the loop ends with the call).
my $seen = '';
my $deadline = time + 300;
while ($caller->running && time < $deadline) {
    my ($rc, $row) = $n2->psql("SELECT tables_done || '/' || tables_total || ' ' || bytes_done || ' of ' || bytes_total
                                FROM spock.zodan_copy_progress WHERE copy_state = 'running'", { quiet => 1 });
    $seen = $row if $rc == 0 && $row ne '';
    sleep 0.1;
}
ok(!$caller->running, "the add ends within 300 s");
my ($rc, $out, $err) = $caller->finish(10);
is($rc, 0, "the add succeeds") or diag($err);
my @progress = grep { /copying from/ } split /\n/, $err;
note($_) for @progress;
my $lines = grep { /NOTICE:  copying from n1: / } @progress;
cmp_ok($lines, '>=', 2, "the copy of $size reported its progress ($lines lines)");
my $B = qr/[0-9.]+ [kMG]?B(?:ytes)?/;
ok((grep { /NOTICE:  copying from n1: \d+\/$tables tables, $B streamed \(\d+% of $B of tables\), $B\/s, about \d+ s left/ } @progress),
    "a line says tables, bytes, percent, rate and time left");
like($progress[-1] // '', qr/copying from n1: $tables\/$tables tables, .* \(100% of/,
    "the last line says all $tables tables, 100%");
isnt($seen, '', "another session saw the copy in spock.zodan_copy_progress while it ran ($seen)");
is($n2->sql("SELECT tables_done || '/' || tables_total || ' ' || copy_state FROM spock.zodan_copy_progress"),
    "$tables/$tables done", "afterwards the view shows the finished copy");
is($c->digest(2, 'big'), $c->digest(1, 'big'), "and n2 holds every row");
# Rows go in binary but for public.typed, whose enum has no built-in binary
# form, and public.refs, whose reg* types' binary form is a node-local OID.
my ($jobs, $binary) = split / /, $n2->sql("SELECT (output::jsonb ->> 'jobs') || ' ' || (output::jsonb ->> 'binary_jobs')
                                             FROM spock.zodan_add_node_status WHERE step_name = 'copy_source'");
is($binary, $jobs - 2, "every job but public.typed's and public.refs's copied its rows in binary ($binary of $jobs)");
is($c->digest(2, 'typed'), $c->digest(1, 'typed'), "and public.typed, copied as text, arrived whole");
is($n2->sql("SELECT string_agg(r::text || ' ' || coalesce(rs::text, '-'), ', ' ORDER BY id) FROM public.refs"),
    'typed {mood}, big -', "and public.refs names n2's own relations and types");

($rc, $out, $err) = $n2->psql("CALL spock.health_check('n1', \$1, 'n2', \$2, 'post')", $n1->dsn, $n2->dsn);
like("$out\n$err", qr/check passed: tables match the source/, "health_check post: the tables match the source");
# Two rows gone on n2 alone (repair mode: not replicated), one table changed.
# In public.typed, values equal to the source's but printed otherwise.
$n2->sql("BEGIN; SELECT spock.repair_mode(true); DELETE FROM public.big WHERE id <= 2; "
      . "UPDATE public.typed SET n = 1.50 WHERE id = 7; UPDATE public.typed SET i = '24 hours' WHERE id = 8; "
      . "UPDATE public.typed SET m = 'happy' WHERE id = 9; SELECT spock.repair_mode(false); COMMIT");
($rc, $out, $err) = $n2->psql("SET zodan.sync_timeout = '2s';\nCALL spock.health_check('n1', \$1, 'n2', \$2, 'post')",
    $n1->dsn, $n2->dsn);
like("$out\n$err", qr/check FAILED: tables match the source: .*public\.big: 2 row\(s\) differ \(key 1 missing on n2; key 2 missing on n2\)/,
    "health_check post names the table and the keys that differ");
like("$out\n$err", qr/public\.typed: 3 row\(s\) differ \(key 7 differs; key 8 differs; key 9 differs\)/,
    "and the rows of public.typed whose numeric, interval and enum print otherwise");
unlike("$out\n$err", qr/public\.(?!big\b|typed\b)\w+: \d+ row/, "and no other table");
$c->done;
