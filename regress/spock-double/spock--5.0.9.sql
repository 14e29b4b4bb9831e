/* spock--5.0.9.sql: the zodan Spock test double (zodan-spock-test-double).
 *
 * Spock's SQL surface (see /work/shared/spock-api.md) on PostgreSQL's native
 * logical replication: a replication set is a publication of the same name,
 * a Spock subscription is a native subscription of the same name whose slot
 * uses the spock_output plugin (pgoutput sending local changes only).
 * Functions whose names start with "_" are the double's own internals.
 */
\echo Use "CREATE EXTENSION spock" to load this file. \quit

-- ---------------------------------------------------------------- catalogs

CREATE TABLE spock.node (
    node_id oid NOT NULL PRIMARY KEY,
    node_name name NOT NULL UNIQUE,
    location text,
    country text,
    info jsonb
);

CREATE TABLE spock.node_interface (
    if_id oid NOT NULL PRIMARY KEY,
    if_name name NOT NULL,
    if_nodeid oid REFERENCES spock.node(node_id),
    if_dsn text NOT NULL,
    UNIQUE (if_nodeid, if_name)
);

CREATE TABLE spock.local_node (
    node_id oid PRIMARY KEY REFERENCES spock.node(node_id),
    node_local_interface oid NOT NULL REFERENCES spock.node_interface(if_id)
);

CREATE SEQUENCE spock.sub_id_generator AS integer MINVALUE 1 CYCLE;

CREATE TABLE spock.subscription (
    sub_id oid NOT NULL PRIMARY KEY,
    sub_name name NOT NULL UNIQUE,
    sub_origin oid NOT NULL REFERENCES spock.node(node_id),
    sub_target oid NOT NULL REFERENCES spock.node(node_id),
    sub_origin_if oid NOT NULL REFERENCES spock.node_interface(if_id),
    sub_target_if oid NOT NULL REFERENCES spock.node_interface(if_id),
    sub_enabled boolean NOT NULL DEFAULT true,
    sub_slot_name name NOT NULL,
    sub_replication_sets text[],
    sub_forward_origins text[],
    sub_apply_delay interval NOT NULL DEFAULT '0',
    sub_force_text_transfer boolean NOT NULL DEFAULT false,
    sub_skip_lsn pg_lsn NOT NULL DEFAULT '0/0',
    sub_skip_schema text[],
    sub_created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE spock.local_sync_status (
    sync_kind "char" NOT NULL CHECK (sync_kind IN ('i', 's', 'd', 'f')),
    sync_subid oid NOT NULL REFERENCES spock.subscription(sub_id),
    sync_nspname name,
    sync_relname name,
    sync_status "char" NOT NULL,
    sync_statuslsn pg_lsn,
    UNIQUE (sync_subid, sync_nspname, sync_relname)
);

CREATE TABLE spock.replication_set (
    set_id oid NOT NULL PRIMARY KEY,
    set_nodeid oid NOT NULL,
    set_name name NOT NULL,
    replicate_insert boolean NOT NULL DEFAULT true,
    replicate_update boolean NOT NULL DEFAULT true,
    replicate_delete boolean NOT NULL DEFAULT true,
    replicate_truncate boolean NOT NULL DEFAULT true,
    UNIQUE (set_nodeid, set_name)
);

-- PG15 cannot publish sequences: membership is recorded, values only move
-- with an initial data copy.
CREATE TABLE spock.replication_set_seq (
    set_id oid NOT NULL,
    set_seqoid regclass NOT NULL,
    PRIMARY KEY (set_id, set_seqoid)
);

-- Replicated marker written by sync_event(); in every replication set.
CREATE TABLE spock.sync_marker (
    origin_node oid,
    written_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- Replicated DDL (replicate_ddl); in every set, filtered by set name.
CREATE TABLE spock.queue (
    queued_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    role name NOT NULL,
    replication_sets text[],
    message_type "char" NOT NULL,
    message json NOT NULL
);

-- Double internals (not replicated).
-- Positions stored by an initial data copy: per remote origin node, the
-- origin LSN up to which the copied rows hold that origin's changes.
CREATE TABLE spock._copy_progress (
    remote_node_id oid PRIMARY KEY,
    remote_commit_lsn pg_lsn NOT NULL,
    sub_id oid,
    updated_at timestamptz NOT NULL DEFAULT now()
);
-- Sync worker pid per subscription.
CREATE TABLE spock._sync_worker (
    sub_id oid PRIMARY KEY,
    pid int NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now()
);
-- Provider side: what a subscriber's copy was told (positions read while
-- this node's apply was paused), for tests and post-mortems.
CREATE TABLE spock._snapshot_log (
    slot_name name NOT NULL,
    consistent_point pg_lsn,
    snapshot_name text,
    positions jsonb NOT NULL,
    logged_at timestamptz NOT NULL DEFAULT now()
);

-- Provider side: subscriptions a data copy paused, and by which backend.
CREATE TABLE spock._paused (
    subname name PRIMARY KEY,
    pauser_pid int NOT NULL,
    paused_at timestamptz NOT NULL DEFAULT now()
);

-- --------------------------------------------------------------- C helpers
CREATE FUNCTION spock._start_pause_watchdog(pauser_pid int)
RETURNS void AS 'MODULE_PATHNAME', 'spock_start_pause_watchdog' LANGUAGE C STRICT VOLATILE;

CREATE FUNCTION spock._start_sync_worker(subid oid, creator_xid int8, subname text)
RETURNS int AS 'MODULE_PATHNAME', 'spock_start_sync_worker' LANGUAGE C STRICT VOLATILE;
CREATE FUNCTION spock._pid_alive(pid int)
RETURNS boolean AS 'MODULE_PATHNAME', 'spock_pid_alive' LANGUAGE C STRICT VOLATILE;
CREATE FUNCTION spock._bindir()
RETURNS text AS 'MODULE_PATHNAME', 'spock_bindir' LANGUAGE C STRICT STABLE;
CREATE FUNCTION spock._pair_hash(id oid, n name)
RETURNS oid AS 'MODULE_PATHNAME', 'spock_pair_hash' LANGUAGE C STRICT IMMUTABLE;

-- ---------------------------------------------------------- small helpers

CREATE FUNCTION spock._local_node_id() RETURNS oid
LANGUAGE sql STABLE AS $$ SELECT node_id FROM spock.local_node $$;

CREATE FUNCTION spock._require_local_node() RETURNS oid
LANGUAGE plpgsql STABLE AS $$
DECLARE nid oid;
BEGIN
    SELECT node_id INTO nid FROM spock.local_node;
    IF nid IS NULL THEN
        RAISE EXCEPTION 'local spock node not found' USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    RETURN nid;
END $$;

CREATE FUNCTION spock._raise(msg text) RETURNS text
LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '%', msg; END $$;

-- Quotes a string for /bin/sh.
CREATE FUNCTION spock._shq(s text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT '''' || replace(s, '''', '''\''''') || '''' $$;

-- Runs a shell command as the server's OS user; errors when it fails.
CREATE FUNCTION spock._run_shell(cmd text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('COPY (SELECT 1) TO PROGRAM %L', cmd);
END $$;

-- Adds a libpq option to a DSN (key=value or URI form).
CREATE FUNCTION spock._dsn_add(dsn text, opt text, val text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT CASE WHEN dsn ~ '^postgres(ql)?://'
                THEN dsn || CASE WHEN position('?' IN dsn) > 0 THEN '&' ELSE '?' END || opt || '=' || val
                ELSE dsn || ' ' || opt || '=' || val END
$$;

-- Current database oid.
CREATE FUNCTION spock._dboid() RETURNS oid
LANGUAGE sql STABLE AS $$ SELECT oid FROM pg_database WHERE datname = current_database() $$;

-- Applied remote position of a replication origin (NULL when unknown).
CREATE FUNCTION spock._origin_lsn(origin text) RETURNS pg_lsn
LANGUAGE sql VOLATILE AS $$
    SELECT remote_lsn FROM pg_replication_origin_status WHERE external_id = origin
$$;

CREATE FUNCTION spock._origin_ensure(origin text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_replication_origin WHERE roname = origin) THEN
        PERFORM pg_replication_origin_create(origin);
    END IF;
END $$;

-- Moves an origin forward (never backward) to lsn.
CREATE FUNCTION spock._origin_forward(origin text, lsn pg_lsn) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF lsn IS NOT NULL AND lsn > coalesce(spock._origin_lsn(origin), '0/0') THEN
        PERFORM pg_replication_origin_advance(origin, lsn);
    END IF;
END $$;

-- ------------------------------------------------------------ identities

CREATE FUNCTION spock.spock_gen_slot_name(dbname name, provider_node name, subscription name)
RETURNS name LANGUAGE sql IMMUTABLE STRICT AS $$
    WITH p(x) AS (VALUES (dbname::text), (provider_node::text), (subscription::text)),
    s AS (
        SELECT string_agg(CASE WHEN octet_length(x) <= 16 THEN x
                               ELSE left(x, 8) || left(lpad(to_hex(hashtext(x)), 8, '0'), 7) END,
                          '_' ORDER BY ord) AS body
        FROM (SELECT x, row_number() OVER () AS ord FROM p) q
    )
    SELECT left(regexp_replace('spk_' || body, '[^a-z0-9_]', '_', 'g'), 63)::name FROM s
$$;

-- ----------------------------------------------------- internal: marking

-- Every native subscription needs a READY pg_subscription_rel row for each
-- table, or PG15's apply worker silently skips the table's changes.
CREATE FUNCTION spock._mark_ready(native_sub name, rel oid DEFAULT NULL) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO pg_catalog.pg_subscription_rel (srsubid, srrelid, srsubstate, srsublsn)
    SELECT ps.oid, c.oid, 'r', NULL
    FROM pg_catalog.pg_subscription ps
    CROSS JOIN pg_catalog.pg_class c
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE (native_sub IS NULL OR ps.subname = native_sub)
      AND ps.subdbid = spock._dboid()
      AND (rel IS NULL OR c.oid = rel)
      AND c.relkind IN ('r', 'p') AND c.relpersistence = 'p'
      AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname !~ '^pg_toast'
      AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_subscription_rel sr
                      WHERE sr.srsubid = ps.oid AND sr.srrelid = c.oid)
$$;

CREATE FUNCTION spock._on_create_table() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE r record;
BEGIN
    FOR r IN SELECT objid FROM pg_event_trigger_ddl_commands()
             WHERE classid = 'pg_catalog.pg_class'::regclass
    LOOP
        PERFORM spock._mark_ready(NULL, r.objid);
    END LOOP;
END $$;

CREATE EVENT TRIGGER spock_double_mark_ready ON ddl_command_end
    WHEN TAG IN ('CREATE TABLE', 'CREATE TABLE AS', 'SELECT INTO')
    EXECUTE FUNCTION spock._on_create_table();
ALTER EVENT TRIGGER spock_double_mark_ready ENABLE ALWAYS;

-- ------------------------------------------------------ replication sets

CREATE FUNCTION spock._publish_list(ins boolean, upd boolean, del boolean, tru boolean) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(array_to_string(ARRAY[CASE WHEN ins THEN 'insert' END, CASE WHEN upd THEN 'update' END,
                                          CASE WHEN del THEN 'delete' END, CASE WHEN tru THEN 'truncate' END], ', '), '')
$$;

CREATE FUNCTION spock._repset_create(nodeid oid, setname name, ins boolean, upd boolean, del boolean, tru boolean)
RETURNS oid LANGUAGE plpgsql AS $$
DECLARE sid oid := spock._pair_hash(nodeid, setname);
BEGIN
    IF EXISTS (SELECT 1 FROM spock.replication_set rs WHERE rs.set_nodeid = nodeid AND rs.set_name = setname) THEN
        RAISE EXCEPTION 'replication set % already exists', setname USING ERRCODE = 'duplicate_object';
    END IF;
    INSERT INTO spock.replication_set VALUES (sid, nodeid, setname, ins, upd, del, tru);
    IF EXISTS (SELECT 1 FROM pg_publication WHERE pubname = setname) THEN
        EXECUTE format('DROP PUBLICATION %I', setname);
    END IF;
    EXECUTE format('CREATE PUBLICATION %I WITH (publish = %L)', setname, spock._publish_list(ins, upd, del, tru));
    EXECUTE format('ALTER PUBLICATION %I ADD TABLE spock.sync_marker', setname);
    EXECUTE format('ALTER PUBLICATION %I ADD TABLE spock.queue WHERE (replication_sets && %L::text[])',
                   setname, ARRAY[setname::text]);
    RETURN sid;
END $$;

CREATE FUNCTION spock._repset_get(setname name) RETURNS spock.replication_set
LANGUAGE plpgsql STABLE AS $$
DECLARE rs spock.replication_set;
BEGIN
    SELECT * INTO rs FROM spock.replication_set r
    WHERE r.set_name = setname AND r.set_nodeid = spock._require_local_node();
    IF NOT FOUND THEN
        RAISE EXCEPTION 'replication set % not found', setname USING ERRCODE = 'undefined_object';
    END IF;
    RETURN rs;
END $$;

CREATE FUNCTION spock.repset_create(set_name name, replicate_insert boolean = true,
    replicate_update boolean = true, replicate_delete boolean = true, replicate_truncate boolean = true)
RETURNS oid LANGUAGE plpgsql AS $$
BEGIN
    RETURN spock._repset_create(spock._require_local_node(), $1, $2, $3, $4, $5);
END $$;

CREATE FUNCTION spock.repset_alter(set_name name, replicate_insert boolean DEFAULT NULL,
    replicate_update boolean DEFAULT NULL, replicate_delete boolean DEFAULT NULL,
    replicate_truncate boolean DEFAULT NULL)
RETURNS oid LANGUAGE plpgsql AS $$
DECLARE rs spock.replication_set := spock._repset_get($1);
BEGIN
    UPDATE spock.replication_set r SET
        replicate_insert = coalesce($2, r.replicate_insert),
        replicate_update = coalesce($3, r.replicate_update),
        replicate_delete = coalesce($4, r.replicate_delete),
        replicate_truncate = coalesce($5, r.replicate_truncate)
    WHERE r.set_id = rs.set_id
    RETURNING * INTO rs;
    EXECUTE format('ALTER PUBLICATION %I SET (publish = %L)', rs.set_name,
                   spock._publish_list(rs.replicate_insert, rs.replicate_update, rs.replicate_delete, rs.replicate_truncate));
    RETURN rs.set_id;
END $$;

CREATE FUNCTION spock.repset_drop(set_name name, ifexists boolean DEFAULT false)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE rs spock.replication_set;
BEGIN
    SELECT * INTO rs FROM spock.replication_set r
    WHERE r.set_name = $1 AND r.set_nodeid = spock._require_local_node();
    IF NOT FOUND THEN
        IF ifexists THEN RETURN false; END IF;
        RAISE EXCEPTION 'replication set % not found', $1 USING ERRCODE = 'undefined_object';
    END IF;
    DELETE FROM spock.replication_set_seq s WHERE s.set_id = rs.set_id;
    DELETE FROM spock.replication_set r WHERE r.set_id = rs.set_id;
    EXECUTE format('DROP PUBLICATION IF EXISTS %I', rs.set_name);
    RETURN true;
END $$;

CREATE FUNCTION spock.repset_add_table(set_name name, relation regclass,
    synchronize_data boolean DEFAULT false, columns text[] DEFAULT NULL,
    row_filter text DEFAULT NULL, include_partitions boolean DEFAULT true)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    rs spock.replication_set := spock._repset_get($1);
    ident "char";
    has_index boolean;
BEGIN
    SELECT c.relreplident, EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND (i.indisprimary OR i.indisreplident))
    INTO ident, has_index FROM pg_class c WHERE c.oid = relation;
    IF (rs.replicate_update OR rs.replicate_delete) AND ident <> 'f' AND NOT has_index THEN
        RAISE EXCEPTION 'table % cannot be added to replication set %', relation, rs.set_name
            USING DETAIL = 'table does not have primary key and given replication set is configured to replicate UPDATEs and/or DELETEs',
                  HINT = 'Add a PRIMARY KEY to the table', ERRCODE = 'invalid_parameter_value';
    END IF;
    EXECUTE format('ALTER PUBLICATION %I ADD TABLE %s%s%s', rs.set_name, relation::text,
        CASE WHEN columns IS NOT NULL THEN ' (' || (SELECT string_agg(quote_ident(c), ', ') FROM unnest(columns) c) || ')' ELSE '' END,
        CASE WHEN row_filter IS NOT NULL THEN ' WHERE (' || row_filter || ')' ELSE '' END);
    RETURN true;
END $$;

CREATE FUNCTION spock.repset_remove_table(set_name name, relation regclass, include_partitions boolean DEFAULT true)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE rs spock.replication_set := spock._repset_get($1);
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_publication_rel pr JOIN pg_publication p ON p.oid = pr.prpubid
                   WHERE p.pubname = rs.set_name AND pr.prrelid = relation) THEN
        RETURN false;
    END IF;
    EXECUTE format('ALTER PUBLICATION %I DROP TABLE %s', rs.set_name, relation::text);
    RETURN true;
END $$;

CREATE FUNCTION spock.repset_add_all_tables(set_name name, schema_names text[], synchronize_data boolean DEFAULT false)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE rs spock.replication_set := spock._repset_get($1); r record;
BEGIN
    FOR r IN SELECT c.oid::regclass AS rel FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = ANY(schema_names) AND c.relkind IN ('r', 'p') AND NOT c.relispartition
               AND c.relpersistence = 'p'
               AND NOT EXISTS (SELECT 1 FROM pg_publication_rel pr JOIN pg_publication p ON p.oid = pr.prpubid
                               WHERE p.pubname = rs.set_name AND pr.prrelid = c.oid)
             ORDER BY n.nspname, c.relname
    LOOP
        PERFORM spock.repset_add_table(rs.set_name, r.rel);
    END LOOP;
    RETURN true;
END $$;

CREATE FUNCTION spock.repset_add_seq(set_name name, relation regclass, synchronize_data boolean DEFAULT false)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE rs spock.replication_set := spock._repset_get($1);
BEGIN
    IF (SELECT relkind FROM pg_class WHERE oid = relation) <> 'S' THEN
        RAISE EXCEPTION '% is not a sequence', relation;
    END IF;
    INSERT INTO spock.replication_set_seq VALUES (rs.set_id, relation);
    RETURN true;
END $$;

CREATE FUNCTION spock.repset_remove_seq(set_name name, relation regclass)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE rs spock.replication_set := spock._repset_get($1);
BEGIN
    DELETE FROM spock.replication_set_seq s WHERE s.set_id = rs.set_id AND s.set_seqoid = relation;
    RETURN FOUND;
END $$;

CREATE VIEW spock.replication_set_table AS
SELECT rs.set_id,
       pr.prrelid::regclass AS set_reloid,
       CASE WHEN pr.prattrs IS NULL THEN NULL
            ELSE (SELECT array_agg(a.attname::text ORDER BY a.attnum) FROM pg_attribute a
                  WHERE a.attrelid = pr.prrelid AND a.attnum = ANY (pr.prattrs::int2[])) END AS set_att_list,
       pr.prqual AS set_row_filter
FROM pg_publication_rel pr
JOIN pg_publication p ON p.oid = pr.prpubid
JOIN spock.replication_set rs ON rs.set_name = p.pubname
JOIN spock.local_node ln ON ln.node_id = rs.set_nodeid
WHERE pr.prrelid NOT IN ('spock.sync_marker'::regclass, 'spock.queue'::regclass);

CREATE VIEW spock.tables AS
WITH set_relations AS (
    SELECT s.set_name, r.set_reloid FROM spock.replication_set_table r JOIN spock.replication_set s USING (set_id)
), user_tables AS (
    SELECT c.oid, n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p') AND c.relpersistence = 'p'
      AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'spock') AND n.nspname !~ '^pg_toast'
)
SELECT t.oid AS relid, t.nspname, t.relname, s.set_name
FROM user_tables t LEFT JOIN set_relations s ON s.set_reloid = t.oid;

-- ------------------------------------------------------------------ nodes

CREATE FUNCTION spock.node_create(node_name name, dsn text, location text DEFAULT NULL,
    country text DEFAULT NULL, info jsonb DEFAULT NULL)
RETURNS oid LANGUAGE plpgsql AS $$
DECLARE
    nid oid := (hashtext($1) & 65535)::oid;
    ifid oid;
    other name;
BEGIN
    IF EXISTS (SELECT 1 FROM spock.local_node) THEN
        RAISE EXCEPTION 'current database is already configured as spock node' USING ERRCODE = 'duplicate_object';
    END IF;
    IF EXISTS (SELECT 1 FROM spock.node n WHERE n.node_name = $1) THEN
        RAISE EXCEPTION 'node % already exists', $1 USING ERRCODE = 'duplicate_object';
    END IF;
    SELECT n.node_name INTO other FROM spock.node n WHERE n.node_id = nid;
    IF FOUND THEN
        RAISE EXCEPTION 'node id % of node "%" collides with the id of node "%"', nid, $1, other
            USING ERRCODE = 'unique_violation', HINT = 'Choose another node name.';
    END IF;
    INSERT INTO spock.node VALUES (nid, $1, $3, $4, $5);
    ifid := spock._pair_hash(nid, $1);
    INSERT INTO spock.node_interface VALUES (ifid, $1, nid, $2);
    INSERT INTO spock.local_node VALUES (nid, ifid);
    PERFORM spock._repset_create(nid, 'default', true, true, true, true);
    PERFORM spock._repset_create(nid, 'default_insert_only', true, false, false, true);
    PERFORM spock._repset_create(nid, 'ddl_sql', true, true, true, true);
    RETURN nid;
END $$;

CREATE FUNCTION spock.node_drop(node_name name, ifexists boolean DEFAULT false)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE nid oid; r record;
BEGIN
    SELECT n.node_id INTO nid FROM spock.node n WHERE n.node_name = $1;
    IF nid IS NULL THEN
        IF ifexists THEN RETURN false; END IF;
        RAISE EXCEPTION 'node % not found', $1 USING ERRCODE = 'undefined_object';
    END IF;
    IF EXISTS (SELECT 1 FROM spock.subscription s WHERE s.sub_origin = nid OR (s.sub_target = nid AND s.sub_origin <> nid)) THEN
        RAISE EXCEPTION 'cannot drop node "%" because one or more subscriptions use it', $1
            USING HINT = 'drop the subscriptions first', ERRCODE = 'dependent_objects_still_exist';
    END IF;
    IF nid = spock._local_node_id() THEN
        FOR r IN SELECT set_name FROM spock.replication_set rs WHERE rs.set_nodeid = nid LOOP
            PERFORM spock.repset_drop(r.set_name);
        END LOOP;
        DELETE FROM spock.local_node;
    END IF;
    DELETE FROM spock.replication_set rs WHERE rs.set_nodeid = nid;
    DELETE FROM spock.node_interface i WHERE i.if_nodeid = nid;
    DELETE FROM spock.node n WHERE n.node_id = nid;
    RETURN true;
END $$;

CREATE FUNCTION spock.node_info(OUT node_id oid, OUT node_name text, OUT sysid text, OUT dbname text,
    OUT replication_sets text, OUT location text, OUT country text, OUT info jsonb)
RETURNS record LANGUAGE sql STABLE AS $$
    SELECT n.node_id, n.node_name::text, (SELECT system_identifier::text FROM pg_control_system()),
           current_database()::text,
           (SELECT string_agg(quote_ident(rs.set_name), ',' ORDER BY rs.set_name)
            FROM spock.replication_set rs WHERE rs.set_nodeid = n.node_id),
           n.location, n.country, n.info
    FROM spock.local_node ln JOIN spock.node n ON n.node_id = ln.node_id
$$;

-- ------------------------------------------------------ progress & views

-- Per subscription: applied position of its native origin (pg_<oid>) and
-- of the origin named like its slot (Spock's authoritative one).
CREATE VIEW spock._sub_positions AS
SELECT s.sub_id, s.sub_name, s.sub_origin AS remote_node_id, ps.oid AS native_oid,
       spock._origin_lsn('pg_' || ps.oid) AS native_lsn,
       spock._origin_lsn(s.sub_slot_name) AS slot_origin_lsn
FROM spock.subscription s
LEFT JOIN pg_subscription ps ON ps.subname = s.sub_name AND ps.subdbid = spock._dboid();

CREATE VIEW spock.progress AS
WITH per AS (
    SELECT remote_node_id, greatest(native_lsn, slot_origin_lsn) AS lsn FROM spock._sub_positions
    UNION ALL
    SELECT remote_node_id, remote_commit_lsn FROM spock._copy_progress
), agg AS (
    SELECT remote_node_id, max(lsn) AS lsn FROM per GROUP BY remote_node_id
)
SELECT spock._dboid() AS dbid,
       ln.node_id,
       a.remote_node_id,
       st.latest_end_time AS remote_commit_ts,
       NULL::timestamptz AS prev_remote_ts,
       coalesce(a.lsn, '0/0'::pg_lsn) AS remote_commit_lsn,
       st.latest_end_lsn AS remote_insert_lsn,
       st.received_lsn,
       st.last_msg_receipt_time AS last_updated_ts,
       false AS updated_by_decode
FROM agg a
CROSS JOIN spock.local_node ln
LEFT JOIN LATERAL (
    SELECT max(pss.latest_end_time) AS latest_end_time, max(pss.latest_end_lsn) AS latest_end_lsn,
           max(pss.received_lsn) AS received_lsn, max(pss.last_msg_receipt_time) AS last_msg_receipt_time
    FROM spock.subscription s
    JOIN pg_subscription ps ON ps.subname = s.sub_name AND ps.subdbid = spock._dboid()
    JOIN pg_stat_subscription pss ON pss.subid = ps.oid AND pss.relid IS NULL
    WHERE s.sub_origin = a.remote_node_id
) st ON true
WHERE a.remote_node_id <> ln.node_id;

CREATE VIEW spock.lag_tracker AS
SELECT o.node_name AS origin_name,
       r.node_name AS receiver_name,
       p.remote_commit_ts AS commit_timestamp,
       p.remote_commit_lsn AS commit_lsn,
       p.remote_insert_lsn,
       p.received_lsn,
       CASE WHEN p.remote_insert_lsn IS NULL THEN NULL
            ELSE greatest(p.remote_insert_lsn - p.remote_commit_lsn, 0) END AS replication_lag_bytes,
       now() - p.remote_commit_ts AS replication_lag
FROM spock.progress p
JOIN spock.node o ON o.node_id = p.remote_node_id
JOIN spock.node r ON r.node_id = p.node_id;

-- ------------------------------------------------ internal: subscriptions

CREATE FUNCTION spock._native_exists(subname name) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM pg_subscription WHERE subname = $1 AND subdbid = spock._dboid())
$$;

CREATE FUNCTION spock._native_pid(subname name) RETURNS int
LANGUAGE sql VOLATILE AS $$
    SELECT pss.pid FROM pg_stat_subscription pss JOIN pg_subscription ps ON ps.oid = pss.subid
    WHERE ps.subname = $1 AND ps.subdbid = spock._dboid() AND pss.relid IS NULL AND pss.pid IS NOT NULL
    LIMIT 1
$$;

-- Drops a native subscription without touching its remote slot.
CREATE FUNCTION spock._drop_native(subname name) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF spock._native_exists(subname) THEN
        EXECUTE format('ALTER SUBSCRIPTION %I DISABLE', subname);
        EXECUTE format('ALTER SUBSCRIPTION %I SET (slot_name = NONE)', subname);
        EXECUTE format('DROP SUBSCRIPTION %I', subname);
    END IF;
END $$;

-- Creates the (disabled) native subscription of a Spock subscription.
CREATE FUNCTION spock._create_native(p_subid oid) RETURNS oid
LANGUAGE plpgsql AS $$
DECLARE s spock.subscription; dsn text; noid oid; old_level text;
BEGIN
    SELECT * INTO s FROM spock.subscription WHERE sub_id = p_subid;
    SELECT if_dsn INTO dsn FROM spock.node_interface WHERE if_id = s.sub_origin_if;
    PERFORM spock._drop_native(s.sub_name);
    -- (its "tables were not subscribed" warning does not apply: see below)
    old_level := current_setting('client_min_messages');
    PERFORM set_config('client_min_messages', 'error', true);
    EXECUTE format('CREATE SUBSCRIPTION %I CONNECTION %L PUBLICATION %s WITH (connect = false, slot_name = %L, disable_on_error = true)',
                   s.sub_name, dsn,
                   (SELECT string_agg(quote_ident(x), ', ') FROM unnest(s.sub_replication_sets) x),
                   s.sub_slot_name);
    PERFORM set_config('client_min_messages', old_level, true);
    PERFORM spock._mark_ready(s.sub_name);
    SELECT oid INTO noid FROM pg_subscription WHERE subname = s.sub_name AND subdbid = spock._dboid();
    RETURN noid;
END $$;

-- Waits (bounded) until the native apply worker of a subscription is gone.
CREATE FUNCTION spock._wait_native_stopped(subname name, seconds int DEFAULT 30) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz := clock_timestamp();
BEGIN
    WHILE spock._native_pid(subname) IS NOT NULL LOOP
        IF clock_timestamp() - t0 > make_interval(secs => seconds) THEN
            RAISE EXCEPTION 'apply worker of subscription % did not stop', subname;
        END IF;
        PERFORM pg_sleep(0.05);
    END LOOP;
END $$;

-- Enables the native subscription; first moves its origin up to the origin
-- named like the slot (where Spock resumes streaming).
CREATE FUNCTION spock._enable_native(p_subid oid) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE s spock.subscription; noid oid; slot_lsn pg_lsn;
BEGIN
    SELECT * INTO s FROM spock.subscription WHERE sub_id = p_subid;
    SELECT oid INTO noid FROM pg_subscription WHERE subname = s.sub_name AND subdbid = spock._dboid();
    IF noid IS NULL THEN
        noid := spock._create_native(p_subid);
    END IF;
    IF (SELECT subenabled FROM pg_subscription WHERE oid = noid) THEN
        RETURN;
    END IF;
    slot_lsn := spock._origin_lsn(s.sub_slot_name);
    IF slot_lsn > coalesce(spock._origin_lsn('pg_' || noid), '0/0') THEN
        PERFORM spock._wait_native_stopped(s.sub_name);
        PERFORM pg_replication_origin_advance('pg_' || noid, slot_lsn);
    END IF;
    EXECUTE format('ALTER SUBSCRIPTION %I ENABLE', s.sub_name);
END $$;

CREATE FUNCTION spock._start_worker(p_subid oid) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE pid int; sname name;
BEGIN
    SELECT sub_name INTO sname FROM spock.subscription WHERE sub_id = p_subid;
    pid := spock._start_sync_worker(p_subid, txid_current(), sname);
    INSERT INTO spock._sync_worker (sub_id, pid) VALUES (p_subid, pid)
    ON CONFLICT (sub_id) DO UPDATE SET pid = EXCLUDED.pid, started_at = now();
    RETURN pid;
END $$;

CREATE FUNCTION spock._worker_alive(p_subid oid) RETURNS boolean
LANGUAGE sql VOLATILE AS $$
    SELECT coalesce((SELECT spock._pid_alive(pid) FROM spock._sync_worker WHERE sub_id = p_subid), false)
$$;

CREATE FUNCTION spock._sync_done(p_subid oid) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT sync_status IN ('r', 'y') FROM spock.local_sync_status
                     WHERE sync_subid = p_subid AND sync_nspname IS NULL AND sync_relname IS NULL), false)
$$;

-- Remote calls go through dblink (the double may use it; the product not).
CREATE FUNCTION spock._remote_provider_node(dsn text,
    OUT node_id oid, OUT node_name name, OUT location text, OUT country text, OUT info jsonb)
RETURNS record LANGUAGE plpgsql AS $$
BEGIN
    SELECT t.node_id, t.node_name, t.location, t.country, t.info::jsonb
    INTO node_id, node_name, location, country, info
    FROM dblink(dsn, 'SELECT n.node_id, n.node_name, n.location, n.country, n.info::text
                      FROM spock.local_node l JOIN spock.node n ON n.node_id = l.node_id')
         AS t(node_id oid, node_name name, location text, country text, info text);
    IF node_id IS NULL THEN
        RAISE EXCEPTION 'the provider has no local spock node';
    END IF;
END $$;

-- ---------------------------------------------------------- subscriptions

CREATE FUNCTION spock.sub_create(subscription_name name, provider_dsn text,
    replication_sets text[] = '{default,default_insert_only,ddl_sql}',
    synchronize_structure boolean = false, synchronize_data boolean = false,
    forward_origins text[] = '{}', apply_delay interval DEFAULT '0',
    force_text_transfer boolean = false, enabled boolean = true,
    skip_schema text[] = '{}')
RETURNS oid STRICT LANGUAGE plpgsql AS $$
DECLARE
    local_id oid := spock._require_local_node();
    local_if oid := (SELECT node_local_interface FROM spock.local_node);
    prov record;
    prov_if oid;
    known_dsn text;
    sid oid;
    slot name;
    kind "char";
BEGIN
    IF $1 !~ '^[a-z0-9_]+$' OR octet_length($1) >= 64 THEN
        RAISE EXCEPTION 'subscription name "%" contains invalid character', $1
            USING HINT = 'Subscription names may only contain lower case letters, numbers, and the underscore character.',
                  ERRCODE = 'invalid_name';
    END IF;
    IF EXISTS (SELECT 1 FROM spock.subscription s WHERE s.sub_name = $1) THEN
        RAISE EXCEPTION 'subscription % already exists', $1 USING ERRCODE = 'duplicate_object';
    END IF;
    IF cardinality(forward_origins) > 0 THEN
        RAISE EXCEPTION 'the spock test double supports only forward_origins = ''{}''';
    END IF;
    IF cardinality(replication_sets) = 0 THEN
        RAISE EXCEPTION 'at least one replication set is required';
    END IF;
    IF NOT enabled AND (synchronize_structure OR synchronize_data) THEN
        RAISE EXCEPTION 'a disabled subscription cannot synchronize structure or data'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    prov := spock._remote_provider_node(provider_dsn);
    IF prov.node_id = local_id THEN
        RAISE EXCEPTION 'cannot subscribe to the local node';
    END IF;
    IF EXISTS (SELECT 1 FROM spock.node n WHERE n.node_name = prov.node_name) THEN
        SELECT i.if_id, i.if_dsn INTO prov_if, known_dsn FROM spock.node_interface i
        JOIN spock.node n ON n.node_id = i.if_nodeid
        WHERE n.node_name = prov.node_name ORDER BY (i.if_dsn = provider_dsn) DESC LIMIT 1;
        IF known_dsn IS DISTINCT FROM provider_dsn THEN
            RAISE EXCEPTION 'node % is already known with a different DSN', prov.node_name
                USING ERRCODE = 'duplicate_object';
        END IF;
    ELSE
        INSERT INTO spock.node VALUES (prov.node_id, prov.node_name, prov.location, prov.country, prov.info);
        prov_if := spock._pair_hash(prov.node_id, prov.node_name);
        INSERT INTO spock.node_interface VALUES (prov_if, prov.node_name, prov.node_id, provider_dsn);
    END IF;

    slot := spock.spock_gen_slot_name(current_database(), prov.node_name, $1);
    sid := nextval('spock.sub_id_generator')::oid;
    INSERT INTO spock.subscription (sub_id, sub_name, sub_origin, sub_target, sub_origin_if, sub_target_if,
        sub_enabled, sub_slot_name, sub_replication_sets, sub_forward_origins, sub_apply_delay,
        sub_force_text_transfer, sub_skip_schema)
    VALUES (sid, $1, prov.node_id, local_id, prov_if, local_if, enabled, slot, replication_sets,
        NULLIF(forward_origins, '{}'), apply_delay, force_text_transfer, NULLIF(skip_schema, '{}'));

    kind := CASE WHEN synchronize_structure AND synchronize_data THEN 'f'
                 WHEN synchronize_structure THEN 's'
                 WHEN synchronize_data THEN 'd' ELSE 'i' END;
    PERFORM spock._origin_ensure(slot);
    IF NOT enabled THEN
        INSERT INTO spock.local_sync_status VALUES (kind, sid, NULL, NULL, 'r', NULL);
        PERFORM spock._create_native(sid);
    ELSE
        INSERT INTO spock.local_sync_status VALUES (kind, sid, NULL, NULL, 'i', NULL);
        PERFORM spock._start_worker(sid);
    END IF;
    RETURN sid;
END $$;

-- Drops a slot on a provider; an active one is an error unless force (then
-- its walsender is terminated after a grace period).
CREATE FUNCTION spock._drop_remote_slot(dsn text, slot name, force boolean DEFAULT true) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE active_pid int; found_slot boolean; i int := 0;
BEGIN
    LOOP
        SELECT t.pid, true INTO active_pid, found_slot FROM dblink(dsn,
            format('SELECT active_pid FROM pg_replication_slots WHERE slot_name = %L', slot)) AS t(pid int);
        EXIT WHEN found_slot IS NULL;
        IF active_pid IS NULL THEN
            PERFORM * FROM dblink(dsn, format('SELECT count(*) FROM (SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = %L AND NOT active) x', slot)) AS t(n int);
        ELSIF NOT force THEN
            RAISE EXCEPTION 'slot % is in use on the provider (pid %)', slot, active_pid;
        ELSIF i > 20 THEN
            PERFORM * FROM dblink(dsn, format('SELECT pg_terminate_backend(%s)', active_pid)) AS t(b boolean);
        END IF;
        i := i + 1;
        IF i > 200 THEN
            RAISE EXCEPTION 'could not drop slot % on the provider', slot;
        END IF;
        found_slot := NULL;
        PERFORM pg_sleep(0.05);
    END LOOP;
END $$;

CREATE FUNCTION spock.sub_drop(subscription_name name, ifexists boolean DEFAULT false)
RETURNS oid LANGUAGE plpgsql AS $$
DECLARE s spock.subscription; dsn text; wpid int;
BEGIN
    SELECT * INTO s FROM spock.subscription x WHERE x.sub_name = $1;
    IF NOT FOUND THEN
        IF ifexists THEN RETURN NULL; END IF;
        RAISE EXCEPTION 'subscription % not found', $1 USING ERRCODE = 'undefined_object';
    END IF;
    SELECT pid INTO wpid FROM spock._sync_worker WHERE sub_id = s.sub_id;
    IF wpid IS NOT NULL AND spock._pid_alive(wpid) THEN
        PERFORM pg_terminate_backend(wpid);
    END IF;
    PERFORM spock._drop_native(s.sub_name);
    IF EXISTS (SELECT 1 FROM pg_replication_origin WHERE roname = s.sub_slot_name) THEN
        PERFORM pg_replication_origin_drop(s.sub_slot_name);
    END IF;
    SELECT if_dsn INTO dsn FROM spock.node_interface WHERE if_id = s.sub_origin_if;
    BEGIN
        PERFORM spock._drop_remote_slot(dsn, s.sub_slot_name);
    EXCEPTION WHEN OTHERS THEN
        RAISE WARNING 'could not drop slot "%" on the provider of subscription "%": %', s.sub_slot_name, s.sub_name, SQLERRM;
    END;
    DELETE FROM spock.local_sync_status WHERE sync_subid = s.sub_id;
    DELETE FROM spock._sync_worker WHERE sub_id = s.sub_id;
    DELETE FROM spock.subscription WHERE sub_id = s.sub_id;
    RETURN s.sub_id;
END $$;

CREATE FUNCTION spock._sub_get(name name) RETURNS spock.subscription
LANGUAGE plpgsql STABLE AS $$
DECLARE s spock.subscription;
BEGIN
    SELECT * INTO s FROM spock.subscription x WHERE x.sub_name = $1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'subscription % not found', $1 USING ERRCODE = 'undefined_object';
    END IF;
    RETURN s;
END $$;

CREATE FUNCTION spock.sub_enable(subscription_name name, immediate boolean DEFAULT false)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE s spock.subscription := spock._sub_get($1);
BEGIN
    UPDATE spock.subscription SET sub_enabled = true WHERE sub_id = s.sub_id;
    IF spock._sync_done(s.sub_id) THEN
        PERFORM spock._enable_native(s.sub_id);
    ELSIF spock._worker_alive(s.sub_id) THEN
        RETURN true;        -- the sync worker is still at it
    ELSE
        UPDATE spock.local_sync_status SET sync_status = 'i'
        WHERE sync_subid = s.sub_id AND sync_nspname IS NULL;
    END IF;
    -- The worker either (re)does the sync or just watches the apply worker
    -- start, so the status reads "initializing" rather than "down" meanwhile.
    PERFORM spock._start_worker(s.sub_id);
    RETURN true;
END $$;

CREATE FUNCTION spock.sub_disable(subscription_name name, immediate boolean DEFAULT false)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE s spock.subscription := spock._sub_get($1); noid oid;
BEGIN
    UPDATE spock.subscription SET sub_enabled = false WHERE sub_id = s.sub_id;
    SELECT oid INTO noid FROM pg_subscription WHERE subname = s.sub_name AND subdbid = spock._dboid();
    IF noid IS NOT NULL THEN
        PERFORM spock._origin_ensure(s.sub_slot_name);
        PERFORM spock._origin_forward(s.sub_slot_name, spock._origin_lsn('pg_' || noid));
        EXECUTE format('ALTER SUBSCRIPTION %I DISABLE', s.sub_name);
    END IF;
    RETURN true;
END $$;

CREATE FUNCTION spock.sub_show_status(subscription_name name DEFAULT NULL,
    OUT subscription_name text, OUT status text, OUT provider_node text, OUT provider_dsn text,
    OUT slot_name text, OUT replication_sets text[], OUT forward_origins text[])
RETURNS SETOF record LANGUAGE sql VOLATILE AS $$
    SELECT s.sub_name::text,
           CASE WHEN NOT s.sub_enabled THEN 'disabled'
                WHEN spock._sync_done(s.sub_id) AND spock._native_pid(s.sub_name) IS NOT NULL THEN 'replicating'
                WHEN spock._worker_alive(s.sub_id) THEN 'initializing'
                ELSE 'down' END,
           o.node_name::text, i.if_dsn, s.sub_slot_name::text, s.sub_replication_sets,
           coalesce(s.sub_forward_origins, '{}')
    FROM spock.subscription s
    JOIN spock.node o ON o.node_id = s.sub_origin
    JOIN spock.node_interface i ON i.if_id = s.sub_origin_if
    WHERE $1 IS NULL OR s.sub_name = $1
    UNION ALL
    SELECT spock._raise(format('subscription %s not found', $1)), NULL, NULL, NULL, NULL, NULL, NULL
    WHERE $1 IS NOT NULL AND NOT EXISTS (SELECT 1 FROM spock.subscription s WHERE s.sub_name = $1)
    ORDER BY 1
$$;

CREATE FUNCTION spock.sub_wait_for_sync(subscription_name name)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE s spock.subscription := spock._sub_get($1); dead int := 0;
BEGIN
    LOOP
        EXIT WHEN spock._sync_done(s.sub_id);
        IF spock._worker_alive(s.sub_id) THEN
            dead := 0;
        ELSE
            dead := dead + 1;
            IF dead > 60 THEN
                RAISE EXCEPTION 'initial sync of subscription % failed (see the server log)', s.sub_name;
            END IF;
        END IF;
        PERFORM pg_sleep(0.05);
    END LOOP;
END $$;

-- --------------------------------------------------------------- sync events

CREATE FUNCTION spock.sync_event() RETURNS pg_lsn
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO spock.sync_marker (origin_node) VALUES (spock._require_local_node());
    RETURN pg_current_wal_insert_lsn();
END $$;

CREATE PROCEDURE spock.wait_for_sync_event(OUT result bool, origin_id oid, lsn pg_lsn,
    timeout int DEFAULT 0, wait_if_disabled bool DEFAULT false)
LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz := clock_timestamp();
    local_id oid := spock._require_local_node();
    pos pg_lsn;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM spock.node WHERE node_id = origin_id) THEN
        RAISE EXCEPTION 'origin node % not found', origin_id USING ERRCODE = 'undefined_object';
    END IF;
    LOOP
        IF NOT wait_if_disabled AND NOT EXISTS (
            SELECT 1 FROM spock.subscription s
            WHERE s.sub_origin = origin_id AND s.sub_target = local_id AND s.sub_enabled) THEN
            RAISE EXCEPTION 'no enabled subscription from origin node % to this node', origin_id
                USING ERRCODE = 'object_not_in_prerequisite_state';
        END IF;
        SELECT p.remote_commit_lsn INTO pos FROM spock.progress p WHERE p.remote_node_id = origin_id;
        IF pos >= lsn THEN
            result := true;
            RETURN;
        END IF;
        IF timeout > 0 AND clock_timestamp() - t0 >= make_interval(secs => timeout) THEN
            result := false;
            RETURN;
        END IF;
        PERFORM pg_sleep(0.02);
    END LOOP;
END $$;

CREATE PROCEDURE spock.wait_for_sync_event(OUT result bool, origin name, lsn pg_lsn,
    timeout int DEFAULT 0, wait_if_disabled bool DEFAULT false)
LANGUAGE plpgsql AS $$
DECLARE oid_ oid;
BEGIN
    SELECT node_id INTO oid_ FROM spock.node WHERE node_name = origin;
    IF oid_ IS NULL THEN
        RAISE EXCEPTION 'origin node % not found', origin USING ERRCODE = 'undefined_object';
    END IF;
    CALL spock.wait_for_sync_event(result, oid_, lsn, timeout, wait_if_disabled);
END $$;

-- --------------------------------------------------------------------- DDL

CREATE FUNCTION spock.replicate_ddl(command text, replication_sets text[] DEFAULT '{ddl_sql}',
    search_path text DEFAULT current_setting('search_path'), role text DEFAULT CURRENT_USER)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE old_path text := current_setting('search_path');
BEGIN
    PERFORM set_config('search_path', $3, true);
    EXECUTE $1;
    PERFORM set_config('search_path', old_path, true);
    INSERT INTO spock.queue (role, replication_sets, message_type, message)
    VALUES ($4, $2, 'D', json_build_object('command', $1, 'search_path', $3));
    RETURN true;
END $$;

-- Runs replicated DDL on a subscriber (apply workers run with
-- session_replication_role = replica, hence ENABLE ALWAYS).
CREATE FUNCTION spock._queue_apply() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE old_path text := current_setting('search_path');
BEGIN
    IF current_setting('session_replication_role') <> 'replica' OR NEW.message_type <> 'D' THEN
        RETURN NULL;
    END IF;
    PERFORM set_config('search_path', NEW.message->>'search_path', true);
    EXECUTE NEW.message->>'command';
    PERFORM set_config('search_path', old_path, true);
    RETURN NULL;
END $$;

CREATE TRIGGER queue_apply AFTER INSERT ON spock.queue
    FOR EACH ROW EXECUTE FUNCTION spock._queue_apply();
ALTER TABLE spock.queue ENABLE ALWAYS TRIGGER queue_apply;

-- ------------------------------------------- provider side of a data copy

-- Disables this node's enabled native subscriptions; returns their names.
CREATE FUNCTION spock._pause_apply_disable() RETURNS text[]
LANGUAGE plpgsql AS $$
DECLARE names text[]; n text;
BEGIN
    SELECT coalesce(array_agg(subname::text ORDER BY subname), '{}') INTO names
    FROM pg_subscription WHERE subenabled AND subdbid = spock._dboid();
    FOREACH n IN ARRAY names LOOP
        EXECUTE format('ALTER SUBSCRIPTION %I DISABLE', n);
        INSERT INTO spock._paused (subname, pauser_pid) VALUES (n, pg_backend_pid())
        ON CONFLICT (subname) DO UPDATE SET pauser_pid = EXCLUDED.pauser_pid, paused_at = now();
    END LOOP;
    IF cardinality(names) > 0 THEN
        PERFORM spock._start_pause_watchdog(pg_backend_pid());
    END IF;
    RETURN names;
END $$;

-- Resumes what a dead pauser left paused (run by the pause watchdog).
CREATE FUNCTION spock._pause_watchdog(pauser int) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
    LOOP
        EXIT WHEN NOT EXISTS (SELECT 1 FROM spock._paused WHERE pauser_pid = pauser);
        IF NOT spock._pid_alive(pauser) THEN
            FOR r IN SELECT subname FROM spock._paused WHERE pauser_pid = pauser LOOP
                IF spock._native_exists(r.subname) THEN
                    EXECUTE format('ALTER SUBSCRIPTION %I ENABLE', r.subname);
                END IF;
                RAISE LOG 'spock: resumed subscription % paused by vanished backend %', r.subname, pauser;
            END LOOP;
            DELETE FROM spock._paused WHERE pauser_pid = pauser;
            EXIT;
        END IF;
        PERFORM pg_sleep(0.2);
    END LOOP;
    RETURN true;
END $$;

-- Waits until the apply workers of those subscriptions are gone.
CREATE FUNCTION spock._pause_apply_wait(names text[]) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz := clock_timestamp(); r record; busy boolean;
BEGIN
    LOOP
        busy := false;
        FOR r IN SELECT pss.pid FROM pg_stat_subscription pss JOIN pg_subscription ps ON ps.oid = pss.subid
                 WHERE ps.subname::text = ANY(names) AND ps.subdbid = spock._dboid() AND pss.pid IS NOT NULL
        LOOP
            busy := true;
            PERFORM pg_terminate_backend(r.pid);
        END LOOP;
        EXIT WHEN NOT busy;
        IF clock_timestamp() - t0 > interval '30 s' THEN
            RAISE EXCEPTION 'apply workers did not stop';
        END IF;
        PERFORM pg_sleep(0.02);
    END LOOP;
    RETURN true;
END $$;

CREATE FUNCTION spock._resume_apply(names text[]) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE n text;
BEGIN
    FOREACH n IN ARRAY names LOOP
        IF spock._native_exists(n) THEN
            EXECUTE format('ALTER SUBSCRIPTION %I ENABLE', n);
        END IF;
    END LOOP;
    DELETE FROM spock._paused WHERE subname = ANY (names);
    RETURN true;
END $$;

-- ------------------------------------------------------------- sync worker

-- One step of the sync worker; returns the next step, 0 to stop.
--   1: wait for the creating transaction; pick full sync (2) or watch (4)
--   2: (pause provider apply,) create the slot, read positions (no local xid)
--   3: copy structure/data from the snapshot, create and enable the native sub
--   4: wait until the native apply worker runs, then stop
CREATE FUNCTION spock._sync_step(p_subid oid, p_step int, p_xid int8) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
    s spock.subscription;
    k "char";
    pdsn text;
    ldsn text;
    prov_name name;
    missing text[];
    paused text[];
    slot record;
    positions jsonb;
    cmd text;
    bindir text := spock._bindir();
    tabs text;
    filtered text;
    r record;
    t0 timestamptz;
BEGIN
    SELECT * INTO s FROM spock.subscription WHERE sub_id = p_subid;

    IF p_step = 1 THEN
        WHILE pg_xact_status(p_xid::text::xid8) = 'in progress' LOOP
            PERFORM pg_sleep(0.02);
        END LOOP;
        SELECT * INTO s FROM spock.subscription WHERE sub_id = p_subid;
        IF NOT FOUND OR NOT s.sub_enabled THEN
            RETURN 0;
        END IF;
        PERFORM set_config('application_name', 'spock sync ' || s.sub_name, false);
        IF spock._sync_done(p_subid) THEN
            RETURN 4;
        END IF;
        RETURN 2;
    END IF;

    SELECT if_dsn INTO pdsn FROM spock.node_interface WHERE if_id = s.sub_origin_if;
    SELECT node_name INTO prov_name FROM spock.node WHERE node_id = s.sub_origin;
    SELECT sync_kind INTO k FROM spock.local_sync_status WHERE sync_subid = p_subid AND sync_nspname IS NULL;

    IF p_step = 2 THEN
        SELECT array_agg(x) INTO missing FROM unnest(s.sub_replication_sets) x
        WHERE x NOT IN (SELECT t.n FROM dblink(pdsn,
            'SELECT set_name::text FROM spock.replication_set WHERE set_nodeid = (SELECT node_id FROM spock.local_node)')
            AS t(n text));
        IF missing IS NOT NULL THEN
            RAISE EXCEPTION 'replication set(s) % not found on provider %', missing, prov_name;
        END IF;
        IF 'spock_sync_ctl' = ANY (coalesce(dblink_get_connections(), '{}')) THEN
            PERFORM dblink_disconnect('spock_sync_ctl');
        END IF;
        IF 'spock_sync_repl' = ANY (coalesce(dblink_get_connections(), '{}')) THEN
            PERFORM dblink_disconnect('spock_sync_repl');
        END IF;
        PERFORM dblink_connect('spock_sync_ctl', pdsn);
        -- an existing inactive slot of that name is dropped and made again
        PERFORM spock._drop_remote_slot(pdsn, s.sub_slot_name, false);
        PERFORM dblink_connect('spock_sync_repl', spock._dsn_add(pdsn, 'replication', 'database'));
        paused := '{}';
        IF k IN ('d', 'f') THEN
            SELECT t.v INTO paused FROM dblink('spock_sync_ctl', 'SELECT spock._pause_apply_disable()') AS t(v text[]);
        END IF;
        BEGIN
            IF cardinality(paused) > 0 THEN
                PERFORM * FROM dblink('spock_sync_ctl', format('SELECT spock._pause_apply_wait(%L)', paused)) AS t(b boolean);
            END IF;
            SELECT * INTO slot FROM dblink('spock_sync_repl',
                format('CREATE_REPLICATION_SLOT %I LOGICAL spock_output (SNAPSHOT ''export'')', s.sub_slot_name))
                AS t(slot_name text, consistent_point text, snapshot_name text, output_plugin text);
            SELECT t.v INTO positions FROM dblink('spock_sync_ctl', format(
                'SELECT coalesce(jsonb_object_agg(remote_node_id::text, remote_commit_lsn::text), ''{}'') FROM spock.progress WHERE remote_node_id <> %s',
                s.sub_target)) AS t(v jsonb);
            PERFORM * FROM dblink('spock_sync_ctl', format(
                'INSERT INTO spock._snapshot_log (slot_name, consistent_point, snapshot_name, positions) VALUES (%L, %L, %L, %L) RETURNING 1',
                s.sub_slot_name, slot.consistent_point, slot.snapshot_name, positions)) AS t(x int);
        EXCEPTION WHEN OTHERS THEN
            IF cardinality(paused) > 0 THEN
                PERFORM * FROM dblink('spock_sync_ctl', format('SELECT spock._resume_apply(%L)', paused)) AS t(b boolean);
            END IF;
            RAISE;
        END;
        IF cardinality(paused) > 0 THEN
            PERFORM * FROM dblink('spock_sync_ctl', format('SELECT spock._resume_apply(%L)', paused)) AS t(b boolean);
        END IF;
        PERFORM set_config('spock_double.snapshot', slot.snapshot_name, false);
        PERFORM set_config('spock_double.consistent_point', slot.consistent_point, false);
        PERFORM set_config('spock_double.positions', coalesce(positions, '{}')::text, false);
        RETURN 3;
    END IF;

    IF p_step = 3 THEN
        SELECT i.if_dsn INTO ldsn FROM spock.local_node l JOIN spock.node_interface i ON i.if_id = l.node_local_interface;
        IF k IN ('s', 'f') THEN
            cmd := format('f=$(mktemp) || exit 1; %s --schema-only --no-publications --no-subscriptions --exclude-schema=spock%s --snapshot=%s -d %s -f "$f" && %s -X -q -v ON_ERROR_STOP=1 -d %s -f "$f" >/dev/null; rc=$?; rm -f "$f"; exit $rc',
                spock._shq(bindir || '/pg_dump'),
                coalesce((SELECT string_agg(' --exclude-schema=' || spock._shq(x), '') FROM unnest(s.sub_skip_schema) x), ''),
                spock._shq(current_setting('spock_double.snapshot')), spock._shq(pdsn),
                spock._shq(bindir || '/psql'), spock._shq(ldsn));
            PERFORM spock._run_shell(cmd);
        END IF;
        IF k IN ('d', 'f') THEN
            -- Per relation on the provider: its column list and row filter
            -- over the subscribed sets (NULL = all columns / all rows, which
            -- is the case as soon as one set has the relation without them).
            tabs := NULL;
            filtered := '';
            FOR r IN SELECT * FROM dblink('spock_sync_ctl', format($q$
                SELECT format('%%I.%%I', n.nspname, c.relname),
                       CASE WHEN bool_or(m.cols IS NULL) THEN NULL ELSE max(m.cols) END,
                       CASE WHEN bool_or(m.filter IS NULL) THEN NULL ELSE string_agg('(' || m.filter || ')', ' OR ') END
                FROM spock.replication_set rs
                JOIN spock.local_node ln ON ln.node_id = rs.set_nodeid
                JOIN LATERAL (SELECT x.set_reloid::oid AS relid,
                                     (SELECT string_agg(quote_ident(a), ', ') FROM unnest(x.set_att_list) a) AS cols,
                                     pg_get_expr(x.set_row_filter, x.set_reloid) AS filter
                              FROM spock.replication_set_table x WHERE x.set_id = rs.set_id
                              UNION ALL
                              SELECT y.set_seqoid::oid, NULL, NULL FROM spock.replication_set_seq y WHERE y.set_id = rs.set_id) m ON true
                JOIN pg_class c ON c.oid = m.relid
                JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE rs.set_name = ANY (%L::text[]) AND n.nspname <> 'spock' AND NOT (n.nspname = ANY (%L::text[]))
                GROUP BY n.nspname, c.relname
            $q$, s.sub_replication_sets, coalesce(s.sub_skip_schema, '{}'))) AS t(q text, cols text, filter text)
            LOOP
                IF r.cols IS NULL AND r.filter IS NULL THEN
                    tabs := coalesce(tabs, '') || ' -t ' || spock._shq(r.q);
                ELSE
                    filtered := filtered || format(
                        ' && %s -X -q -v ON_ERROR_STOP=1 -d %s -c %s -c %s -c %s -c COMMIT >"$f" && %s -X -q -v ON_ERROR_STOP=1 -d %s -c %s -c %s <"$f"',
                        spock._shq(bindir || '/psql'), spock._shq(pdsn),
                        spock._shq('BEGIN ISOLATION LEVEL REPEATABLE READ'),
                        spock._shq(format('SET TRANSACTION SNAPSHOT %L', current_setting('spock_double.snapshot'))),
                        spock._shq(format('COPY (SELECT %s FROM %s%s) TO STDOUT', coalesce(r.cols, '*'), r.q,
                                          CASE WHEN r.filter IS NOT NULL THEN ' WHERE ' || r.filter ELSE '' END)),
                        spock._shq(bindir || '/psql'), spock._shq(ldsn),
                        spock._shq('SET session_replication_role = replica'),
                        spock._shq(format('COPY %s%s FROM STDIN', r.q, coalesce(' (' || r.cols || ')', ''))));
                END IF;
            END LOOP;
            IF tabs IS NOT NULL THEN
                cmd := format('f=$(mktemp) || exit 1; %s --data-only --disable-triggers --snapshot=%s -d %s%s -f "$f" && %s -X -q -v ON_ERROR_STOP=1 -d %s -f "$f" >/dev/null; rc=$?; rm -f "$f"; exit $rc',
                    spock._shq(bindir || '/pg_dump'), spock._shq(current_setting('spock_double.snapshot')),
                    spock._shq(pdsn), tabs, spock._shq(bindir || '/psql'), spock._shq(ldsn));
                PERFORM spock._run_shell(cmd);
            END IF;
            IF filtered <> '' THEN
                PERFORM spock._run_shell('f=$(mktemp) || exit 1; true' || filtered || '; rc=$?; rm -f "$f"; exit $rc');
            END IF;
            FOR r IN SELECT key::oid AS node, value::pg_lsn AS lsn
                     FROM jsonb_each_text(current_setting('spock_double.positions')::jsonb)
            LOOP
                INSERT INTO spock._copy_progress (remote_node_id, remote_commit_lsn, sub_id)
                VALUES (r.node, r.lsn, p_subid)
                ON CONFLICT (remote_node_id) DO UPDATE
                    SET remote_commit_lsn = greatest(spock._copy_progress.remote_commit_lsn, EXCLUDED.remote_commit_lsn),
                        sub_id = EXCLUDED.sub_id, updated_at = now();
            END LOOP;
        END IF;
        PERFORM spock._create_native(p_subid);
        PERFORM spock._origin_ensure(s.sub_slot_name);
        PERFORM spock._origin_forward(s.sub_slot_name, current_setting('spock_double.consistent_point')::pg_lsn);
        PERFORM spock._enable_native(p_subid);
        UPDATE spock.local_sync_status SET sync_status = 'r',
               sync_statuslsn = current_setting('spock_double.consistent_point')::pg_lsn
        WHERE sync_subid = p_subid AND sync_nspname IS NULL;
        RETURN 4;
    END IF;

    IF p_step = 4 THEN
        IF 'spock_sync_repl' = ANY (coalesce(dblink_get_connections(), '{}')) THEN
            PERFORM dblink_disconnect('spock_sync_repl');
        END IF;
        IF 'spock_sync_ctl' = ANY (coalesce(dblink_get_connections(), '{}')) THEN
            PERFORM dblink_disconnect('spock_sync_ctl');
        END IF;
        t0 := clock_timestamp();
        WHILE spock._native_pid(s.sub_name) IS NULL AND clock_timestamp() - t0 < interval '30 s' LOOP
            PERFORM pg_sleep(0.02);
        END LOOP;
        RETURN 0;
    END IF;
    RETURN 0;
END $$;

-- Everything the double runs relies on this search path.
DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT p.oid::regprocedure AS f FROM pg_proc p
             WHERE p.pronamespace = 'spock'::regnamespace AND p.prolang <> 13 /* not C */ AND p.prokind <> 'a'
    LOOP
        EXECUTE format('ALTER ROUTINE %s SET search_path = pg_catalog, spock, public', r.f);
    END LOOP;
END $$;
