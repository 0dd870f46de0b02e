-- A version of each tenant's connection list, so a process can serve a list page it rendered before
-- (connect.Lister) after one cheap read that proves nothing listed has changed since, in any process.
-- Keep in step with ../postgres, which explains the stripes; SQLite has a single writer, so here every
-- tenant has one row, stripe 0, and the reading query is the same.

-- +goose Up
CREATE TABLE connection_list_versions (
    tenant_key TEXT NOT NULL,
    stripe     INTEGER NOT NULL,
    version    INTEGER NOT NULL,
    PRIMARY KEY (tenant_key, stripe)
) STRICT, WITHOUT ROWID;

-- +goose StatementBegin
CREATE TRIGGER connections_list_insert AFTER INSERT ON connections
BEGIN
    INSERT INTO connection_list_versions (tenant_key, stripe, version) VALUES (NEW.tenant_key, 0, 1)
    ON CONFLICT (tenant_key, stripe) DO UPDATE SET version = version + 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER connections_list_delete AFTER DELETE ON connections
BEGIN
    INSERT INTO connection_list_versions (tenant_key, stripe, version) VALUES (OLD.tenant_key, 0, 1)
    ON CONFLICT (tenant_key, stripe) DO UPDATE SET version = version + 1;
END;
-- +goose StatementEnd

-- Only the columns a list shows: a lease claim or a key rotation changes none of them.
-- +goose StatementBegin
CREATE TRIGGER connections_list_update AFTER UPDATE ON connections
WHEN OLD.id IS NOT NEW.id OR OLD.tenant_key IS NOT NEW.tenant_key OR OLD.app_key IS NOT NEW.app_key
    OR OLD.name IS NOT NEW.name OR OLD.auth_type IS NOT NEW.auth_type OR OLD.input IS NOT NEW.input
    OR OLD.disconnected IS NOT NEW.disconnected OR OLD.error_code IS NOT NEW.error_code
    OR OLD.error_message IS NOT NEW.error_message OR OLD.created_at IS NOT NEW.created_at
    OR OLD.updated_at IS NOT NEW.updated_at OR OLD.archived_at IS NOT NEW.archived_at
    OR OLD.last_refresh_at IS NOT NEW.last_refresh_at OR OLD.next_refresh_at IS NOT NEW.next_refresh_at
    OR OLD.retry_attempts IS NOT NEW.retry_attempts
BEGIN
    INSERT INTO connection_list_versions (tenant_key, stripe, version) VALUES (NEW.tenant_key, 0, 1)
    ON CONFLICT (tenant_key, stripe) DO UPDATE SET version = version + 1;
    INSERT INTO connection_list_versions (tenant_key, stripe, version)
    SELECT OLD.tenant_key, 0, 1 WHERE OLD.tenant_key IS NOT NEW.tenant_key
    ON CONFLICT (tenant_key, stripe) DO UPDATE SET version = version + 1;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER connections_list_update;
DROP TRIGGER connections_list_delete;
DROP TRIGGER connections_list_insert;
DROP TABLE connection_list_versions;
