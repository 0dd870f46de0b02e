-- The console on large tables. Keep in step with ../postgres (which also adds trigram search indexes and
-- day-bucket statistics; SQLite has neither, and its tables are small enough to scan).

-- +goose Up
-- "Needs attention" lists disconnected connections by when they broke (updated_at), across tenants.
CREATE INDEX connections_disconnected_updated ON connections (updated_at) WHERE disconnected = 1 AND archived_at IS NULL;

-- +goose Down
DROP INDEX connections_disconnected_updated;
