package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
)

// Queries holds the data methods. The one embedded in Store runs each statement on its own; the one InTx
// passes to its callback runs inside that transaction.
type Queries struct {
	db    sqlx.ExtContext
	fl    *flavor
	stmts *stmtCache // nil inside a transaction
}

// stmtCache keeps the prepared statements of the hottest read queries (the connection list), keyed by
// their rebound text. A prepared statement is parsed once per pooled connection instead of on every call,
// and PostgreSQL settles on a generic plan after a few runs, so planning — most of the database's work
// for a short indexed read — is skipped too. Texts are few in practice (one per combination of filters
// and page size); past maxPrepared of them, further texts run unprepared, so a client cycling through page
// sizes cannot grow the cache or the server's per-connection statement memory without bound.
type stmtCache struct {
	db  *sqlx.DB
	mu  sync.RWMutex
	m   map[string]*sql.Stmt
	off atomic.Bool // set for good once the server loses a prepared statement
}

// maxPrepared bounds the statement cache.
const maxPrepared = 64

func newStmtCache(db *sqlx.DB) *stmtCache { return &stmtCache{db: db, m: map[string]*sql.Stmt{}} }

func (c *stmtCache) get(ctx context.Context, query string) (*sql.Stmt, error) {
	if c.off.Load() {
		return nil, nil
	}
	c.mu.RLock()
	st := c.m[query]
	c.mu.RUnlock()
	if st != nil {
		return st, nil
	}
	c.mu.RLock()
	full := len(c.m) >= maxPrepared
	c.mu.RUnlock()
	if full {
		return nil, nil
	}
	// Prepared outside the lock, so a slow database does not hold up the texts already cached.
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if had := c.m[query]; had != nil || len(c.m) >= maxPrepared {
		_ = st.Close() // another caller got there first, or the cache filled meanwhile
		if had == nil {
			return nil, nil
		}
		return had, nil
	}
	c.m[query] = st
	return st, nil
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, st := range c.m {
		_ = st.Close()
		delete(c.m, q)
	}
}

// queryPrepared runs a read through the statement cache (outside transactions) or directly. The caller
// builds the text from a fixed set of fragments; values go in args.
func (q *Queries) queryPrepared(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	query = q.db.Rebind(query)
	if q.stmts == nil {
		return q.db.QueryContext(ctx, query, args...)
	}
	st, err := q.stmts.get(ctx, query)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return q.db.QueryContext(ctx, query, args...)
	}
	rows, err := st.QueryContext(ctx, args...)
	if err != nil && q.fl.isLostStatement(err) {
		// Something between us and PostgreSQL does not keep prepared statements per connection (a
		// transaction-mode pooler): stop preparing in this process and run the query as before.
		// The statements stay open (other calls may be using them) until the store closes.
		q.stmts.off.Store(true)
		return q.db.QueryContext(ctx, query, args...)
	}
	return rows, err
}

// Page sizes for list methods.
const (
	DefaultLimit = 100
	MaxLimit     = 500
)

func (q *Queries) get(ctx context.Context, op string, dest any, query string, args ...any) error {
	return q.wrap(op, sqlx.GetContext(ctx, q.db, dest, q.db.Rebind(query), args...))
}

func (q *Queries) selectAll(ctx context.Context, op string, dest any, query string, args ...any) error {
	return q.wrap(op, sqlx.SelectContext(ctx, q.db, dest, q.db.Rebind(query), args...))
}

func (q *Queries) exec(ctx context.Context, op string, query string, args ...any) (int64, error) {
	res, err := q.db.ExecContext(ctx, q.db.Rebind(query), args...)
	if err != nil {
		return 0, q.wrap(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, q.wrap(op, err)
	}
	return n, nil
}

// namedExec runs a statement with :name parameters taken from arg's db tags.
func (q *Queries) namedExec(ctx context.Context, op string, query string, arg any) (int64, error) {
	res, err := sqlx.NamedExecContext(ctx, q.db, query, arg)
	if err != nil {
		return 0, q.wrap(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, q.wrap(op, err)
	}
	return n, nil
}

// wrap maps driver errors onto the package sentinels, keeping the driver error in the chain so InTx can
// still recognise retryable ones.
func (q *Queries) wrap(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("store: %s: %w", op, ErrNotFound)
	case q.fl.isUnique(err):
		return fmt.Errorf("store: %s: %w: %w", op, ErrConflict, err)
	default:
		return fmt.Errorf("store: %s: %w", op, err)
	}
}

// conds gathers WHERE conditions and their arguments in order.
type conds struct {
	parts []string
	args  []any
}

func (c *conds) add(cond string, args ...any) {
	c.parts = append(c.parts, cond)
	c.args = append(c.args, args...)
}

// after adds the keyset condition of an id cursor ("" for the first page): rows whose idColumn sorts
// before the cursor's id, the next page of a newest-first list.
func (c *conds) after(idColumn, cursor string) error {
	if cursor == "" {
		return nil
	}
	before, err := decodeIDCursor(cursor)
	if err != nil {
		return err
	}
	c.add(idColumn+" < ?", before)
	return nil
}

// where renders " WHERE a AND b", or "" when there are no conditions.
func (c *conds) where() string {
	if len(c.parts) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(c.parts, " AND ")
}

// clampLimit applies the list page size rules: 0 or less means the default, more than MaxLimit is cut.
func clampLimit(n int) int {
	switch {
	case n <= 0:
		return DefaultLimit
	case n > MaxLimit:
		return MaxLimit
	default:
		return n
	}
}

// encodeCursor makes an opaque cursor from the sort key of the last row of a page.
func encodeCursor(key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(key))
}

// decodeCursor reverses encodeCursor; any other input is ErrInvalidCursor.
func decodeCursor(cursor string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil || len(b) == 0 {
		return "", ErrInvalidCursor
	}
	return string(b), nil
}

// decodeIDCursor decodes a cursor that must hold a row id (letters, digits, '_' and '-').
func decodeIDCursor(cursor string) (string, error) {
	id, err := decodeCursor(cursor)
	if err != nil {
		return "", err
	}
	if len(id) > 128 {
		return "", ErrInvalidCursor
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return "", ErrInvalidCursor
		}
	}
	return id, nil
}

// likeEscaper protects LIKE wildcards in user search text; queries declare ESCAPE '!' (not a backslash,
// whose meaning in a PostgreSQL string literal depends on standard_conforming_strings).
var likeEscaper = strings.NewReplacer(`!`, `!!`, `%`, `!%`, `_`, `!_`)

// containsPattern turns search text into a case-insensitive LIKE pattern matched against LOWER(column).
// SQLite's LOWER folds ASCII letters only, so non-ASCII case differences match on PostgreSQL alone.
func containsPattern(search string) string {
	return "%" + likeEscaper.Replace(strings.ToLower(search)) + "%"
}

func micros(t time.Time) int64 { return t.UnixMicro() }

func nullMicros(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMicro(), Valid: true}
}

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

func fromNullMicros(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMicros(v.Int64)
	return &t
}

// nullString stores "" as NULL.
func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// nowIfZero fills a required timestamp the caller left unset.
func nowIfZero(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now()
	}
	return t
}
