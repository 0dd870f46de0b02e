// Package webhook delivers lifecycle events to the host's endpoints per spec section 8 and the Standard
// Webhooks spec, and manages those endpoints for the API and console.
//
// The events table is the outbox: events.Record writes an event in the transaction of its change, with
// fanned_out_at NULL. A Dispatcher turns such events into one delivery per subscribed, enabled endpoint
// and marks them, in one transaction (rows locked FOR UPDATE SKIP LOCKED on PostgreSQL), so an event is
// fanned out exactly once however many replicas run, and one that commits late is still found. Nothing
// here relies on seq order to find work.
//
// Deliveries are claimed with a lease by one statement that takes only due, unleased deliveries of
// enabled endpoints whose connection has no earlier delivery pending for the same endpoint (nor an
// earlier event not yet fanned out): each endpoint gets a connection's events in order, and a retrying
// event holds back the later ones. A dispatcher that dies leaves leases that lapse, and another sends
// again under the same webhook-id (the event id): at least once.
//
// Each attempt is a POST of the event's stored payload, byte for byte, signed with every active secret of
// the endpoint (webhook-signature "v1,<base64 HMAC-SHA256 of id.timestamp.body>", space-separated during a
// rotation) by the official Standard Webhooks Go library. Attempts time out, read at most 64 KiB of the
// answer and keep 1 KiB, follow no redirect, and are logged with status, latency and error. Failures are
// retried on DefaultSchedule (Retry-After on 429 and 503 is a floor); a 410 disables the endpoint and
// stops its pending deliveries. Secrets are sealed under the key ring with the endpoint id as associated
// data and are shown only once, when created or rotated.
package webhook
