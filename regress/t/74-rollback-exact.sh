#!/usr/bin/env bash
# A rollback drops exactly what the copy brought. n4 holds a view, a
# sequence, a function and a type of its own (allowed: only tables are
# refused); n1 has a function and a type the copy brings along. The add stops
# after the copy, remove_node rolls it back: n4's own objects stay, the
# copied ones are gone.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../inventory.sh"
ensure_zodan
cluster_start 4
inventory_cluster 3
q 1 "CREATE TYPE public.item_state AS ENUM ('new', 'sold');
     CREATE FUNCTION public.item_label(i int) RETURNS text LANGUAGE sql AS \$\$ SELECT 'item ' || i \$\$;
     CREATE DOMAIN public.qty AS int CHECK (VALUE >= 0);
     CREATE SCHEMA reports; CREATE VIEW reports.stock AS SELECT id, qty FROM public.items" >/dev/null
q 4 "CREATE EXTENSION zodan;
     CREATE SEQUENCE public.my_seq;
     CREATE VIEW public.my_view AS SELECT 1 AS one;
     CREATE FUNCTION public.my_fn() RETURNS int LANGUAGE sql AS \$\$ SELECT 4 \$\$;
     CREATE TYPE public.my_type AS ENUM ('a', 'b');
     CREATE SCHEMA mine; CREATE TABLE mine.notes (id int)" >/dev/null 2>&1
# (mine.notes is a table, which add_node refuses: drop it, keep the schema)
q 4 "DROP TABLE mine.notes" >/dev/null

n4_objects() {
    q 4 "SELECT string_agg(x, ' ' ORDER BY x) FROM (
           SELECT 'rel:' || n.nspname || '.' || c.relname AS x FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname IN ('public', 'reports', 'mine') AND c.relkind IN ('r', 'v', 'S', 'm', 'f')
           UNION ALL SELECT 'fn:' || p.proname FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace
           UNION ALL SELECT 'type:' || t.typname FROM pg_type t WHERE t.typnamespace = 'public'::regnamespace
             AND t.typtype IN ('e', 'd')
           UNION ALL SELECT 'schema:' || nspname FROM pg_namespace WHERE nspname IN ('reports', 'mine')) o"
}
before=$(n4_objects)
out=$(psql_n 4 -c "SET zodan.fail_at_step = 'advance_slots'" -c "CALL spock.add_node('n1', '$N1_DSN', 'n4', '$N4_DSN')" 2>&1)
check_cmd "the add stops after the copy: $(grep ERROR <<<"$out")" grep -q "injected failure" <<<"$out"
copied=$(n4_objects)
check_cmd "the copy brought n1's function, type, domain, schema and tables ($copied)" \
    bash -c "grep -q 'fn:item_label' <<<'$copied' && grep -q 'type:item_state' <<<'$copied' && grep -q 'type:qty' <<<'$copied' && grep -q 'schema:reports' <<<'$copied' && grep -q 'rel:public.items' <<<'$copied'"
out=$(psql_n 4 -c "CALL spock.remove_node('n4', '$N4_DSN')" 2>&1)
check_eq "remove_node rolls the add back" 0 $? || echo "$out" | sed 's/^/# /'
check_eq "n4 holds exactly what it held before the add" "$before" "$(n4_objects)"
report_counts
