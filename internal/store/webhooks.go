package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// This file holds the webhook tables: endpoints (sealed signing secrets), deliveries (one per event and
// endpoint, leased by dispatchers), the attempts log, and the outbox marker on events that says an event
// has been turned into deliveries.

// ID prefixes of the webhook rows.
const (
	PrefixWebhookEndpoint = "whe"
	PrefixWebhookDelivery = "whd"
	PrefixWebhookAttempt  = "wha"
)

// Webhook endpoint sources: the environment (HITCH_WEBHOOK_URL) or the API.
const (
	WebhookSourceEnv = "env"
	WebhookSourceAPI = "api"
)

// Webhook delivery statuses.
const (
	DeliveryPending   = "pending"   // waiting for its next attempt (or being attempted under a lease)
	DeliveryDelivered = "delivered" // a 2xx answer was recorded
	DeliveryFailed    = "failed"    // every scheduled attempt failed
	DeliveryDisabled  = "disabled"  // its endpoint was disabled before it was delivered
)

// WebhookEndpoint is a receiver of events. Secrets is sealed by the caller (KeyID names the sealing key);
// the type has no JSON tags so it cannot be rendered by accident. EventTypes empty means every type.
type WebhookEndpoint struct {
	ID, URL, Description string
	EventTypes           []string
	Secrets              []byte
	KeyID                string
	Source               string
	DisabledAt           *time.Time
	DisabledReason       string
	CreatedAt, UpdatedAt time.Time
}

// Wants reports whether the endpoint subscribes to events of type typ.
func (e *WebhookEndpoint) Wants(typ string) bool {
	if len(e.EventTypes) == 0 {
		return true
	}
	for _, t := range e.EventTypes {
		if t == typ {
			return true
		}
	}
	return false
}

// WebhookEndpointFilter selects endpoints for ListWebhookEndpoints.
type WebhookEndpointFilter struct {
	Limit  int    // 1..MaxLimit, 0 means DefaultLimit
	Cursor string // from the previous page; "" for the first
}

type webhookEndpointRow struct {
	ID             string         `db:"id"`
	URL            string         `db:"url"`
	Description    string         `db:"description"`
	EventTypes     string         `db:"event_types"`
	Secrets        []byte         `db:"secrets"`
	KeyID          string         `db:"key_id"`
	Source         string         `db:"source"`
	DisabledAt     sql.NullInt64  `db:"disabled_at"`
	DisabledReason sql.NullString `db:"disabled_reason"`
	CreatedAt      int64          `db:"created_at"`
	UpdatedAt      int64          `db:"updated_at"`
}

const webhookEndpointColumns = `id, url, description, event_types, secrets, key_id, source, disabled_at,
	disabled_reason, created_at, updated_at`

func toWebhookEndpointRow(e *WebhookEndpoint) (webhookEndpointRow, error) {
	types := e.EventTypes
	if types == nil {
		types = []string{}
	}
	raw, err := json.Marshal(types)
	if err != nil {
		return webhookEndpointRow{}, fmt.Errorf("store: encode endpoint event types: %w", err)
	}
	return webhookEndpointRow{
		ID: e.ID, URL: e.URL, Description: e.Description, EventTypes: string(raw), Secrets: e.Secrets,
		KeyID: e.KeyID, Source: e.Source, DisabledAt: nullMicros(e.DisabledAt),
		DisabledReason: nullString(e.DisabledReason), CreatedAt: micros(e.CreatedAt), UpdatedAt: micros(e.UpdatedAt),
	}, nil
}

func (r *webhookEndpointRow) endpoint() (WebhookEndpoint, error) {
	var types []string
	if err := json.Unmarshal([]byte(r.EventTypes), &types); err != nil {
		return WebhookEndpoint{}, fmt.Errorf("store: endpoint %s has unreadable event types: %w", r.ID, err)
	}
	return WebhookEndpoint{
		ID: r.ID, URL: r.URL, Description: r.Description, EventTypes: types, Secrets: r.Secrets, KeyID: r.KeyID,
		Source: r.Source, DisabledAt: fromNullMicros(r.DisabledAt), DisabledReason: r.DisabledReason.String,
		CreatedAt: fromMicros(r.CreatedAt), UpdatedAt: fromMicros(r.UpdatedAt),
	}, nil
}

func endpoints(rows []webhookEndpointRow) ([]WebhookEndpoint, error) {
	out := make([]WebhookEndpoint, len(rows))
	for i := range rows {
		var err error
		if out[i], err = rows[i].endpoint(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// InsertWebhookEndpoint stores a new endpoint. An empty ID gets a new "whe_" id, zero times get now; a
// duplicate id is ErrConflict.
func (q *Queries) InsertWebhookEndpoint(ctx context.Context, e *WebhookEndpoint) error {
	if e.ID == "" {
		e.ID = NewID(PrefixWebhookEndpoint)
	}
	e.CreatedAt = fromMicros(micros(nowIfZero(e.CreatedAt)))
	e.UpdatedAt = fromMicros(micros(nowIfZero(e.UpdatedAt)))
	r, err := toWebhookEndpointRow(e)
	if err != nil {
		return err
	}
	_, err = q.namedExec(ctx, "insert webhook endpoint", `INSERT INTO webhook_endpoints (`+webhookEndpointColumns+`)
		VALUES (:id, :url, :description, :event_types, :secrets, :key_id, :source, :disabled_at, :disabled_reason,
		:created_at, :updated_at)`, r)
	return err
}

// GetWebhookEndpoint returns one endpoint, or ErrNotFound.
func (q *Queries) GetWebhookEndpoint(ctx context.Context, id string) (WebhookEndpoint, error) {
	return q.getWebhookEndpoint(ctx, "get webhook endpoint", id, "")
}

// LockWebhookEndpoint is GetWebhookEndpoint that also locks the row until the transaction ends
// (PostgreSQL; SQLite's writer lock already excludes others), for read-modify-write such as rotation.
func (q *Queries) LockWebhookEndpoint(ctx context.Context, id string) (WebhookEndpoint, error) {
	return q.getWebhookEndpoint(ctx, "lock webhook endpoint", id, q.fl.forUpdate)
}

func (q *Queries) getWebhookEndpoint(ctx context.Context, op, id, suffix string) (WebhookEndpoint, error) {
	var r webhookEndpointRow
	if err := q.get(ctx, op, &r, "SELECT "+webhookEndpointColumns+" FROM webhook_endpoints WHERE id = ?"+suffix, id); err != nil {
		return WebhookEndpoint{}, err
	}
	return r.endpoint()
}

// ListWebhookEndpoints returns a page of endpoints, newest first, and the next page's cursor ("" after
// the last).
func (q *Queries) ListWebhookEndpoints(ctx context.Context, f WebhookEndpointFilter) ([]WebhookEndpoint, string, error) {
	limit := clampLimit(f.Limit)
	var c conds
	if err := c.after("id", f.Cursor); err != nil {
		return nil, "", err
	}
	var rows []webhookEndpointRow
	query := "SELECT " + webhookEndpointColumns + " FROM webhook_endpoints" + c.where() + " ORDER BY id DESC LIMIT ?"
	if err := q.selectAll(ctx, "list webhook endpoints", &rows, query, append(c.args, limit+1)...); err != nil {
		return nil, "", err
	}
	next := ""
	if len(rows) > limit {
		rows = rows[:limit]
		next = encodeCursor(rows[limit-1].ID)
	}
	out, err := endpoints(rows)
	return out, next, err
}

// EnabledWebhookEndpoints returns every endpoint that is not disabled, in id order.
func (q *Queries) EnabledWebhookEndpoints(ctx context.Context) ([]WebhookEndpoint, error) {
	return q.enabledWebhookEndpoints(ctx, "enabled webhook endpoints", "")
}

// LockEnabledWebhookEndpoints is EnabledWebhookEndpoints that also locks the rows until the transaction
// ends (PostgreSQL), so no endpoint can be disabled between this read and the deliveries the caller
// writes for it: DisableWebhookEndpoint waits, then sees and stops those deliveries.
func (q *Queries) LockEnabledWebhookEndpoints(ctx context.Context) ([]WebhookEndpoint, error) {
	return q.enabledWebhookEndpoints(ctx, "lock enabled webhook endpoints", q.fl.forUpdate)
}

func (q *Queries) enabledWebhookEndpoints(ctx context.Context, op, suffix string) ([]WebhookEndpoint, error) {
	var rows []webhookEndpointRow
	err := q.selectAll(ctx, op, &rows, "SELECT "+webhookEndpointColumns+
		" FROM webhook_endpoints WHERE disabled_at IS NULL ORDER BY id"+suffix)
	if err != nil {
		return nil, err
	}
	return endpoints(rows)
}

// UpdateWebhookEndpoint writes every mutable field of e (url, description, event types, secrets and their
// key, disabled state, updated_at); an unknown id is ErrNotFound. Re-enabling an endpoint does not revive
// deliveries DisableWebhookEndpoint stopped.
func (q *Queries) UpdateWebhookEndpoint(ctx context.Context, e *WebhookEndpoint) error {
	r, err := toWebhookEndpointRow(e)
	if err != nil {
		return err
	}
	n, err := q.namedExec(ctx, "update webhook endpoint", `UPDATE webhook_endpoints SET url = :url,
		description = :description, event_types = :event_types, secrets = :secrets, key_id = :key_id,
		disabled_at = :disabled_at, disabled_reason = :disabled_reason, updated_at = :updated_at WHERE id = :id`, r)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("store: update webhook endpoint %s: %w", e.ID, ErrNotFound)
	}
	return nil
}

// DisableWebhookEndpoint marks the endpoint disabled (keeping the first disabling time and reason when it
// already is) and stops its pending deliveries, leased ones included. Run it in a transaction: it is two
// statements. changed is false when the endpoint was already disabled; an unknown id is ErrNotFound.
func (q *Queries) DisableWebhookEndpoint(ctx context.Context, id, reason string, now time.Time) (changed bool, err error) {
	n, err := q.exec(ctx, "disable webhook endpoint", `UPDATE webhook_endpoints SET disabled_at = ?,
		disabled_reason = ?, updated_at = ? WHERE id = ? AND disabled_at IS NULL`, micros(now), nullString(reason), micros(now), id)
	if err != nil {
		return false, err
	}
	if n == 0 {
		if _, err := q.GetWebhookEndpoint(ctx, id); err != nil {
			return false, err
		}
	}
	_, err = q.exec(ctx, "stop deliveries of disabled endpoint", `UPDATE webhook_deliveries SET status = 'disabled',
		next_attempt_at = NULL, lease_owner = NULL, lease_until = NULL, updated_at = ?
		WHERE endpoint_id = ? AND status = 'pending'`, micros(now), id)
	return n > 0, err
}

// ClaimUnfannedEvents returns up to limit events not yet turned into deliveries, oldest first, locking
// them until commit. On PostgreSQL rows another transaction holds are skipped, so replicas fanning out at
// once take disjoint batches; call it inside the transaction that writes the deliveries and
// MarkEventsFannedOut.
func (q *Queries) ClaimUnfannedEvents(ctx context.Context, limit int) ([]Event, error) {
	var rows []eventRow
	err := q.selectAll(ctx, "claim unfanned events", &rows, "SELECT "+eventColumns+
		" FROM events WHERE fanned_out_at IS NULL ORDER BY seq LIMIT ?"+q.fl.skipLocked, limit)
	if err != nil {
		return nil, err
	}
	out := make([]Event, len(rows))
	for i := range rows {
		out[i] = rows[i].event()
	}
	return out, nil
}

// HasUnfannedEvents reports whether any event waits to be fanned out; a cheap probe that needs no lock.
func (q *Queries) HasUnfannedEvents(ctx context.Context) (bool, error) {
	var seqs []int64
	if err := q.selectAll(ctx, "probe unfanned events", &seqs,
		"SELECT seq FROM events WHERE fanned_out_at IS NULL LIMIT 1"); err != nil {
		return false, err
	}
	return len(seqs) > 0, nil
}

// MarkEventsFannedOut records that the events' deliveries exist.
func (q *Queries) MarkEventsFannedOut(ctx context.Context, seqs []int64, now time.Time) error {
	for len(seqs) > 0 {
		n := min(len(seqs), 500)
		args := make([]any, 0, n+1)
		args = append(args, micros(now))
		for _, s := range seqs[:n] {
			args = append(args, s)
		}
		if _, err := q.exec(ctx, "mark events fanned out", "UPDATE events SET fanned_out_at = ? WHERE seq IN ("+
			marks(n)+")", args...); err != nil {
			return err
		}
		seqs = seqs[n:]
	}
	return nil
}

// WebhookDelivery is one event on its way to one endpoint. EventID, EventType and ConnectionID come from
// the event; Payload is filled only by ClaimWebhookDeliveries and GetWebhookDelivery. Attempts counts the
// scheduled attempts (redeliveries are logged but not counted).
type WebhookDelivery struct {
	ID, EndpointID, ConnectionID string
	EventSeq                     int64
	EventID, EventType           string
	Payload                      []byte
	Status                       string
	Attempts                     int
	NextAttemptAt                *time.Time
	LastStatusCode               int // 0: no response yet, or the last attempt got none
	LastError                    string
	CreatedAt, UpdatedAt         time.Time
	DeliveredAt                  *time.Time
}

// WebhookDeliveryFilter selects deliveries for ListWebhookDeliveries.
type WebhookDeliveryFilter struct {
	EndpointID string // required
	Status     string // "" means every status
	Limit      int    // 1..MaxLimit, 0 means DefaultLimit
	Cursor     string // from the previous page; "" for the first
}

type webhookDeliveryRow struct {
	ID             string         `db:"id"`
	EventSeq       int64          `db:"event_seq"`
	EndpointID     string         `db:"endpoint_id"`
	ConnectionID   sql.NullString `db:"connection_id"`
	Status         string         `db:"status"`
	Attempts       int            `db:"attempts"`
	NextAttemptAt  sql.NullInt64  `db:"next_attempt_at"`
	LastStatusCode sql.NullInt64  `db:"last_status_code"`
	LastError      sql.NullString `db:"last_error"`
	CreatedAt      int64          `db:"created_at"`
	UpdatedAt      int64          `db:"updated_at"`
	DeliveredAt    sql.NullInt64  `db:"delivered_at"`
	EventID        string         `db:"event_id"`
	EventType      string         `db:"event_type"`
	Payload        sql.NullString `db:"payload"`
}

func (r *webhookDeliveryRow) delivery() WebhookDelivery {
	d := WebhookDelivery{
		ID: r.ID, EndpointID: r.EndpointID, ConnectionID: r.ConnectionID.String, EventSeq: r.EventSeq,
		EventID: r.EventID, EventType: r.EventType, Status: r.Status, Attempts: r.Attempts,
		NextAttemptAt: fromNullMicros(r.NextAttemptAt), LastStatusCode: int(r.LastStatusCode.Int64),
		LastError: r.LastError.String, CreatedAt: fromMicros(r.CreatedAt), UpdatedAt: fromMicros(r.UpdatedAt),
		DeliveredAt: fromNullMicros(r.DeliveredAt),
	}
	if r.Payload.Valid {
		d.Payload = []byte(r.Payload.String)
	}
	return d
}

// deliverySelect reads deliveries with their event's id and type; payload is added where wanted.
const deliverySelect = `SELECT d.id, d.event_seq, d.endpoint_id, d.connection_id, d.status, d.attempts,
	d.next_attempt_at, d.last_status_code, d.last_error, d.created_at, d.updated_at, d.delivered_at,
	e.id AS event_id, e.type AS event_type`

// InsertWebhookDeliveries writes new deliveries (ID empty gets a "whd_" id; Status empty is pending). One
// that already exists for its event and endpoint is skipped, so fanning an event out twice is harmless.
// It returns how many were written.
func (q *Queries) InsertWebhookDeliveries(ctx context.Context, ds []WebhookDelivery) (int64, error) {
	const cols = 8
	var total int64
	for len(ds) > 0 {
		n := min(len(ds), 100)
		args := make([]any, 0, n*cols)
		values := make([]string, n)
		for i := range ds[:n] {
			d := &ds[i]
			if d.ID == "" {
				d.ID = NewID(PrefixWebhookDelivery)
			}
			if d.Status == "" {
				d.Status = DeliveryPending
			}
			d.CreatedAt = fromMicros(micros(nowIfZero(d.CreatedAt)))
			d.UpdatedAt = d.CreatedAt
			values[i] = "(" + marks(cols) + ")"
			args = append(args, d.ID, d.EventSeq, d.EndpointID, nullString(d.ConnectionID), d.Status,
				nullMicros(d.NextAttemptAt), micros(d.CreatedAt), micros(d.UpdatedAt))
		}
		k, err := q.exec(ctx, "insert webhook deliveries", `INSERT INTO webhook_deliveries (id, event_seq,
			endpoint_id, connection_id, status, next_attempt_at, created_at, updated_at) VALUES `+
			strings.Join(values, ", ")+" ON CONFLICT (event_seq, endpoint_id) DO NOTHING", args...)
		if err != nil {
			return total, err
		}
		total += k
		ds = ds[n:]
	}
	return total, nil
}

// WebhookClaim says which deliveries ClaimWebhookDeliveries may take and for how long.
type WebhookClaim struct {
	Owner      string    // the claiming process; results are accepted only from it
	Now        time.Time // deliveries due at or before now
	LeaseUntil time.Time // when an unfinished claim lapses and the delivery is due again
	Limit      int
}

// ClaimWebhookDeliveries leases due pending deliveries of enabled endpoints to c.Owner and returns them
// with their payloads. A delivery is due when its next attempt time has come and any lease has lapsed. It
// is held back while an earlier event of the same connection is still pending for the same endpoint, or
// not yet fanned out, so each endpoint gets a connection's events in order. On PostgreSQL rows another
// transaction is claiming are skipped, so dispatchers on several replicas split the work.
func (q *Queries) ClaimWebhookDeliveries(ctx context.Context, c WebhookClaim) ([]WebhookDelivery, error) {
	if c.Owner == "" || c.Limit <= 0 {
		return nil, fmt.Errorf("store: claim webhook deliveries: owner and a positive limit are required")
	}
	now := micros(c.Now)
	query := `WITH picked AS MATERIALIZED (
			SELECT d.id FROM webhook_deliveries d
			WHERE d.status = 'pending' AND d.next_attempt_at <= ?
				AND (d.lease_until IS NULL OR d.lease_until <= ?)
				AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p
					WHERE p.endpoint_id = d.endpoint_id AND p.connection_id = d.connection_id
						AND p.status = 'pending' AND p.event_seq < d.event_seq)
				AND NOT EXISTS (SELECT 1 FROM events u
					WHERE u.connection_id = d.connection_id AND u.fanned_out_at IS NULL AND u.seq < d.event_seq)
				AND EXISTS (SELECT 1 FROM webhook_endpoints w WHERE w.id = d.endpoint_id AND w.disabled_at IS NULL)
			ORDER BY d.next_attempt_at, d.event_seq LIMIT ?` + q.fl.skipLocked + `)
		UPDATE webhook_deliveries SET lease_owner = ?, lease_until = ?
		WHERE id IN (SELECT id FROM picked)
		RETURNING id`
	var ids []string
	if err := q.selectAll(ctx, "claim webhook deliveries", &ids, query, now, now, c.Limit, c.Owner,
		micros(c.LeaseUntil)); err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	var rows []webhookDeliveryRow
	if err := q.selectAll(ctx, "read claimed webhook deliveries", &rows, deliverySelect+`, e.payload AS payload
		FROM webhook_deliveries d JOIN events e ON e.seq = d.event_seq WHERE d.id IN (`+marks(len(ids))+`)
		ORDER BY d.event_seq`, args...); err != nil {
		return nil, err
	}
	out := make([]WebhookDelivery, len(rows))
	for i := range rows {
		out[i] = rows[i].delivery()
	}
	return out, nil
}

// ReleaseWebhookDeliveries drops owner's leases on the given deliveries without recording an attempt, so
// they are due again at once (a dispatcher stopping before it sent them).
func (q *Queries) ReleaseWebhookDeliveries(ctx context.Context, owner string, ids []string) error {
	for len(ids) > 0 {
		n := min(len(ids), 500)
		args := []any{owner}
		for _, id := range ids[:n] {
			args = append(args, id)
		}
		if _, err := q.exec(ctx, "release webhook deliveries", `UPDATE webhook_deliveries SET lease_owner = NULL,
			lease_until = NULL WHERE lease_owner = ? AND id IN (`+marks(n)+")", args...); err != nil {
			return err
		}
		ids = ids[n:]
	}
	return nil
}

// GetWebhookDelivery returns one delivery with its payload, or ErrNotFound.
func (q *Queries) GetWebhookDelivery(ctx context.Context, id string) (WebhookDelivery, error) {
	var r webhookDeliveryRow
	if err := q.get(ctx, "get webhook delivery", &r, deliverySelect+`, e.payload AS payload
		FROM webhook_deliveries d JOIN events e ON e.seq = d.event_seq WHERE d.id = ?`, id); err != nil {
		return WebhookDelivery{}, err
	}
	return r.delivery(), nil
}

// ListWebhookDeliveries returns a page of one endpoint's deliveries, newest first (without payloads), and
// the next page's cursor ("" after the last).
func (q *Queries) ListWebhookDeliveries(ctx context.Context, f WebhookDeliveryFilter) ([]WebhookDelivery, string, error) {
	limit := clampLimit(f.Limit)
	var c conds
	c.add("d.endpoint_id = ?", f.EndpointID)
	if f.Status != "" {
		c.add("d.status = ?", f.Status)
	}
	if err := c.after("d.id", f.Cursor); err != nil {
		return nil, "", err
	}
	var rows []webhookDeliveryRow
	query := deliverySelect + " FROM webhook_deliveries d JOIN events e ON e.seq = d.event_seq" + c.where() +
		" ORDER BY d.id DESC LIMIT ?"
	if err := q.selectAll(ctx, "list webhook deliveries", &rows, query, append(c.args, limit+1)...); err != nil {
		return nil, "", err
	}
	next := ""
	if len(rows) > limit {
		rows = rows[:limit]
		next = encodeCursor(rows[limit-1].ID)
	}
	out := make([]WebhookDelivery, len(rows))
	for i := range rows {
		out[i] = rows[i].delivery()
	}
	return out, next, nil
}

// WebhookAttempt is one request to an endpoint and what came of it.
type WebhookAttempt struct {
	ID, DeliveryID  string
	AttemptedAt     time.Time
	StatusCode      int // 0: no HTTP response (timeout, network error)
	LatencyMS       int
	ResponseExcerpt string
	Error           string
}

type webhookAttemptRow struct {
	ID              string         `db:"id"`
	DeliveryID      string         `db:"delivery_id"`
	AttemptedAt     int64          `db:"attempted_at"`
	StatusCode      sql.NullInt64  `db:"status_code"`
	LatencyMS       int            `db:"latency_ms"`
	ResponseExcerpt sql.NullString `db:"response_excerpt"`
	Error           sql.NullString `db:"error"`
}

// ListWebhookAttempts returns the attempts of the given deliveries, grouped by delivery, oldest first
// within each.
func (q *Queries) ListWebhookAttempts(ctx context.Context, deliveryIDs []string) ([]WebhookAttempt, error) {
	var out []WebhookAttempt
	for len(deliveryIDs) > 0 {
		n := min(len(deliveryIDs), 500)
		args := make([]any, n)
		for i, id := range deliveryIDs[:n] {
			args[i] = id
		}
		var rows []webhookAttemptRow
		if err := q.selectAll(ctx, "list webhook attempts", &rows, `SELECT id, delivery_id, attempted_at, status_code,
			latency_ms, response_excerpt, error FROM webhook_attempts WHERE delivery_id IN (`+marks(n)+`)
			ORDER BY delivery_id, attempted_at, id`, args...); err != nil {
			return nil, err
		}
		for _, r := range rows {
			out = append(out, WebhookAttempt{
				ID: r.ID, DeliveryID: r.DeliveryID, AttemptedAt: fromMicros(r.AttemptedAt),
				StatusCode: int(r.StatusCode.Int64), LatencyMS: r.LatencyMS, ResponseExcerpt: r.ResponseExcerpt.String,
				Error: r.Error.String,
			})
		}
		deliveryIDs = deliveryIDs[n:]
	}
	return out, nil
}

// WebhookAttemptResult is a finished scheduled attempt and the delivery's state after it.
type WebhookAttemptResult struct {
	Attempt       WebhookAttempt
	Status        string     // the delivery's new status
	NextAttemptAt *time.Time // when Status is pending
}

// FinishWebhookAttempts logs each attempt (an empty Attempt.ID gets a "wha_" id) and, where owner still
// holds the delivery's lease, applies its new state, counts the attempt and drops the lease. An attempt
// whose lease was lost is still logged, since the request was made; it returns how many deliveries were
// updated.
func (q *Queries) FinishWebhookAttempts(ctx context.Context, owner string, results []WebhookAttemptResult) (int, error) {
	attempts := make([]WebhookAttempt, len(results))
	for i := range results {
		attempts[i] = results[i].Attempt
	}
	if err := q.insertWebhookAttempts(ctx, attempts); err != nil {
		return 0, err
	}
	// One UPDATE per chunk, joined to a VALUES list (columns column1..column7 on both databases); the
	// casts give PostgreSQL the types its untyped parameters lack.
	const cols = 7
	updated := 0
	for len(results) > 0 {
		n := min(len(results), 100)
		args := make([]any, 0, n*cols+1)
		values := make([]string, n)
		for i := range results[:n] {
			r := &results[i]
			a := &attempts[len(attempts)-len(results)+i]
			var deliveredAt, next sql.NullInt64
			if r.Status == DeliveryDelivered {
				deliveredAt = sql.NullInt64{Int64: micros(a.AttemptedAt), Valid: true}
			}
			if r.Status == DeliveryPending {
				next = nullMicros(r.NextAttemptAt)
			}
			values[i] = "(?, ?, CAST(? AS BIGINT), CAST(? AS INTEGER), ?, CAST(? AS BIGINT), CAST(? AS BIGINT))"
			args = append(args, a.DeliveryID, r.Status, next, nullCode(a.StatusCode), nullString(a.Error), deliveredAt,
				micros(a.AttemptedAt))
		}
		args = append(args, owner)
		k, err := q.exec(ctx, "finish webhook attempts", `UPDATE webhook_deliveries SET status = v.column2,
			attempts = attempts + 1, next_attempt_at = v.column3, last_status_code = v.column4, last_error = v.column5,
			delivered_at = v.column6, lease_owner = NULL, lease_until = NULL, updated_at = v.column7
			FROM (VALUES `+strings.Join(values, ", ")+`) AS v
			WHERE webhook_deliveries.id = v.column1 AND webhook_deliveries.lease_owner = ?
				AND webhook_deliveries.status = 'pending'`, args...)
		if err != nil {
			return updated, err
		}
		updated += int(k)
		results = results[n:]
	}
	return updated, nil
}

// RecordWebhookRedelivery logs a manual attempt outside the schedule. A successful one marks the delivery
// delivered (ending any retries); a failed one only updates the last status and error.
func (q *Queries) RecordWebhookRedelivery(ctx context.Context, a *WebhookAttempt, delivered bool) error {
	one := []WebhookAttempt{*a}
	if err := q.insertWebhookAttempts(ctx, one); err != nil {
		return err
	}
	*a = one[0]
	var n int64
	var err error
	if delivered {
		n, err = q.exec(ctx, "record webhook redelivery", `UPDATE webhook_deliveries SET status = 'delivered',
			next_attempt_at = NULL, last_status_code = ?, last_error = NULL,
			delivered_at = COALESCE(delivered_at, ?), updated_at = ? WHERE id = ?`,
			nullCode(a.StatusCode), micros(a.AttemptedAt), micros(a.AttemptedAt), a.DeliveryID)
	} else {
		n, err = q.exec(ctx, "record webhook redelivery", `UPDATE webhook_deliveries SET last_status_code = ?,
			last_error = ?, updated_at = ? WHERE id = ?`,
			nullCode(a.StatusCode), nullString(a.Error), micros(a.AttemptedAt), a.DeliveryID)
	}
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("store: record webhook redelivery %s: %w", a.DeliveryID, ErrNotFound)
	}
	return nil
}

func (q *Queries) insertWebhookAttempts(ctx context.Context, as []WebhookAttempt) error {
	const cols = 7
	for len(as) > 0 {
		n := min(len(as), 100)
		args := make([]any, 0, n*cols)
		values := make([]string, n)
		for i := range as[:n] {
			a := &as[i]
			if a.ID == "" {
				a.ID = NewID(PrefixWebhookAttempt)
			}
			a.AttemptedAt = fromMicros(micros(nowIfZero(a.AttemptedAt)))
			values[i] = "(" + marks(cols) + ")"
			args = append(args, a.ID, a.DeliveryID, micros(a.AttemptedAt), nullCode(a.StatusCode), a.LatencyMS,
				nullString(a.ResponseExcerpt), nullString(a.Error))
		}
		if _, err := q.exec(ctx, "insert webhook attempts", `INSERT INTO webhook_attempts (id, delivery_id,
			attempted_at, status_code, latency_ms, response_excerpt, error) VALUES `+strings.Join(values, ", "), args...); err != nil {
			return err
		}
		as = as[n:]
	}
	return nil
}

// nullCode stores "no HTTP status" (0) as NULL.
func nullCode(code int) sql.NullInt64 { return sql.NullInt64{Int64: int64(code), Valid: code != 0} }

// marks returns n comma-separated placeholders.
func marks(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}
