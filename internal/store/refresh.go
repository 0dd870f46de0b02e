package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// This file holds what the credential lifecycle needs from the database: refresh leases on connections,
// the refresh_attempts history, and the batches that re-encrypt sealed columns under a new key.

// PrefixRefreshAttempt is the id prefix of refresh_attempts rows.
const PrefixRefreshAttempt = "rfa"

// ErrLeaseLost means a connection's refresh lease is no longer held by the caller: it expired and
// another process took it, or a reconnect or archive cleared it. The caller's result must be dropped.
var ErrLeaseLost = errors.New("store: refresh lease lost")

// Refresh attempt outcomes.
const (
	OutcomeSuccess   = "success"
	OutcomeTransient = "transient"
	OutcomePermanent = "permanent"
)

// ClaimDueConnections leases up to limit unarchived connections of the given apps whose next refresh
// is due at now and whose lease is free or expired, giving them to owner until until, and returns them
// as leased. On PostgreSQL rows another transaction is claiming are skipped (FOR UPDATE SKIP LOCKED), so
// concurrent workers split the due rows between them; SQLite runs the statement under its single
// writer. No app keys means no connections.
func (q *Queries) ClaimDueConnections(ctx context.Context, owner string, now, until time.Time, limit int, appKeys []string) ([]Connection, error) {
	if owner == "" || limit <= 0 {
		return nil, fmt.Errorf("store: claim due connections: owner and a positive limit are required")
	}
	if len(appKeys) == 0 {
		return nil, nil
	}
	args := []any{micros(now), micros(now)}
	for _, k := range appKeys {
		args = append(args, k)
	}
	args = append(args, limit, owner, micros(until))
	// MATERIALIZED keeps the locking pick evaluated once, whatever plan the UPDATE gets.
	query := `WITH picked AS MATERIALIZED (
			SELECT id FROM connections
			WHERE archived_at IS NULL AND next_refresh_at IS NOT NULL AND next_refresh_at <= ?
				AND (lease_until IS NULL OR lease_until <= ?)
				AND app_key IN (` + strings.TrimSuffix(strings.Repeat("?, ", len(appKeys)), ", ") + `)
			ORDER BY next_refresh_at LIMIT ?` + q.fl.skipLocked + `)
		UPDATE connections SET lease_owner = ?, lease_until = ?
		WHERE id IN (SELECT id FROM picked)
		RETURNING ` + connectionColumns
	var rows []connectionRow
	err := q.selectAll(ctx, "claim due connections", &rows, query, args...)
	if err != nil {
		return nil, err
	}
	out := make([]Connection, len(rows))
	for i := range rows {
		if out[i], err = rows[i].connection(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ClaimConnection leases one unarchived connection to owner until until when its lease is free or
// expired at now. claimed is false when another owner holds a live lease or the connection is archived;
// the connection is returned as it stands either way. An unknown id is ErrNotFound.
func (q *Queries) ClaimConnection(ctx context.Context, id, owner string, now, until time.Time) (c Connection, claimed bool, err error) {
	if owner == "" {
		return Connection{}, false, fmt.Errorf("store: claim connection: owner is required")
	}
	var r connectionRow
	err = q.get(ctx, "claim connection", &r, `UPDATE connections SET lease_owner = ?, lease_until = ?
		WHERE id = ? AND archived_at IS NULL AND (lease_until IS NULL OR lease_until <= ?)
		RETURNING `+connectionColumns, owner, micros(until), id, micros(now))
	switch {
	case err == nil:
		c, err = r.connection()
		return c, err == nil, err
	case errors.Is(err, ErrNotFound):
		c, err = q.GetConnection(ctx, id, "")
		return c, false, err
	default:
		return Connection{}, false, err
	}
}

// ReleaseLease gives up owner's lease on a connection without changing anything else. released is
// false when owner no longer held it.
func (q *Queries) ReleaseLease(ctx context.Context, id, owner string) (released bool, err error) {
	n, err := q.exec(ctx, "release lease", `UPDATE connections SET lease_owner = NULL, lease_until = NULL
		WHERE id = ? AND lease_owner = ?`, id, owner)
	return n == 1, err
}

// FinishRefresh writes the outcome of a refresh made under owner's lease and releases the lease, in one
// statement that applies only while the connection is unarchived and the lease still names owner;
// otherwise nothing is written and the error is ErrLeaseLost. It writes the credentials, key id, token
// expiry, refresh schedule, failure state and UpdatedAt of c.
func (q *Queries) FinishRefresh(ctx context.Context, c *Connection, owner string) error {
	r, err := toConnectionRow(c)
	if err != nil {
		return err
	}
	n, err := q.exec(ctx, "finish refresh", `UPDATE connections SET credentials = ?, key_id = ?,
		access_expires_at = ?, last_refresh_at = ?, next_refresh_at = ?, retry_attempts = ?, disconnected = ?,
		error_code = ?, error_message = ?, updated_at = ?, lease_owner = NULL, lease_until = NULL
		WHERE id = ? AND lease_owner = ? AND archived_at IS NULL`,
		r.Credentials, r.KeyID, r.AccessExpiresAt, r.LastRefreshAt, r.NextRefreshAt, r.RetryAttempts,
		r.Disconnected, r.ErrorCode, r.ErrorMessage, r.UpdatedAt, r.ID, owner)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("store: finish refresh of %s: %w", c.ID, ErrLeaseLost)
	}
	c.LeaseOwner, c.LeaseUntil = "", nil
	return nil
}

// FinishRefreshRecorded is FinishRefresh and InsertRefreshAttempt of a, atomically: on PostgreSQL in one
// statement (one round trip, one commit, as the refresh worker's common case deserves), elsewhere in one
// transaction. ErrLeaseLost means neither was written.
func (s *Store) FinishRefreshRecorded(ctx context.Context, c *Connection, owner string, a *RefreshAttempt) error {
	if s.fl.name != FlavorPostgres {
		return s.InTx(ctx, func(q *Queries) error {
			if err := q.FinishRefresh(ctx, c, owner); err != nil {
				return err
			}
			return q.InsertRefreshAttempt(ctx, a)
		})
	}
	r, err := toConnectionRow(c)
	if err != nil {
		return err
	}
	if a.ID == "" {
		a.ID = NewID(PrefixRefreshAttempt)
	}
	a.AttemptedAt = fromMicros(micros(nowIfZero(a.AttemptedAt)))
	// Parameters in the SELECT list are cast: PostgreSQL types them before it sees the target columns.
	n, err := s.exec(ctx, "finish refresh", `WITH done AS (UPDATE connections SET credentials = ?, key_id = ?,
			access_expires_at = ?, last_refresh_at = ?, next_refresh_at = ?, retry_attempts = ?, disconnected = ?,
			error_code = ?, error_message = ?, updated_at = ?, lease_owner = NULL, lease_until = NULL
			WHERE id = ? AND lease_owner = ? AND archived_at IS NULL RETURNING id)
		INSERT INTO refresh_attempts (id, connection_id, attempted_at, outcome, error_code, error_message, duration_ms)
		SELECT ?::text, id, ?::bigint, ?::text, ?::text, ?::text, ?::integer FROM done`,
		r.Credentials, r.KeyID, r.AccessExpiresAt, r.LastRefreshAt, r.NextRefreshAt, r.RetryAttempts,
		r.Disconnected, r.ErrorCode, r.ErrorMessage, r.UpdatedAt, r.ID, owner,
		a.ID, micros(a.AttemptedAt), a.Outcome, nullString(a.ErrorCode), nullString(a.ErrorMessage), a.Duration.Milliseconds())
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("store: finish refresh of %s: %w", c.ID, ErrLeaseLost)
	}
	c.LeaseOwner, c.LeaseUntil = "", nil
	return nil
}

// RefreshAttempt is one try at refreshing a connection's tokens (refresh_attempts). ErrorMessage is a
// safe sentence, never a secret.
type RefreshAttempt struct {
	ID, ConnectionID        string
	AttemptedAt             time.Time
	Outcome                 string // OutcomeSuccess, OutcomeTransient or OutcomePermanent
	ErrorCode, ErrorMessage string
	Duration                time.Duration
}

type refreshAttemptRow struct {
	ID           string         `db:"id"`
	ConnectionID string         `db:"connection_id"`
	AttemptedAt  int64          `db:"attempted_at"`
	Outcome      string         `db:"outcome"`
	ErrorCode    sql.NullString `db:"error_code"`
	ErrorMessage sql.NullString `db:"error_message"`
	DurationMS   int64          `db:"duration_ms"`
}

// InsertRefreshAttempt records a, normally in the transaction that stores its outcome. An empty ID gets
// a new "rfa_" id.
func (q *Queries) InsertRefreshAttempt(ctx context.Context, a *RefreshAttempt) error {
	if a.ID == "" {
		a.ID = NewID(PrefixRefreshAttempt)
	}
	a.AttemptedAt = fromMicros(micros(nowIfZero(a.AttemptedAt)))
	_, err := q.exec(ctx, "insert refresh attempt", `INSERT INTO refresh_attempts (id, connection_id,
		attempted_at, outcome, error_code, error_message, duration_ms) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		a.ID, a.ConnectionID, micros(a.AttemptedAt), a.Outcome, nullString(a.ErrorCode),
		nullString(a.ErrorMessage), a.Duration.Milliseconds())
	return err
}

// ListRefreshAttempts returns a connection's latest attempts, newest first, at most limit (clamped like
// list pages).
func (q *Queries) ListRefreshAttempts(ctx context.Context, connectionID string, limit int) ([]RefreshAttempt, error) {
	var rows []refreshAttemptRow
	err := q.selectAll(ctx, "list refresh attempts", &rows, `SELECT id, connection_id, attempted_at, outcome,
		error_code, error_message, duration_ms FROM refresh_attempts WHERE connection_id = ?
		ORDER BY attempted_at DESC, id DESC LIMIT ?`, connectionID, clampLimit(limit))
	if err != nil {
		return nil, err
	}
	out := make([]RefreshAttempt, len(rows))
	for i, r := range rows {
		out[i] = RefreshAttempt{
			ID: r.ID, ConnectionID: r.ConnectionID, AttemptedAt: fromMicros(r.AttemptedAt), Outcome: r.Outcome,
			ErrorCode: r.ErrorCode.String, ErrorMessage: r.ErrorMessage.String,
			Duration: time.Duration(r.DurationMS) * time.Millisecond,
		}
	}
	return out, nil
}

// PruneRefreshAttempts deletes up to limit attempts made before before and reports how many went, so a
// long history is trimmed in short statements.
func (q *Queries) PruneRefreshAttempts(ctx context.Context, before time.Time, limit int) (int64, error) {
	return q.exec(ctx, "prune refresh attempts", `DELETE FROM refresh_attempts WHERE id IN (
		SELECT id FROM refresh_attempts WHERE attempted_at < ? LIMIT ?)`, micros(before), limit)
}

// SealedColumn names a column of sealed secrets. Every value is sealed with its row's primary key as
// associated data; KeyIDColumn, when set, records which key sealed it.
type SealedColumn struct {
	Table, IDColumn, Column, KeyIDColumn string
}

func (c SealedColumn) String() string { return c.Table + "." + c.Column }

// SealedColumns lists every column holding sealed secrets, the ones key rotation re-encrypts.
func SealedColumns() []SealedColumn {
	return []SealedColumn{
		{Table: "connections", IDColumn: "id", Column: "credentials", KeyIDColumn: "key_id"},
		{Table: "connect_sessions", IDColumn: "id", Column: "oauth_data"},
		{Table: "app_settings", IDColumn: "app_key", Column: "client_secret", KeyIDColumn: "key_id"},
		{Table: "webhook_endpoints", IDColumn: "id", Column: "secrets", KeyIDColumn: "key_id"},
	}
}

// checkSealed refuses any column not in SealedColumns, since its names are spliced into SQL.
func checkSealed(col SealedColumn) error {
	for _, c := range SealedColumns() {
		if c == col {
			return nil
		}
	}
	return fmt.Errorf("store: %s is not a sealed column", col)
}

// SealedValue is one row's sealed value.
type SealedValue struct {
	ID     string
	Sealed []byte
}

// ListSealed returns up to limit non-null values of col in primary key order after afterID ("" for the
// start). Where the column has a key id column, rows already recorded under keyID are left out; other
// columns return every row and the caller reads the key from the sealed header.
func (q *Queries) ListSealed(ctx context.Context, col SealedColumn, keyID, afterID string, limit int) ([]SealedValue, error) {
	if err := checkSealed(col); err != nil {
		return nil, err
	}
	var c conds
	c.add(col.Column + " IS NOT NULL")
	c.add(col.IDColumn+" > ?", afterID)
	if col.KeyIDColumn != "" {
		c.add(col.KeyIDColumn+" <> ?", keyID)
	}
	var rows []struct {
		ID     string `db:"id"`
		Sealed []byte `db:"sealed"`
	}
	query := "SELECT " + col.IDColumn + " AS id, " + col.Column + " AS sealed FROM " + col.Table + c.where() +
		" ORDER BY " + col.IDColumn + " LIMIT ?"
	if err := q.selectAll(ctx, "list "+col.String(), &rows, query, append(c.args, limit)...); err != nil {
		return nil, err
	}
	out := make([]SealedValue, len(rows))
	for i, r := range rows {
		out[i] = SealedValue{ID: r.ID, Sealed: r.Sealed}
	}
	return out, nil
}

// ReplaceSealed swaps one row's sealed value from old to replacement (sealed under keyID), only if the
// row still holds exactly old: a value rewritten meanwhile (a refresh storing new tokens) is kept, and
// replaced reports false.
func (q *Queries) ReplaceSealed(ctx context.Context, col SealedColumn, id string, old, replacement []byte, keyID string) (replaced bool, err error) {
	if err := checkSealed(col); err != nil {
		return false, err
	}
	set, args := col.Column+" = ?", []any{replacement}
	if col.KeyIDColumn != "" {
		set += ", " + col.KeyIDColumn + " = ?"
		args = append(args, keyID)
	}
	n, err := q.exec(ctx, "replace "+col.String(), "UPDATE "+col.Table+" SET "+set+
		" WHERE "+col.IDColumn+" = ? AND "+col.Column+" = ?", append(args, id, old)...)
	return n == 1, err
}
