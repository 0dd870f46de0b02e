// Package events names the lifecycle events and records them in the
// caller's transaction, so an event exists exactly when its change does
// (the outbox the webhook dispatcher and GET /events read).
package events

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hitchdev/hitch/internal/store"
)

// The lifecycle event types of the product contract.
const (
	ConnectionCreated      = "connection.created"
	ConnectionDeleted      = "connection.deleted"
	ConnectionDisconnected = "connection.disconnected"
	ConnectionReconnected  = "connection.reconnected"
)

// Types lists every event type, in a stable order.
var Types = []string{ConnectionCreated, ConnectionDeleted, ConnectionDisconnected, ConnectionReconnected}

// Known reports whether t is an event type.
func Known(t string) bool {
	for _, k := range Types {
		if k == t {
			return true
		}
	}
	return false
}

// Payload is the body delivered to webhooks and returned by GET /events.
type Payload struct {
	Type      string `json:"type"`
	Timestamp string `json:"timestamp"`
	Data      any    `json:"data"`
}

// Record writes one event inside q's transaction. connection is the public
// view of the connection (it must never hold credentials).
func Record(ctx context.Context, q *store.Queries, typ, tenantKey, connectionID string, connection any, at time.Time) (store.Event, error) {
	if !Known(typ) {
		return store.Event{}, fmt.Errorf("events: unknown type %q", typ)
	}
	body, err := json.Marshal(Payload{
		Type:      typ,
		Timestamp: at.UTC().Format(time.RFC3339),
		Data:      map[string]any{"connection": connection},
	})
	if err != nil {
		return store.Event{}, fmt.Errorf("events: encode payload: %w", err)
	}
	ev := store.Event{
		ID:           store.NewID("evt"),
		Type:         typ,
		TenantKey:    tenantKey,
		ConnectionID: connectionID,
		Payload:      body,
		CreatedAt:    at.UTC(),
	}
	if err := q.InsertEvent(ctx, &ev); err != nil {
		return store.Event{}, fmt.Errorf("events: record %s: %w", typ, err)
	}
	return ev, nil
}
