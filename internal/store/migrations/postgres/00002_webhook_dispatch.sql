-- Webhook dispatch: the outbox marker on events and what the dispatcher needs to keep per-connection order.
-- Keep in step with ../sqlite.

-- +goose Up
-- NULL until the dispatcher has turned the event into deliveries (in the transaction that writes them), so an
-- event committed late (sequence values are taken before commit) is still picked up: nothing relies on seq
-- order to find work.
ALTER TABLE events ADD COLUMN fanned_out_at BIGINT;
CREATE INDEX events_unfanned ON events (seq) WHERE fanned_out_at IS NULL;
CREATE INDEX events_unfanned_connection ON events (connection_id, seq) WHERE fanned_out_at IS NULL;

ALTER TABLE webhook_deliveries ADD COLUMN connection_id TEXT COLLATE "C";
CREATE UNIQUE INDEX webhook_deliveries_event_endpoint ON webhook_deliveries (event_seq, endpoint_id);
CREATE INDEX webhook_deliveries_pending_order ON webhook_deliveries (endpoint_id, connection_id, event_seq)
    WHERE status = 'pending';
-- Claims read due deliveries in (next_attempt_at, event_seq) order; with both in the index the scan stops
-- at the batch size instead of sorting every due row.
DROP INDEX webhook_deliveries_due;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at, event_seq) WHERE status = 'pending';

-- +goose Down
DROP INDEX webhook_deliveries_due;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
DROP INDEX webhook_deliveries_pending_order;
DROP INDEX webhook_deliveries_event_endpoint;
ALTER TABLE webhook_deliveries DROP COLUMN connection_id;
DROP INDEX events_unfanned_connection;
DROP INDEX events_unfanned;
ALTER TABLE events DROP COLUMN fanned_out_at;
