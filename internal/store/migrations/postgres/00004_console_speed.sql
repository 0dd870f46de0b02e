-- The console on large tables: substring search, the dashboard's day buckets and "recently disconnected".
-- Keep in step with ../sqlite.

-- +goose Up
-- "Needs attention" lists disconnected connections by when they broke (updated_at), across tenants.
CREATE INDEX connections_disconnected_updated ON connections (updated_at) WHERE disconnected AND archived_at IS NULL;

-- Substring search (LOWER(col) LIKE '%term%') cannot use a b-tree; pg_trgm's GIN indexes can. The extension
-- is trusted since PostgreSQL 13, but a server may not ship it or the role may not be allowed to create it:
-- then search stays a sequential scan and the migration still succeeds.
-- +goose StatementBegin
DO $$
DECLARE
    ops text;
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
    -- The operator class lives in whichever schema the extension was installed in, maybe not ours.
    SELECT quote_ident(extnamespace::regnamespace::text) || '.gin_trgm_ops' INTO ops FROM pg_extension WHERE extname = 'pg_trgm';
    EXECUTE 'CREATE INDEX connections_search_name ON connections USING gin (LOWER(name) ' || ops || ')';
    EXECUTE 'CREATE INDEX connections_search_app ON connections USING gin (LOWER(app_key) ' || ops || ')';
    EXECUTE 'CREATE INDEX connections_search_id ON connections USING gin (LOWER(id) ' || ops || ')';
    EXECUTE 'CREATE INDEX connections_search_tenant ON connections USING gin (LOWER(tenant_key) ' || ops || ')';
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'pg_trgm is not available (%); connection search will scan', SQLERRM;
END
$$;
-- +goose StatementEnd

-- The dashboard groups by day number; without statistics on that expression the planner expects one group
-- per row and sorts to disk instead of hashing fourteen groups. Expression statistics need PostgreSQL 14.
-- +goose StatementBegin
DO $$
BEGIN
    CREATE STATISTICS connect_sessions_day ON (created_at / 86400000000) FROM connect_sessions;
    CREATE STATISTICS refresh_attempts_day ON (attempted_at / 86400000000) FROM refresh_attempts;
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'expression statistics are not available (%)', SQLERRM;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP STATISTICS IF EXISTS refresh_attempts_day;
DROP STATISTICS IF EXISTS connect_sessions_day;
DROP INDEX IF EXISTS connections_search_tenant;
DROP INDEX IF EXISTS connections_search_id;
DROP INDEX IF EXISTS connections_search_app;
DROP INDEX IF EXISTS connections_search_name;
DROP INDEX connections_disconnected_updated;
