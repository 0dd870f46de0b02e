-- Admin console: password change stamp on admins and the indexes behind the dashboard and console lists.
-- Keep in step with ../postgres.

-- +goose Up
-- Console sessions issued before this instant are refused, so a password change ends every session issued
-- before it. 0 on rows that predate the column.
ALTER TABLE admins ADD COLUMN password_changed_at INTEGER NOT NULL DEFAULT 0;
-- The dashboard's funnel and refresh activity read a recent time window; without these they scan the
-- whole history. refresh_attempts_attempted also serves PruneRefreshAttempts.
CREATE INDEX connect_sessions_created ON connect_sessions (created_at);
CREATE INDEX refresh_attempts_attempted ON refresh_attempts (attempted_at);
-- "Disconnected, not archived, newest first" across tenants (ListConnections with Disconnected true and no
-- tenant): few rows among many, so ORDER BY id DESC LIMIT reads this small index instead of walking the
-- primary key past every active connection. Written "= 1" because SQLite uses a partial index only when
-- the query's "disconnected = ?" term, with its bound value, matches the index's WHERE term.
CREATE INDEX connections_disconnected_id ON connections (id) WHERE disconnected = 1 AND archived_at IS NULL;

-- +goose Down
DROP INDEX connections_disconnected_id;
DROP INDEX refresh_attempts_attempted;
DROP INDEX connect_sessions_created;
ALTER TABLE admins DROP COLUMN password_changed_at;
