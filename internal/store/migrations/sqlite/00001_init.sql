-- Times are INTEGER unix microseconds and booleans INTEGER 0/1 (see package store). Tables are STRICT so a
-- value of the wrong type is refused instead of silently stored. Keep in step with ../postgres.

-- +goose Up
CREATE TABLE tenants (
    key        TEXT NOT NULL PRIMARY KEY,
    name       TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

CREATE TABLE connections (
    id                TEXT NOT NULL PRIMARY KEY,
    tenant_key        TEXT NOT NULL REFERENCES tenants (key),
    app_key           TEXT NOT NULL,
    name              TEXT NOT NULL DEFAULT '',
    auth_type         TEXT NOT NULL,
    credentials       BLOB,
    key_id            TEXT NOT NULL DEFAULT '',
    input             TEXT NOT NULL DEFAULT '{}',
    disconnected      INTEGER NOT NULL DEFAULT 0 CHECK (disconnected IN (0, 1)),
    error_code        TEXT,
    error_message     TEXT,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    archived_at       INTEGER,
    access_expires_at INTEGER,
    last_refresh_at   INTEGER,
    next_refresh_at   INTEGER,
    retry_attempts    INTEGER NOT NULL DEFAULT 0,
    lease_owner       TEXT,
    lease_until       INTEGER
) STRICT;
CREATE INDEX connections_tenant_id ON connections (tenant_key, id);
CREATE INDEX connections_due ON connections (next_refresh_at) WHERE archived_at IS NULL AND next_refresh_at IS NOT NULL;
CREATE INDEX connections_app ON connections (app_key);

CREATE TABLE connect_sessions (
    id                   TEXT NOT NULL PRIMARY KEY,
    tenant_key           TEXT NOT NULL REFERENCES tenants (key),
    tenant_name          TEXT NOT NULL DEFAULT '',
    app_key              TEXT,
    intent               TEXT,
    connection_id        TEXT REFERENCES connections (id),
    name                 TEXT,
    host_origin          TEXT,
    code_hash            TEXT UNIQUE,
    code_used_at         INTEGER,
    browser_hash         TEXT,
    detached             INTEGER NOT NULL DEFAULT 0 CHECK (detached IN (0, 1)),
    status               TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'completed', 'failed', 'cancelled', 'expired')),
    result_connection_id TEXT REFERENCES connections (id),
    error_code           TEXT,
    error_message        TEXT,
    oauth_state_hash     TEXT UNIQUE,
    oauth_data           BLOB,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    expires_at           INTEGER NOT NULL
) STRICT;
CREATE INDEX connect_sessions_tenant_id ON connect_sessions (tenant_key, id);
CREATE INDEX connect_sessions_pending_expiry ON connect_sessions (expires_at) WHERE status = 'pending';

CREATE TABLE events (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    id            TEXT NOT NULL UNIQUE,
    type          TEXT NOT NULL,
    tenant_key    TEXT NOT NULL,
    connection_id TEXT,
    payload       TEXT NOT NULL DEFAULT '{}',
    created_at    INTEGER NOT NULL
) STRICT;
CREATE INDEX events_tenant_seq ON events (tenant_key, seq);
CREATE INDEX events_connection_seq ON events (connection_id, seq);

CREATE TABLE webhook_endpoints (
    id              TEXT NOT NULL PRIMARY KEY,
    url             TEXT NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    event_types     TEXT NOT NULL DEFAULT '[]',
    secrets         BLOB NOT NULL,
    key_id          TEXT NOT NULL DEFAULT '',
    source          TEXT NOT NULL CHECK (source IN ('env', 'api')),
    disabled_at     INTEGER,
    disabled_reason TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
) STRICT;

CREATE TABLE webhook_deliveries (
    id               TEXT NOT NULL PRIMARY KEY,
    event_seq        INTEGER NOT NULL REFERENCES events (seq),
    endpoint_id      TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    status           TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'delivered', 'failed', 'disabled')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER,
    lease_owner      TEXT,
    lease_until      INTEGER,
    last_status_code INTEGER,
    last_error       TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    delivered_at     INTEGER
) STRICT;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_endpoint_id ON webhook_deliveries (endpoint_id, id);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_seq);

CREATE TABLE webhook_attempts (
    id               TEXT NOT NULL PRIMARY KEY,
    delivery_id      TEXT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempted_at     INTEGER NOT NULL,
    status_code      INTEGER,
    latency_ms       INTEGER NOT NULL DEFAULT 0,
    response_excerpt TEXT,
    error            TEXT
) STRICT;
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, attempted_at);

CREATE TABLE app_settings (
    app_key       TEXT NOT NULL PRIMARY KEY,
    enabled       INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    client_id     TEXT NOT NULL DEFAULT '',
    client_secret BLOB,
    key_id        TEXT NOT NULL DEFAULT '',
    updated_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE admins (
    id            TEXT NOT NULL PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    last_login_at INTEGER
) STRICT;

CREATE TABLE refresh_attempts (
    id            TEXT NOT NULL PRIMARY KEY,
    connection_id TEXT NOT NULL REFERENCES connections (id),
    attempted_at  INTEGER NOT NULL,
    outcome       TEXT NOT NULL,
    error_code    TEXT,
    error_message TEXT,
    duration_ms   INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX refresh_attempts_connection ON refresh_attempts (connection_id, attempted_at);

-- +goose Down
DROP TABLE refresh_attempts;
DROP TABLE admins;
DROP TABLE app_settings;
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_endpoints;
DROP TABLE events;
DROP TABLE connect_sessions;
DROP TABLE connections;
DROP TABLE tenants;
