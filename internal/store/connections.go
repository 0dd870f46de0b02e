package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Connection is a tenant's authenticated link to one app. Credentials are sealed by the caller (KeyID
// names the sealing key); the type has no JSON tags so it cannot be rendered by accident.
type Connection struct {
	ID, TenantKey, AppKey, Name, AuthType string
	Credentials                           []byte
	KeyID                                 string
	Input                                 map[string]string
	Disconnected                          bool
	ErrorCode, ErrorMessage               string
	CreatedAt, UpdatedAt                  time.Time
	ArchivedAt, AccessExpiresAt           *time.Time
	LastRefreshAt, NextRefreshAt          *time.Time
	RetryAttempts                         int
	LeaseOwner                            string
	LeaseUntil                            *time.Time
}

// ConnectionSummary is the part of a connection that lists show: everything but the sealed credentials,
// their key id, the access token's expiry and the refresh lease. ListConnectionSummaries reads only these
// columns, so a page never carries a ciphertext out of the database.
type ConnectionSummary struct {
	ID, TenantKey, AppKey, Name, AuthType    string
	Input                                    map[string]string // may be nil when the connection has none
	Disconnected                             bool
	ErrorCode, ErrorMessage                  string
	CreatedAt, UpdatedAt                     time.Time
	ArchivedAt, LastRefreshAt, NextRefreshAt *time.Time
	RetryAttempts                            int
}

// Summary returns the listed part of c.
func (c *Connection) Summary() ConnectionSummary {
	return ConnectionSummary{
		ID: c.ID, TenantKey: c.TenantKey, AppKey: c.AppKey, Name: c.Name, AuthType: c.AuthType,
		Input: c.Input, Disconnected: c.Disconnected, ErrorCode: c.ErrorCode, ErrorMessage: c.ErrorMessage,
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt, ArchivedAt: c.ArchivedAt,
		LastRefreshAt: c.LastRefreshAt, NextRefreshAt: c.NextRefreshAt, RetryAttempts: c.RetryAttempts,
	}
}

// ConnectionFilter selects connections for ListConnections and CountConnections.
type ConnectionFilter struct {
	TenantKey       string // "" means every tenant (admin)
	AppKey          string
	Disconnected    *bool
	IncludeArchived bool
	Search          string // case-insensitive substring of name, app key, id or tenant key
	Limit           int    // 1..MaxLimit, 0 means DefaultLimit
	Cursor          string // from the previous page; "" for the first
}

type connectionRow struct {
	ID              string         `db:"id"`
	TenantKey       string         `db:"tenant_key"`
	AppKey          string         `db:"app_key"`
	Name            string         `db:"name"`
	AuthType        string         `db:"auth_type"`
	Credentials     []byte         `db:"credentials"`
	KeyID           string         `db:"key_id"`
	Input           string         `db:"input"`
	Disconnected    bool           `db:"disconnected"`
	ErrorCode       sql.NullString `db:"error_code"`
	ErrorMessage    sql.NullString `db:"error_message"`
	CreatedAt       int64          `db:"created_at"`
	UpdatedAt       int64          `db:"updated_at"`
	ArchivedAt      sql.NullInt64  `db:"archived_at"`
	AccessExpiresAt sql.NullInt64  `db:"access_expires_at"`
	LastRefreshAt   sql.NullInt64  `db:"last_refresh_at"`
	NextRefreshAt   sql.NullInt64  `db:"next_refresh_at"`
	RetryAttempts   int            `db:"retry_attempts"`
	LeaseOwner      sql.NullString `db:"lease_owner"`
	LeaseUntil      sql.NullInt64  `db:"lease_until"`
}

const connectionColumns = `id, tenant_key, app_key, name, auth_type, credentials, key_id, input, disconnected,
	error_code, error_message, created_at, updated_at, archived_at, access_expires_at, last_refresh_at,
	next_refresh_at, retry_attempts, lease_owner, lease_until`

func toConnectionRow(c *Connection) (connectionRow, error) {
	input := c.Input
	if input == nil {
		input = map[string]string{}
	}
	in, err := json.Marshal(input)
	if err != nil {
		return connectionRow{}, fmt.Errorf("store: encode connection input: %w", err)
	}
	return connectionRow{
		ID: c.ID, TenantKey: c.TenantKey, AppKey: c.AppKey, Name: c.Name, AuthType: c.AuthType,
		Credentials: c.Credentials, KeyID: c.KeyID, Input: string(in), Disconnected: c.Disconnected,
		ErrorCode: nullString(c.ErrorCode), ErrorMessage: nullString(c.ErrorMessage),
		CreatedAt: micros(c.CreatedAt), UpdatedAt: micros(c.UpdatedAt),
		ArchivedAt: nullMicros(c.ArchivedAt), AccessExpiresAt: nullMicros(c.AccessExpiresAt),
		LastRefreshAt: nullMicros(c.LastRefreshAt), NextRefreshAt: nullMicros(c.NextRefreshAt),
		RetryAttempts: c.RetryAttempts, LeaseOwner: nullString(c.LeaseOwner), LeaseUntil: nullMicros(c.LeaseUntil),
	}, nil
}

// scanConnections reads rows of connectionColumns with a plain Scan: the
// list path is the API's hottest, and sqlx's reflection costs more there
// than the query.
func (q *Queries) scanConnections(ctx context.Context, query string, args ...any) ([]connectionRow, error) {
	rows, err := q.db.QueryContext(ctx, q.db.Rebind(query), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []connectionRow
	for rows.Next() {
		var r connectionRow
		if err := rows.Scan(&r.ID, &r.TenantKey, &r.AppKey, &r.Name, &r.AuthType, &r.Credentials, &r.KeyID, &r.Input,
			&r.Disconnected, &r.ErrorCode, &r.ErrorMessage, &r.CreatedAt, &r.UpdatedAt, &r.ArchivedAt,
			&r.AccessExpiresAt, &r.LastRefreshAt, &r.NextRefreshAt, &r.RetryAttempts, &r.LeaseOwner,
			&r.LeaseUntil); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func (r *connectionRow) connection() (Connection, error) {
	input, err := decodeInput(r.ID, r.Input)
	if err != nil {
		return Connection{}, err
	}
	return Connection{
		ID: r.ID, TenantKey: r.TenantKey, AppKey: r.AppKey, Name: r.Name, AuthType: r.AuthType,
		Credentials: r.Credentials, KeyID: r.KeyID, Input: input, Disconnected: r.Disconnected,
		ErrorCode: r.ErrorCode.String, ErrorMessage: r.ErrorMessage.String,
		CreatedAt: fromMicros(r.CreatedAt), UpdatedAt: fromMicros(r.UpdatedAt),
		ArchivedAt: fromNullMicros(r.ArchivedAt), AccessExpiresAt: fromNullMicros(r.AccessExpiresAt),
		LastRefreshAt: fromNullMicros(r.LastRefreshAt), NextRefreshAt: fromNullMicros(r.NextRefreshAt),
		RetryAttempts: r.RetryAttempts, LeaseOwner: r.LeaseOwner.String, LeaseUntil: fromNullMicros(r.LeaseUntil),
	}, nil
}

// InsertConnection stores a new connection; its tenant must exist (UpsertTenant). An empty ID gets a new
// "con_" id and zero CreatedAt/UpdatedAt become now; c is updated to what was stored. A duplicate id is
// ErrConflict.
func (q *Queries) InsertConnection(ctx context.Context, c *Connection) error {
	if c.ID == "" {
		c.ID = NewID(PrefixConnection)
	}
	c.CreatedAt = nowIfZero(c.CreatedAt)
	if c.UpdatedAt.IsZero() {
		c.UpdatedAt = c.CreatedAt
	}
	r, err := toConnectionRow(c)
	if err != nil {
		return err
	}
	_, err = q.namedExec(ctx, "insert connection", `INSERT INTO connections (`+connectionColumns+`) VALUES (
		:id, :tenant_key, :app_key, :name, :auth_type, :credentials, :key_id, :input, :disconnected,
		:error_code, :error_message, :created_at, :updated_at, :archived_at, :access_expires_at,
		:last_refresh_at, :next_refresh_at, :retry_attempts, :lease_owner, :lease_until)`, r)
	if err != nil {
		return err
	}
	stored, err := r.connection()
	if err != nil {
		return err
	}
	*c = stored
	return nil
}

// GetConnection returns one connection. A non-empty tenantKey confines the lookup to that tenant, so
// another tenant's id is ErrNotFound.
func (q *Queries) GetConnection(ctx context.Context, id, tenantKey string) (Connection, error) {
	var c conds
	c.add("id = ?", id)
	if tenantKey != "" {
		c.add("tenant_key = ?", tenantKey)
	}
	var r connectionRow
	if err := q.get(ctx, "get connection", &r, "SELECT "+connectionColumns+" FROM connections"+c.where(), c.args...); err != nil {
		return Connection{}, err
	}
	return r.connection()
}

// connectionConds renders a filter's conditions, the cursor excluded.
func connectionConds(f ConnectionFilter) conds {
	var c conds
	if f.TenantKey != "" {
		c.add("tenant_key = ?", f.TenantKey)
	}
	if f.AppKey != "" {
		c.add("app_key = ?", f.AppKey)
	}
	if f.Disconnected != nil {
		c.add("disconnected = ?", *f.Disconnected)
	}
	if !f.IncludeArchived {
		c.add("archived_at IS NULL")
	}
	if f.Search != "" {
		p := containsPattern(f.Search)
		c.add(`(LOWER(name) LIKE ? ESCAPE '!' OR LOWER(app_key) LIKE ? ESCAPE '!'`+
			` OR LOWER(id) LIKE ? ESCAPE '!' OR LOWER(tenant_key) LIKE ? ESCAPE '!')`, p, p, p, p)
	}
	return c
}

// ListConnections returns a page of connections, newest first, and the cursor of the next page ("" after
// the last). Pages follow id order, so rows inserted while paging never shift or repeat older ones.
func (q *Queries) ListConnections(ctx context.Context, f ConnectionFilter) ([]Connection, string, error) {
	limit := clampLimit(f.Limit)
	c := connectionConds(f)
	if err := c.after("id", f.Cursor); err != nil {
		return nil, "", err
	}
	query := "SELECT " + connectionColumns + " FROM connections" + c.where() + " ORDER BY id DESC LIMIT ?"
	rows, err := q.scanConnections(ctx, query, append(c.args, limit+1)...)
	if err != nil {
		return nil, "", q.wrap("list connections", err)
	}
	next := ""
	if len(rows) > limit {
		rows = rows[:limit]
		next = encodeCursor(rows[limit-1].ID)
	}
	out := make([]Connection, len(rows))
	for i := range rows {
		conn, err := rows[i].connection()
		if err != nil {
			return nil, "", err
		}
		out[i] = conn
	}
	return out, next, nil
}

// ListConnectionSummaries is ListConnections without the columns a list never shows (see
// ConnectionSummary): the API's list path, and its hottest query.
func (q *Queries) ListConnectionSummaries(ctx context.Context, f ConnectionFilter) ([]ConnectionSummary, string, error) {
	limit := clampLimit(f.Limit)
	c := connectionConds(f)
	if err := c.after("id", f.Cursor); err != nil {
		return nil, "", err
	}
	// Columns the filter pins are not read back: the tenant of a tenant's list, and archived_at when
	// archived rows are excluded (it is NULL on every row).
	// An empty input ('{}', most connections) comes back as NULL: one value fewer to decode per row.
	cols := "id, app_key, name, auth_type, NULLIF(input, '{}'), disconnected, error_code, error_message, created_at, " +
		"updated_at, last_refresh_at, next_refresh_at, retry_attempts"
	if f.TenantKey == "" {
		cols += ", tenant_key"
	}
	if f.IncludeArchived {
		cols += ", archived_at"
	}
	// The page size is part of the text, not a parameter: with a bound LIMIT PostgreSQL's generic plan
	// looks far costlier than a custom one, so a prepared statement would be re-planned on every call.
	query := "SELECT " + cols + " FROM connections" + c.where() + " ORDER BY id DESC LIMIT " + strconv.Itoa(limit+1)
	rows, err := q.queryPrepared(ctx, query, c.args...)
	if err != nil {
		return nil, "", q.wrap("list connections", err)
	}
	defer rows.Close()
	out := make([]ConnectionSummary, 0, limit+1)
	// Columns other than text are scanned into interface values and converted by summaryValues:
	// database/sql converts anything but strings, []byte and interfaces through reflection, which on a
	// page of 100 rows costs more than the query's own decoding. dest is built once; the text columns'
	// pointers move to each new row.
	var (
		tenantKey string
		v         summaryValues
	)
	dest := []any{nil, nil, nil, nil, &v.input, &v.disconnected, &v.errCode, &v.errMsg, &v.created, &v.updated,
		&v.lastRefresh, &v.nextRefresh, &v.attempts}
	if f.TenantKey == "" {
		dest = append(dest, &tenantKey)
	}
	if f.IncludeArchived {
		dest = append(dest, &v.archived)
	}
	for rows.Next() {
		out = append(out, ConnectionSummary{TenantKey: f.TenantKey})
		r := &out[len(out)-1]
		dest[0], dest[1], dest[2], dest[3] = &r.ID, &r.AppKey, &r.Name, &r.AuthType
		v.archived = nil
		if err := rows.Scan(dest...); err != nil {
			return nil, "", q.wrap("list connections", err)
		}
		if f.TenantKey == "" {
			r.TenantKey = tenantKey
		}
		if err := v.fill(r); err != nil {
			return nil, "", fmt.Errorf("store: list connections: row %s: %w", r.ID, err)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, "", q.wrap("list connections", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = encodeCursor(out[limit-1].ID)
	}
	return out, next, nil
}

// ConnectionListVersion returns the version of tenantKey's connection list: a number that grows with every
// committed write to a column a list shows (ConnectionSummary's), whichever process made it. Triggers keep
// it (migration 00005), so no write path can forget to. The same version read at two instants means no
// list of that tenant changed between them; a tenant without connections is at version 0.
func (q *Queries) ConnectionListVersion(ctx context.Context, tenantKey string) (int64, error) {
	// The cast: PostgreSQL sums bigints as numeric, which lib/pq would hand over as text.
	rows, err := q.queryPrepared(ctx, "SELECT CAST(COALESCE(SUM(version), 0) AS BIGINT) FROM connection_list_versions WHERE tenant_key = ?", tenantKey)
	if err != nil {
		return 0, q.wrap("list version", err)
	}
	defer rows.Close()
	var v int64
	if rows.Next() {
		if err := rows.Scan(&v); err != nil {
			return 0, q.wrap("list version", err)
		}
	}
	if err := rows.Err(); err != nil {
		return 0, q.wrap("list version", err)
	}
	return v, nil
}

// summaryValues holds a summary row's non-text columns as scanned.
type summaryValues struct {
	input, disconnected, errCode, errMsg, created, updated, lastRefresh, nextRefresh, attempts, archived any
	err                                                                                                  error
}

// fill converts the scanned values into r, reporting the first column of an unexpected type.
func (v *summaryValues) fill(r *ConnectionSummary) error {
	v.err = nil
	if input := v.text(v.input); input != "" && input != "{}" {
		var err error
		if r.Input, err = decodeInput(r.ID, input); err != nil {
			return err
		}
	}
	r.Disconnected = v.bool(v.disconnected)
	r.ErrorCode, r.ErrorMessage = v.text(v.errCode), v.text(v.errMsg)
	r.CreatedAt, r.UpdatedAt = fromMicros(v.int(v.created)), fromMicros(v.int(v.updated))
	r.LastRefreshAt, r.NextRefreshAt, r.ArchivedAt = v.time(v.lastRefresh), v.time(v.nextRefresh), v.time(v.archived)
	r.RetryAttempts = int(v.int(v.attempts))
	return v.err
}

func (v *summaryValues) fail(format string, args ...any) {
	if v.err == nil {
		v.err = fmt.Errorf(format, args...)
	}
}

// int reads an integer column (NULL reads as 0; the nullable ones go through time).
func (v *summaryValues) int(x any) int64 {
	switch n := x.(type) {
	case int64:
		return n
	case nil:
		return 0
	case []byte, string:
		s, _ := anyText(n)
		i, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			v.fail("integer column holds %q", s)
		}
		return i
	}
	v.fail("integer column holds %T", x)
	return 0
}

// time reads a nullable microsecond timestamp.
func (v *summaryValues) time(x any) *time.Time {
	if x == nil {
		return nil
	}
	t := fromMicros(v.int(x))
	return &t
}

// bool reads a boolean column: a bool on PostgreSQL, 0 or 1 on SQLite.
func (v *summaryValues) bool(x any) bool {
	switch b := x.(type) {
	case bool:
		return b
	case int64:
		return b != 0
	}
	v.fail("boolean column holds %T", x)
	return false
}

// text reads a nullable text column; NULL is "".
func (v *summaryValues) text(x any) string {
	if x == nil {
		return ""
	}
	s, ok := anyText(x)
	if !ok {
		v.fail("text column holds %T", x)
	}
	return s
}

func anyText(x any) (string, bool) {
	switch s := x.(type) {
	case string:
		return s, true
	case []byte:
		return string(s), true
	}
	return "", false
}

// decodeInput reads a connection's input column; most connections have none, which skips the decoder.
func decodeInput(id, raw string) (map[string]string, error) {
	input := map[string]string{}
	if raw == "{}" || raw == "" {
		return input, nil
	}
	if err := json.Unmarshal([]byte(raw), &input); err != nil {
		return nil, fmt.Errorf("store: decode input of connection %s: %w", id, err)
	}
	return input, nil
}

// CountConnections counts the connections a filter selects, ignoring Limit and Cursor.
func (q *Queries) CountConnections(ctx context.Context, f ConnectionFilter) (int, error) {
	c := connectionConds(f)
	var n int
	err := q.get(ctx, "count connections", &n, "SELECT COUNT(*) FROM connections"+c.where(), c.args...)
	return n, err
}

// ArchiveConnection marks a connection archived and erases what it no longer needs: credentials, refresh
// schedule and lease. It is idempotent: changed reports whether this call did the archiving, so exactly
// one of several concurrent callers sees true (and records the event). A non-empty tenantKey confines it
// to that tenant; unknown ids are ErrNotFound.
func (q *Queries) ArchiveConnection(ctx context.Context, id, tenantKey string, now time.Time) (Connection, bool, error) {
	var c conds
	c.add("id = ?", id)
	if tenantKey != "" {
		c.add("tenant_key = ?", tenantKey)
	}
	c.add("archived_at IS NULL")
	var r connectionRow
	err := q.get(ctx, "archive connection", &r, `UPDATE connections SET archived_at = ?, updated_at = ?,
		credentials = NULL, key_id = '', next_refresh_at = NULL, lease_owner = NULL, lease_until = NULL`+
		c.where()+" RETURNING "+connectionColumns,
		append([]any{micros(now), micros(now)}, c.args...)...)
	switch {
	case err == nil:
		conn, err := r.connection()
		return conn, true, err
	case errors.Is(err, ErrNotFound):
		conn, err := q.GetConnection(ctx, id, tenantKey)
		return conn, false, err
	default:
		return Connection{}, false, err
	}
}

// UpdateConnection writes every mutable column of c (all but id, tenant, app, auth type and created_at).
// It sets nothing itself: the caller bumps UpdatedAt. An unknown id, or one of another tenant than
// c.TenantKey, is ErrNotFound.
func (q *Queries) UpdateConnection(ctx context.Context, c *Connection) error {
	r, err := toConnectionRow(c)
	if err != nil {
		return err
	}
	n, err := q.namedExec(ctx, "update connection", `UPDATE connections SET name = :name,
		credentials = :credentials, key_id = :key_id, input = :input, disconnected = :disconnected,
		error_code = :error_code, error_message = :error_message, updated_at = :updated_at,
		archived_at = :archived_at, access_expires_at = :access_expires_at, last_refresh_at = :last_refresh_at,
		next_refresh_at = :next_refresh_at, retry_attempts = :retry_attempts, lease_owner = :lease_owner,
		lease_until = :lease_until
		WHERE id = :id AND tenant_key = :tenant_key`, r)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("store: update connection %s: %w", c.ID, ErrNotFound)
	}
	return nil
}
