package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Connect session statuses; a session leaves pending once and for all.
const (
	SessionPending   = "pending"
	SessionCompleted = "completed"
	SessionFailed    = "failed"
	SessionCancelled = "cancelled"
	SessionExpired   = "expired"
)

// Session is one connect flow (connect_sessions). CodeHash and OAuthStateHash are SHA-256 digests chosen
// by the caller, never the raw values; OAuthData is sealed by the caller.
type Session struct {
	ID, TenantKey, TenantName string
	AppKey, Intent            string
	ConnectionID              string // reconnect target, "" for a new connection
	Name, HostOrigin          string
	CodeHash                  string
	CodeUsedAt                *time.Time
	BrowserHash               string
	Detached                  bool
	Status                    string
	ResultConnectionID        string
	ErrorCode, ErrorMessage   string
	OAuthStateHash            string
	OAuthData                 []byte
	CreatedAt, UpdatedAt      time.Time
	ExpiresAt                 time.Time
}

type sessionRow struct {
	ID                 string         `db:"id"`
	TenantKey          string         `db:"tenant_key"`
	TenantName         string         `db:"tenant_name"`
	AppKey             sql.NullString `db:"app_key"`
	Intent             sql.NullString `db:"intent"`
	ConnectionID       sql.NullString `db:"connection_id"`
	Name               sql.NullString `db:"name"`
	HostOrigin         sql.NullString `db:"host_origin"`
	CodeHash           sql.NullString `db:"code_hash"`
	CodeUsedAt         sql.NullInt64  `db:"code_used_at"`
	BrowserHash        sql.NullString `db:"browser_hash"`
	Detached           bool           `db:"detached"`
	Status             string         `db:"status"`
	ResultConnectionID sql.NullString `db:"result_connection_id"`
	ErrorCode          sql.NullString `db:"error_code"`
	ErrorMessage       sql.NullString `db:"error_message"`
	OAuthStateHash     sql.NullString `db:"oauth_state_hash"`
	OAuthData          []byte         `db:"oauth_data"`
	CreatedAt          int64          `db:"created_at"`
	UpdatedAt          int64          `db:"updated_at"`
	ExpiresAt          int64          `db:"expires_at"`
}

const sessionColumns = `id, tenant_key, tenant_name, app_key, intent, connection_id, name, host_origin,
	code_hash, code_used_at, browser_hash, detached, status, result_connection_id, error_code, error_message,
	oauth_state_hash, oauth_data, created_at, updated_at, expires_at`

func toSessionRow(s *Session) sessionRow {
	return sessionRow{
		ID: s.ID, TenantKey: s.TenantKey, TenantName: s.TenantName,
		AppKey: nullString(s.AppKey), Intent: nullString(s.Intent), ConnectionID: nullString(s.ConnectionID),
		Name: nullString(s.Name), HostOrigin: nullString(s.HostOrigin), CodeHash: nullString(s.CodeHash),
		CodeUsedAt: nullMicros(s.CodeUsedAt), BrowserHash: nullString(s.BrowserHash), Detached: s.Detached,
		Status: s.Status, ResultConnectionID: nullString(s.ResultConnectionID),
		ErrorCode: nullString(s.ErrorCode), ErrorMessage: nullString(s.ErrorMessage),
		OAuthStateHash: nullString(s.OAuthStateHash), OAuthData: s.OAuthData,
		CreatedAt: micros(s.CreatedAt), UpdatedAt: micros(s.UpdatedAt), ExpiresAt: micros(s.ExpiresAt),
	}
}

func (r *sessionRow) session() Session {
	return Session{
		ID: r.ID, TenantKey: r.TenantKey, TenantName: r.TenantName,
		AppKey: r.AppKey.String, Intent: r.Intent.String, ConnectionID: r.ConnectionID.String,
		Name: r.Name.String, HostOrigin: r.HostOrigin.String, CodeHash: r.CodeHash.String,
		CodeUsedAt: fromNullMicros(r.CodeUsedAt), BrowserHash: r.BrowserHash.String, Detached: r.Detached,
		Status: r.Status, ResultConnectionID: r.ResultConnectionID.String,
		ErrorCode: r.ErrorCode.String, ErrorMessage: r.ErrorMessage.String,
		OAuthStateHash: r.OAuthStateHash.String, OAuthData: r.OAuthData,
		CreatedAt: fromMicros(r.CreatedAt), UpdatedAt: fromMicros(r.UpdatedAt), ExpiresAt: fromMicros(r.ExpiresAt),
	}
}

// InsertSession stores a new session; its tenant must exist. An empty ID gets a new "cs_" id, an empty
// Status is pending and a zero CreatedAt/UpdatedAt is now; s is updated to what was stored. A duplicate
// id, code hash or state hash is ErrConflict.
func (q *Queries) InsertSession(ctx context.Context, s *Session) error {
	if s.ID == "" {
		s.ID = NewID(PrefixSession)
	}
	if s.Status == "" {
		s.Status = SessionPending
	}
	s.CreatedAt = nowIfZero(s.CreatedAt)
	if s.UpdatedAt.IsZero() {
		s.UpdatedAt = s.CreatedAt
	}
	r := toSessionRow(s)
	if _, err := q.namedExec(ctx, "insert session", `INSERT INTO connect_sessions (`+sessionColumns+`) VALUES (
		:id, :tenant_key, :tenant_name, :app_key, :intent, :connection_id, :name, :host_origin,
		:code_hash, :code_used_at, :browser_hash, :detached, :status, :result_connection_id, :error_code,
		:error_message, :oauth_state_hash, :oauth_data, :created_at, :updated_at, :expires_at)`, r); err != nil {
		return err
	}
	*s = r.session()
	return nil
}

// GetSession returns one session or ErrNotFound.
func (q *Queries) GetSession(ctx context.Context, id string) (Session, error) {
	return q.getSessionBy(ctx, "get session", "id", id, "")
}

// GetSessionForUpdate is GetSession inside InTx that also keeps other transactions from changing the
// session until commit, so two completions of one session cannot both see it pending.
func (q *Queries) GetSessionForUpdate(ctx context.Context, id string) (Session, error) {
	return q.getSessionBy(ctx, "get session for update", "id", id, q.fl.forUpdate)
}

// GetSessionByCodeHash finds the session whose connect link code hashes to codeHash, or ErrNotFound.
func (q *Queries) GetSessionByCodeHash(ctx context.Context, codeHash string) (Session, error) {
	if codeHash == "" {
		return Session{}, fmt.Errorf("store: get session by code: %w", ErrNotFound)
	}
	return q.getSessionBy(ctx, "get session by code", "code_hash", codeHash, "")
}

// GetSessionByStateHash finds the session whose OAuth state hashes to stateHash, or ErrNotFound.
func (q *Queries) GetSessionByStateHash(ctx context.Context, stateHash string) (Session, error) {
	if stateHash == "" {
		return Session{}, fmt.Errorf("store: get session by state: %w", ErrNotFound)
	}
	return q.getSessionBy(ctx, "get session by state", "oauth_state_hash", stateHash, "")
}

// getSessionBy reads one session by a unique column; column and lock are constants of this file.
func (q *Queries) getSessionBy(ctx context.Context, op, column, value, lock string) (Session, error) {
	var r sessionRow
	if err := q.get(ctx, op, &r, "SELECT "+sessionColumns+" FROM connect_sessions WHERE "+column+" = ?"+lock, value); err != nil {
		return Session{}, err
	}
	return r.session(), nil
}

// UpdateSession writes every mutable column of s (all but id, tenant key and created_at). It sets
// nothing itself: the caller bumps UpdatedAt. An unknown id is ErrNotFound; a hash another session
// holds is ErrConflict.
func (q *Queries) UpdateSession(ctx context.Context, s *Session) error {
	n, err := q.namedExec(ctx, "update session", `UPDATE connect_sessions SET tenant_name = :tenant_name,
		app_key = :app_key, intent = :intent, connection_id = :connection_id, name = :name,
		host_origin = :host_origin, code_hash = :code_hash, code_used_at = :code_used_at,
		browser_hash = :browser_hash, detached = :detached, status = :status,
		result_connection_id = :result_connection_id, error_code = :error_code, error_message = :error_message,
		oauth_state_hash = :oauth_state_hash, oauth_data = :oauth_data, updated_at = :updated_at,
		expires_at = :expires_at
		WHERE id = :id`, toSessionRow(s))
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("store: update session %s: %w", s.ID, ErrNotFound)
	}
	return nil
}

// ClaimSessionCode spends a connect link code: it records the claim time and the browser on the pending,
// unexpired session holding codeHash, in one statement, so of any number of concurrent claims exactly one
// succeeds. Later claims, and claims of an expired or finished session, are ErrConflict and come with the
// session as it stands (so the caller can tell "used" from "expired"); an unknown code is ErrNotFound.
func (q *Queries) ClaimSessionCode(ctx context.Context, codeHash, browserHash string, now time.Time) (Session, error) {
	if codeHash == "" {
		return Session{}, fmt.Errorf("store: claim session code: %w", ErrNotFound)
	}
	var r sessionRow
	err := q.get(ctx, "claim session code", &r, `UPDATE connect_sessions
		SET code_used_at = ?, browser_hash = ?, updated_at = ?
		WHERE code_hash = ? AND code_used_at IS NULL AND status = ? AND expires_at > ?
		RETURNING `+sessionColumns,
		micros(now), nullString(browserHash), micros(now), codeHash, SessionPending, micros(now))
	if err == nil {
		return r.session(), nil
	}
	if !errors.Is(err, ErrNotFound) {
		return Session{}, err
	}
	s, err := q.GetSessionByCodeHash(ctx, codeHash)
	if err != nil {
		return Session{}, err
	}
	return s, fmt.Errorf("store: claim session code of %s: %w", s.ID, ErrConflict)
}
