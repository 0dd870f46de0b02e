package store

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"time"
)

// Event is one recorded lifecycle event. Seq is assigned by the database in insertion order (on
// PostgreSQL that can differ from commit order); Payload is JSON chosen by the caller.
type Event struct {
	Seq                               int64
	ID, Type, TenantKey, ConnectionID string
	Payload                           []byte
	CreatedAt                         time.Time
}

// EventFilter selects events for ListEvents.
type EventFilter struct {
	TenantKey    string // "" means every tenant (admin)
	ConnectionID string
	Types        []string // any of these; empty means all
	Limit        int      // 1..MaxLimit, 0 means DefaultLimit
	Cursor       string   // from the previous page; "" for the first
}

type eventRow struct {
	Seq          int64          `db:"seq"`
	ID           string         `db:"id"`
	Type         string         `db:"type"`
	TenantKey    string         `db:"tenant_key"`
	ConnectionID sql.NullString `db:"connection_id"`
	Payload      string         `db:"payload"`
	CreatedAt    int64          `db:"created_at"`
}

func (r *eventRow) event() Event {
	return Event{
		Seq: r.Seq, ID: r.ID, Type: r.Type, TenantKey: r.TenantKey, ConnectionID: r.ConnectionID.String,
		Payload: []byte(r.Payload), CreatedAt: fromMicros(r.CreatedAt),
	}
}

const eventColumns = "seq, id, type, tenant_key, connection_id, payload, created_at"

// InsertEvent records e, normally inside the transaction of the change it describes. It assigns Seq, an
// "evt_" ID when empty, CreatedAt when zero and "{}" for an empty payload; a duplicate ID is ErrConflict.
func (q *Queries) InsertEvent(ctx context.Context, e *Event) error {
	if e.ID == "" {
		e.ID = NewID(PrefixEvent)
	}
	e.CreatedAt = fromMicros(micros(nowIfZero(e.CreatedAt)))
	if len(e.Payload) == 0 {
		e.Payload = []byte("{}")
	}
	// The payload goes in as a string: SQLite's STRICT TEXT column refuses a BLOB.
	return q.get(ctx, "insert event", &e.Seq, `INSERT INTO events (id, type, tenant_key, connection_id, payload,
		created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING seq`,
		e.ID, e.Type, e.TenantKey, nullString(e.ConnectionID), string(e.Payload), micros(e.CreatedAt))
}

// ListEvents returns a page of events, newest first, and the cursor of the next page ("" after the last).
func (q *Queries) ListEvents(ctx context.Context, f EventFilter) ([]Event, string, error) {
	limit := clampLimit(f.Limit)
	var c conds
	if f.Cursor != "" {
		s, err := decodeCursor(f.Cursor)
		if err != nil {
			return nil, "", err
		}
		before, err := strconv.ParseInt(s, 10, 64)
		if err != nil || before <= 0 {
			return nil, "", ErrInvalidCursor
		}
		c.add("seq < ?", before)
	}
	if f.TenantKey != "" {
		c.add("tenant_key = ?", f.TenantKey)
	}
	if f.ConnectionID != "" {
		c.add("connection_id = ?", f.ConnectionID)
	}
	if len(f.Types) > 0 {
		marks := strings.TrimSuffix(strings.Repeat("?, ", len(f.Types)), ", ")
		args := make([]any, len(f.Types))
		for i, t := range f.Types {
			args[i] = t
		}
		c.add("type IN ("+marks+")", args...)
	}
	var rows []eventRow
	query := "SELECT " + eventColumns + " FROM events" + c.where() + " ORDER BY seq DESC LIMIT ?"
	if err := q.selectAll(ctx, "list events", &rows, query, append(c.args, limit+1)...); err != nil {
		return nil, "", err
	}
	next := ""
	if len(rows) > limit {
		rows = rows[:limit]
		next = encodeCursor(strconv.FormatInt(rows[limit-1].Seq, 10))
	}
	out := make([]Event, len(rows))
	for i := range rows {
		out[i] = rows[i].event()
	}
	return out, next, nil
}
