-- Times are BIGINT unix microseconds (see package store). Id and key columns use COLLATE "C" so that
-- ORDER BY id is byte order, as on SQLite, and keyset pagination is identical on both databases.

-- +goose Up
CREATE TABLE tenants (
    key        TEXT COLLATE "C" PRIMARY KEY,
    name       TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE connections (
    id                TEXT COLLATE "C" PRIMARY KEY,
    tenant_key        TEXT COLLATE "C" NOT NULL REFERENCES tenants (key),
    app_key           TEXT COLLATE "C" NOT NULL,
    name              TEXT NOT NULL DEFAULT '',
    auth_type         TEXT NOT NULL,
    credentials       BYTEA,
    key_id            TEXT COLLATE "C" NOT NULL DEFAULT '',
    input             TEXT NOT NULL DEFAULT '{}',
    disconnected      BOOLEAN NOT NULL DEFAULT FALSE,
    error_code        TEXT,
    error_message     TEXT,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    archived_at       BIGINT,
    access_expires_at BIGINT,
    last_refresh_at   BIGINT,
    next_refresh_at   BIGINT,
    retry_attempts    INTEGER NOT NULL DEFAULT 0,
    lease_owner       TEXT,
    lease_until       BIGINT
);
CREATE INDEX connections_tenant_id ON connections (tenant_key, id);
CREATE INDEX connections_due ON connections (next_refresh_at) WHERE archived_at IS NULL AND next_refresh_at IS NOT NULL;
CREATE INDEX connections_app ON connections (app_key);

CREATE TABLE connect_sessions (
    id                   TEXT COLLATE "C" PRIMARY KEY,
    tenant_key           TEXT COLLATE "C" NOT NULL REFERENCES tenants (key),
    tenant_name          TEXT NOT NULL DEFAULT '',
    app_key              TEXT COLLATE "C",
    intent               TEXT,
    connection_id        TEXT COLLATE "C" REFERENCES connections (id),
    name                 TEXT,
    host_origin          TEXT,
    code_hash            TEXT COLLATE "C" UNIQUE,
    code_used_at         BIGINT,
    browser_hash         TEXT COLLATE "C",
    detached             BOOLEAN NOT NULL DEFAULT FALSE,
    status               TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'completed', 'failed', 'cancelled', 'expired')),
    result_connection_id TEXT COLLATE "C" REFERENCES connections (id),
    error_code           TEXT,
    error_message        TEXT,
    oauth_state_hash     TEXT COLLATE "C" UNIQUE,
    oauth_data           BYTEA,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL,
    expires_at           BIGINT NOT NULL
);
CREATE INDEX connect_sessions_tenant_id ON connect_sessions (tenant_key, id);
CREATE INDEX connect_sessions_pending_expiry ON connect_sessions (expires_at) WHERE status = 'pending';

CREATE TABLE events (
    seq           BIGSERIAL PRIMARY KEY,
    id            TEXT COLLATE "C" NOT NULL UNIQUE,
    type          TEXT NOT NULL,
    tenant_key    TEXT COLLATE "C" NOT NULL,
    connection_id TEXT COLLATE "C",
    payload       TEXT NOT NULL DEFAULT '{}',
    created_at    BIGINT NOT NULL
);
CREATE INDEX events_tenant_seq ON events (tenant_key, seq);
CREATE INDEX events_connection_seq ON events (connection_id, seq);

CREATE TABLE webhook_endpoints (
    id              TEXT COLLATE "C" PRIMARY KEY,
    url             TEXT NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    event_types     TEXT NOT NULL DEFAULT '[]',
    secrets         BYTEA NOT NULL,
    key_id          TEXT COLLATE "C" NOT NULL DEFAULT '',
    source          TEXT NOT NULL CHECK (source IN ('env', 'api')),
    disabled_at     BIGINT,
    disabled_reason TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

CREATE TABLE webhook_deliveries (
    id               TEXT COLLATE "C" PRIMARY KEY,
    event_seq        BIGINT NOT NULL REFERENCES events (seq),
    endpoint_id      TEXT COLLATE "C" NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    status           TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'delivered', 'failed', 'disabled')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT,
    lease_owner      TEXT,
    lease_until      BIGINT,
    last_status_code INTEGER,
    last_error       TEXT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    delivered_at     BIGINT
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_endpoint_id ON webhook_deliveries (endpoint_id, id);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_seq);

CREATE TABLE webhook_attempts (
    id               TEXT COLLATE "C" PRIMARY KEY,
    delivery_id      TEXT COLLATE "C" NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempted_at     BIGINT NOT NULL,
    status_code      INTEGER,
    latency_ms       INTEGER NOT NULL DEFAULT 0,
    response_excerpt TEXT,
    error            TEXT
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, attempted_at);

CREATE TABLE app_settings (
    app_key       TEXT COLLATE "C" PRIMARY KEY,
    enabled       BOOLEAN NOT NULL DEFAULT TRUE,
    client_id     TEXT NOT NULL DEFAULT '',
    client_secret BYTEA,
    key_id        TEXT COLLATE "C" NOT NULL DEFAULT '',
    updated_at    BIGINT NOT NULL
);

CREATE TABLE admins (
    id            TEXT COLLATE "C" PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_login_at BIGINT
);

CREATE TABLE refresh_attempts (
    id            TEXT COLLATE "C" PRIMARY KEY,
    connection_id TEXT COLLATE "C" NOT NULL REFERENCES connections (id),
    attempted_at  BIGINT NOT NULL,
    outcome       TEXT NOT NULL,
    error_code    TEXT,
    error_message TEXT,
    duration_ms   INTEGER NOT NULL DEFAULT 0
);
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
