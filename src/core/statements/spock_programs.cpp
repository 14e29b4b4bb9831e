// The product's three longest statements, written as the SQL they are:
// the copy's job list (copy_data.cpp), the join window's tables
// (join_window.cpp) and the comparison's statements (verify_data.cpp).
// Each runs on the source and writes further SQL with format(), quoting
// names there (%I, %L, ::regclass); values stay parameters.
#include "core/statements/spock_sql.hpp"

#include "core/text/text_array.hpp"

namespace zodan::sql {

namespace {

// The tables the copy takes (`own`: relid, filtered, all_columns, sets,
// cols), outside the schemas in $1::text[] and spock: those of the local
// node's sets, a table whose ancestor is in a set too coming with the
// ancestor.
const char *const kCopiedTables = R"sql(
member AS (
  SELECT t.set_reloid::oid AS relid, t.set_att_list, t.set_row_filter IS NOT NULL AS filtered, rs.set_name
  FROM spock.replication_set_table t JOIN spock.replication_set rs ON rs.set_id = t.set_id
  WHERE rs.set_nodeid = (SELECT node_id FROM spock.local_node)),
rel AS (
  SELECT m.relid, bool_or(m.filtered) AS filtered, bool_or(m.set_att_list IS NULL) AS all_columns,
    array_agg(DISTINCT m.set_name::text) AS sets,
    (SELECT array_agg(DISTINCT a) FROM member m2, unnest(m2.set_att_list) a WHERE m2.relid = m.relid) AS cols
  FROM member m GROUP BY m.relid),
own AS (
  SELECT r.* FROM rel r JOIN pg_catalog.pg_class c ON c.oid = r.relid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname <> 'spock' AND n.nspname <> ALL ($1::text[])
  AND NOT (c.relispartition AND EXISTS (SELECT 1 FROM pg_catalog.pg_partition_ancestors(r.relid) x
    WHERE x.relid <> r.relid AND x.relid IN (SELECT relid FROM rel))))
)sql";

const char *const kCopyJobList = R"sql(
-- What each COPY reads: a plain table, a partitioned table's
-- leaves, or a filtered query over the whole of a filtered one.
part AS (
  SELECT o.relid AS setrel, CASE WHEN c.relkind = 'p' AND NOT o.filtered THEN l.relid ELSE o.relid END AS relid,
    o.filtered, o.all_columns, o.cols, o.sets, c.relkind = 'p' AS partitioned
  FROM own o JOIN pg_catalog.pg_class c ON c.oid = o.relid
  LEFT JOIN LATERAL pg_catalog.pg_partition_tree(o.relid) l ON c.relkind = 'p' AND NOT o.filtered AND l.isleaf
  WHERE c.relkind <> 'p' OR o.filtered OR l.relid IS NOT NULL),
job AS (
  SELECT p.*, c.relkind, pg_catalog.pg_relation_size(p.relid) AS bytes,
    (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY a.attnum)
     FROM pg_catalog.pg_attribute a WHERE a.attrelid = p.setrel AND a.attnum > 0 AND NOT a.attisdropped
     AND a.attgenerated = '' AND (p.all_columns OR a.attname::text = ANY (p.cols))) AS collist,
    -- Binary rows cost both ends less to write and to parse; they are
    -- sent when both servers are of one major version and every column
    -- is of a built-in type with binary I/O (a domain, an enum or an
    -- extension's type goes as text; so do reg* types and their
    -- arrays, whose binary form is a node-local OID, not a name).
    (pg_catalog.current_setting('server_version_num')::int / 10000 = $3::int AND NOT EXISTS (
     SELECT 1 FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
     WHERE a.attrelid = p.setrel AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
     AND (p.all_columns OR a.attname::text = ANY (p.cols))
     AND (t.oid >= 16384 OR t.typsend::oid = 0 OR t.typreceive::oid = 0 OR t.typname ~ '^_?reg'))) AS binary
  FROM part p JOIN pg_catalog.pg_class c ON c.oid = p.relid),
total AS (SELECT coalesce(sum(bytes), 0) AS bytes FROM job),
-- Large plain tables in block ranges, so that streams share them.
piece AS (
  SELECT j.*, g.i, g.n FROM job j, total t, LATERAL (SELECT
    CASE WHEN j.relkind = 'r' AND NOT j.filtered AND j.bytes > 67108864 AND $2::int > 1
      AND j.bytes * $2::int > t.bytes THEN $2::int ELSE 1 END AS n) k,
    LATERAL (SELECT i, k.n FROM generate_series(0, k.n - 1) i) g)
SELECT pg_catalog.format('%s%s', p.relid::regclass, CASE WHEN p.n > 1 THEN pg_catalog.format(' (part %s of %s)', p.i + 1, p.n) ELSE '' END) AS job,
  p.relid::regclass::text AS rel, (p.bytes / p.n)::text AS bytes,
  CASE WHEN p.filtered THEN pg_catalog.format(
      'COPY (SELECT %s FROM spock.table_data_filtered(NULL::%s, %L::regclass, %L::text[])) TO STDOUT',
      p.collist, p.setrel::regclass, p.setrel::regclass::text, p.sets)
    WHEN p.n > 1 THEN pg_catalog.format(
      'COPY (SELECT %s FROM %s WHERE ctid >= ''(%s,0)''::tid%s) TO STDOUT', p.collist, p.relid::regclass,
      p.i * (p.bytes / 8192 / p.n), CASE WHEN p.i < p.n - 1 THEN
        pg_catalog.format(' AND ctid < ''(%s,0)''::tid', (p.i + 1) * (p.bytes / 8192 / p.n)) ELSE '' END)
    ELSE pg_catalog.format('COPY %s (%s) TO STDOUT', p.relid::regclass, p.collist) END
    || CASE WHEN p.binary THEN ' (FORMAT binary)' ELSE '' END AS out_sql,
  pg_catalog.format('COPY %s (%s) FROM STDIN', CASE WHEN p.filtered THEN p.setrel ELSE p.relid END::regclass,
    p.collist) || CASE WHEN p.binary THEN ' (FORMAT binary)' ELSE '' END AS in_sql,
  p.binary::text AS binary
FROM piece p WHERE p.collist IS NOT NULL ORDER BY p.bytes / p.n DESC, 1
)sql";

const char *const kWindowTables = R"sql(
loc AS (
  SELECT o.relid, c.relkind, i.indnkeyatts, i.indkey, i.indclass,
    (SELECT a.attname FROM pg_catalog.pg_attribute a WHERE a.attrelid = o.relid AND a.attnum > 0
     AND NOT a.attisdropped AND a.attgenerated = '' AND a.attidentity <> 'a' ORDER BY a.attnum LIMIT 1) AS setcol
  FROM own o JOIN pg_catalog.pg_class c ON c.oid = o.relid
  JOIN LATERAL (SELECT i.* FROM pg_catalog.pg_index i WHERE i.indrelid = o.relid AND i.indisunique
    AND i.indisvalid AND i.indpred IS NULL AND i.indexprs IS NULL
    ORDER BY CASE c.relreplident WHEN 'i' THEN i.indisreplident WHEN 'd' THEN i.indisprimary ELSE false END DESC,
      i.indisprimary DESC, i.indexrelid LIMIT 1) i ON true),
keycol AS (
  SELECT l.relid, k.p, a.attname, pg_catalog.format_type(a.atttypid, NULL) AS typ,
    pg_catalog.format('OPERATOR(%I.%s)', opn.nspname, op.oprname) AS eq
  FROM loc l CROSS JOIN LATERAL pg_catalog.generate_series(0, l.indnkeyatts - 1) k(p)
  JOIN pg_catalog.pg_attribute a ON a.attrelid = l.relid AND a.attnum = l.indkey[k.p]
  JOIN pg_catalog.pg_opclass oc ON oc.oid = l.indclass[k.p]
  JOIN pg_catalog.pg_amop ao ON ao.amopfamily = oc.opcfamily AND ao.amoplefttype = oc.opcintype
    AND ao.amoprighttype = oc.opcintype AND ao.amopstrategy = 3
    AND ao.amopmethod = (SELECT oid FROM pg_catalog.pg_am WHERE amname = 'btree')
  JOIN pg_catalog.pg_operator op ON op.oid = ao.amopopr
  JOIN pg_catalog.pg_namespace opn ON opn.oid = op.oprnamespace),
tab AS (
  SELECT l.*, (row_number() OVER (ORDER BY l.relid))::int AS t,
    (SELECT pg_catalog.string_agg(pg_catalog.format('x.%I::text', k.attname), ', ' ORDER BY k.p)
     FROM keycol k WHERE k.relid = l.relid) AS keytext,
    (SELECT pg_catalog.string_agg(pg_catalog.format(' AND x.%I IS NOT NULL', k.attname), '' ORDER BY k.p)
     FROM keycol k WHERE k.relid = l.relid) AS notnull,
    (SELECT pg_catalog.string_agg(pg_catalog.format('x.%I %s (e.value ->> %s)::%s', k.attname, k.eq, k.p, k.typ),
       ' AND ' ORDER BY k.p) FROM keycol k WHERE k.relid = l.relid) AS keymatch,
    (SELECT count(*) FROM keycol k WHERE k.relid = l.relid) AS nkey
  FROM loc l WHERE l.setcol IS NOT NULL)
SELECT t.t::text AS t, t.relid::regclass::text AS rel,
  -- Rows whose commit (their xmin's, as Spock reads it) is at or after $1.
  pg_catalog.format('SELECT %s AS t, x.xmin AS xmin, pg_catalog.pg_xact_commit_timestamp(x.xmin) AS ts, pg_catalog.jsonb_build_array(%s) AS key FROM %s%s x WHERE pg_catalog.pg_xact_commit_timestamp(x.xmin) >= $1::timestamptz%s',
    t.t, t.keytext, CASE WHEN t.relkind = 'p' THEN '' ELSE 'ONLY ' END, t.relid::regclass, t.notnull) AS select_sql,
  -- On N: the rows of this table whose keys are in $1 (a jsonb array
  -- of keys), each rewritten as it is.
  pg_catalog.format('UPDATE %s%s x SET %I = x.%I FROM pg_catalog.jsonb_array_elements($1) e WHERE %s',
    CASE WHEN t.relkind = 'p' THEN '' ELSE 'ONLY ' END, t.relid::regclass, t.setcol, t.setcol, t.keymatch)
    AS update_sql
FROM tab t WHERE t.nkey = t.indnkeyatts ORDER BY t.t
)sql";

// For each table (zodan_t.rel, cut into zodan_t.ranges ranges), of the
// lateral join verify_statements makes.
const char *const kComparison = R"sql(
WITH RECURSIVE att AS (
  SELECT a.attnum, a.attname, a.atttypid AS base, a.attcollation <> 0 AS collatable
  FROM pg_catalog.pg_attribute a WHERE a.attrelid = zodan_t.rel::regclass AND a.attnum > 0 AND NOT a.attisdropped
  UNION ALL
  SELECT att.attnum, att.attname, ty.typbasetype, att.collatable FROM att
  JOIN pg_catalog.pg_type ty ON ty.oid = att.base WHERE ty.typtype = 'd'),
hashable AS (SELECT ty.oid, pg_catalog.format('pg_catalog.%I', p.proname) AS fn
  FROM pg_catalog.pg_type ty
  JOIN pg_catalog.pg_opclass oc ON oc.opcintype = ty.oid AND oc.opcdefault
  JOIN pg_catalog.pg_am am ON am.oid = oc.opcmethod AND am.amname = 'hash'
  JOIN pg_catalog.pg_amproc ap ON ap.amprocfamily = oc.opcfamily AND ap.amproclefttype = ty.oid
    AND ap.amprocrighttype = ty.oid AND ap.amprocnum = 2
  -- Only a function declared for the type itself: a family's
  -- support function may be declared for another type (bytea's
  -- hashvarlenaextended takes internal, timestamptz's takes
  -- timestamp on PostgreSQL 15), and naming it with a column of
  -- this type does not resolve.
  JOIN pg_catalog.pg_proc p ON p.oid = ap.amproc AND p.proargtypes[0] = ty.oid
  -- Not those whose equality is looser than their text's (1.5 =
  -- 1.50, -0 = 0, '1 day' = '24 hours').
  WHERE ty.oid < 16384 AND ty.typtype = 'b' AND ty.typname !~ '^reg'
  AND ty.oid NOT IN ('pg_catalog.numeric'::pg_catalog.regtype, 'pg_catalog.float4'::pg_catalog.regtype,
    'pg_catalog.float8'::pg_catalog.regtype, 'pg_catalog.interval'::pg_catalog.regtype)),
typed AS (SELECT a.attnum, a.attname, a.collatable,
    COALESCE((SELECT h.fn FROM hashable h WHERE h.oid = a.base),
      (SELECT 'pg_catalog.hash_array_extended' FROM pg_catalog.pg_type arr
       JOIN pg_catalog.pg_type el ON el.oid = arr.typelem AND el.typarray = arr.oid
       WHERE arr.oid = a.base AND el.oid IN (SELECT oid FROM hashable))) AS fn
  FROM att a JOIN pg_catalog.pg_type bt ON bt.oid = a.base WHERE bt.typtype <> 'd'),
-- A column's value as hashed, and its hash function; the seed is
-- filled in per use (%1$s).
col AS (SELECT t.attnum, t.attname, pg_catalog.format('COALESCE(%s(%s, %%1$s), %%1$s * 2654435761)',
    COALESCE(t.fn, 'pg_catalog.hashtextextended'), pg_catalog.replace(pg_catalog.format(CASE
      WHEN t.fn IS NULL THEN '(zodan_row.%I)::text COLLATE "C"'
      WHEN t.collatable THEN 'zodan_row.%I COLLATE "C"' ELSE 'zodan_row.%I' END, t.attname), '%', '%%')) AS hash
  FROM typed t),
whole AS (SELECT COALESCE(pg_catalog.string_agg(pg_catalog.format(c.hash, c.attnum), ' # ' ORDER BY c.attnum), '0') AS h,
  COALESCE(pg_catalog.string_agg(pg_catalog.format(c.hash, 1000 + c.attnum), ' # ' ORDER BY c.attnum), '0') AS kh
  FROM col c),
pk AS (SELECT pg_catalog.string_agg(pg_catalog.format('zodan_row.%I', c.attname), ', '
    ORDER BY array_position(i.indkey::int2[], c.attnum)) AS cols,
  pg_catalog.string_agg(pg_catalog.format(c.hash, 1000 + array_position(i.indkey::int2[], c.attnum)), ' # '
    ORDER BY array_position(i.indkey::int2[], c.attnum)) AS kh,
  count(*) AS n
  FROM pg_catalog.pg_index i JOIN col c ON c.attnum = ANY (i.indkey::int2[])
  WHERE i.indrelid = zodan_t.rel::regclass AND i.indisprimary),
-- The key as one value for messages: the primary key's column, a
-- ROW of its columns, or the whole row.
k AS (SELECT CASE WHEN pk.n = 1 THEN pk.cols WHEN pk.n > 1 THEN 'ROW(' || pk.cols || ')'
  ELSE 'zodan_row' END AS key, CASE WHEN pk.n > 0 THEN pk.kh ELSE w.kh END AS kh,
  w.h FROM pk, whole w),
b AS (SELECT pg_catalog.format('((((%s) %% %s) + %s) %% %s)', k.kh, zodan_t.ranges, zodan_t.ranges, zodan_t.ranges) AS range,
  pg_catalog.format('(%s)', k.h) AS h, k.key FROM k)
-- Grouped by the range as an integer, out of a subquery the planner
-- keeps (OFFSET 0): pulled up, the range would look as distinct
-- as the key, and the planner sort every row instead of hashing
-- into a few hundred groups (four times slower at 1M rows).
SELECT pg_catalog.format('SELECT x.range::text AS range, count(*)::text AS n, sum(x.h)::text AS hash FROM   (SELECT %s AS range, %s AS h FROM %s AS zodan_row OFFSET 0) x   WHERE $1::int[] IS NULL OR x.range = ANY ($1::int[]) GROUP BY x.range', b.range, b.h, zodan_t.rel::regclass) AS sums,
pg_catalog.format('SELECT (%s)::text AS k, (%s)::text AS h   FROM %s AS zodan_row WHERE %s = ANY ($1::int[])', b.key, b.h, zodan_t.rel::regclass, b.range) AS rows FROM b
)sql";

}  // namespace

Query copy_job_list(const std::vector<std::string> &skip_schema, int streams, int new_node_major) {
    return {Stmt::CopyJobList, "list the tables to copy",
            std::string("WITH ") + kCopiedTables + ",\n" + kCopyJobList,
            {text_array_literal(skip_schema), std::to_string(streams), std::to_string(new_node_major)}};
}

Query window_tables(const std::vector<std::string> &skip_schema) {
    // Per table, the key an incoming change finds its row by: the replica
    // identity index (Spock's), else the primary key or another unique
    // index without expressions or predicate (what spock.check_all_uc_indexes
    // searches); rows with a NULL in it are found by none. The column the
    // restamping sets to itself: any but generated and GENERATED ALWAYS
    // identity columns, which an UPDATE may not name.
    return {Stmt::WindowTables, "list the tables of the join window",
            std::string("WITH ") + kCopiedTables + ",\n" + kWindowTables,
            {text_array_literal(skip_schema)}};
}

Query verify_statements(const std::vector<std::string> &rels, const std::vector<int> &ranges) {
    // A row's hash is the XOR of its columns' hashes, each by its type's own
    // extended hash function seeded with the column's number (a NULL by a
    // constant of its own), which costs about a fifth less per row than
    // building a record for hash_record_extended. Only where that hash is the
    // same on every node for equal values and tells apart what prints apart:
    // a built-in scalar type with an extended hash function, or an array of
    // one, compared byte for byte (COLLATE "C"). Everything else (enums and
    // reg* types, which hash by node-local OID; composites, ranges, types
    // without a hash function, anything user-defined) is hashed as its text,
    // which two nodes print alike for equal values (every session pins the
    // settings that shape a value's text). The range of a row is the
    // same kind of hash of its key (the primary key, or the whole row) under
    // other seeds, modulo the range count.
    // Every table's in one statement, each table's written alone (a lateral
    // join, once per table), in the order of $1.
    std::vector<std::string> counts;
    for (int r : ranges) counts.push_back(std::to_string(r));
    return {Stmt::VerifyStatements, "write the comparison of " + std::to_string(rels.size()) + " table(s)",
            std::string("SELECT zodan_t.ord::text AS t, s.sums, s.rows FROM ROWS FROM (pg_catalog.unnest($1::text[]), "
                        "pg_catalog.unnest($2::int[])) WITH ORDINALITY zodan_t(rel, ranges, ord) CROSS JOIN LATERAL (") +
                kComparison + ") s ORDER BY zodan_t.ord",
            {text_array_literal(rels), text_array_literal(counts)}};
}

}  // namespace zodan::sql
