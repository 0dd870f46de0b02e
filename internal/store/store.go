package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq"  // registers the "postgres" driver
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Flavor names returned by [Store.Flavor].
const (
	FlavorSQLite   = "sqlite"
	FlavorPostgres = "postgres"
)

// sqlitePragmas are applied by the driver to every new connection. WAL lets readers run beside the single
// writer; _txlock=immediate takes the write lock at BEGIN, so a transaction that reads then writes waits
// for busy_timeout instead of failing with SQLITE_BUSY when another writer got in first.
const sqlitePragmas = "_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)" +
	"&_pragma=synchronous(NORMAL)&_txlock=immediate"

// txAttempts bounds how often InTx runs fn when the database reports a serialization failure, a deadlock
// or a busy file.
const txAttempts = 4

// Store is an open database. Its embedded *Queries run outside any transaction; use InTx to group them.
type Store struct {
	*Queries
	db        *sqlx.DB
	fl        *flavor
	migrateMu sync.Mutex // goose's session lock covers other processes; this covers goroutines on SQLite
}

// Open connects to the database named by rawURL: sqlite://relative/path.db, sqlite:///absolute/path.db,
// or postgres:// (also postgresql://) in lib/pq's URL form. It creates a SQLite file's parent directory.
// It does not migrate; call Migrate.
func Open(ctx context.Context, rawURL string) (*Store, error) {
	scheme, _, ok := strings.Cut(rawURL, "://")
	if !ok {
		// Not echoed: without a scheme there is no telling where a password might sit.
		return nil, errors.New("store: database URL has no scheme (want sqlite:// or postgres://)")
	}
	switch strings.ToLower(scheme) {
	case "sqlite":
		return openSQLite(ctx, rawURL[len(scheme)+len("://"):])
	case "postgres", "postgresql":
		return openPostgres(ctx, rawURL)
	default:
		if strings.Trim(strings.ToLower(scheme), "abcdefghijklmnopqrstuvwxyz0123456789+-.") != "" {
			scheme = "?" // something that is no scheme may hold credentials; do not repeat it
		}
		return nil, fmt.Errorf("store: unsupported database URL scheme %q (want sqlite:// or postgres://)", scheme)
	}
}

func openSQLite(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("store: sqlite URL has no file path")
	}
	if strings.ContainsAny(path, "?#") {
		// The driver splits its options off at the first '?', so such a path cannot be passed safely.
		return nil, fmt.Errorf("store: sqlite path %q must not contain '?' or '#'", path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("store: sqlite path %q: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fmt.Errorf("store: create database directory: %w", err)
	}
	// Created private before SQLite opens it: SQLite gives the -wal and -shm files the database file's mode,
	// and all three hold credentials (sealed) and tenant data.
	if f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600); err == nil {
		_ = f.Close()
	} else if !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("store: create sqlite file: %w", err)
	}
	db, err := sqlx.Open("sqlite", abs+"?"+sqlitePragmas)
	if err != nil {
		return nil, fmt.Errorf("store: open sqlite %s: %w", abs, err)
	}
	db.SetConnMaxIdleTime(5 * time.Minute)
	s := newStore(db, sqliteFlavor)
	if err := s.Ping(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("store: open sqlite %s: %w", abs, err)
	}
	return s, nil
}

func openPostgres(ctx context.Context, rawURL string) (*Store, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Error quotes the whole URL, password included, so it is not wrapped.
		return nil, errors.New("store: postgres URL is malformed")
	}
	password, _ := u.User.Password()
	if password == "" {
		password = u.Query().Get("password")
	}
	safe := redactURL(rawURL)
	// binary_parameters lets lib/pq send parse, bind and execute in one round
	// trip instead of preparing an unnamed statement first (two round trips
	// per query). An explicit setting in the URL wins.
	q := u.Query()
	if q.Get("binary_parameters") == "" {
		q.Set("binary_parameters", "yes")
	}
	// hitch_prepared_statements=on runs the connection list as a named prepared statement (less work per
	// request on the server). Off by default: a pooler that shares server connections between clients
	// without tracking prepared statements (PgBouncer in transaction mode before 1.21, or without
	// max_prepared_statements) could hand one client's statement of the same name to another, and lib/pq
	// names statements by a per-connection counter. Only a direct connection or a pooler that keeps them
	// apart should turn it on. It is Hitch's, so lib/pq never sees it.
	prepare := false
	switch v := q.Get("hitch_prepared_statements"); strings.ToLower(v) {
	case "on", "true", "yes":
		prepare = true
	case "", "off", "false", "no":
	default:
		return nil, fmt.Errorf("store: hitch_prepared_statements=%q: want on or off", v)
	}
	q.Del("hitch_prepared_statements")
	u.RawQuery = q.Encode()
	rawURL = u.String()
	db, err := sqlx.Open("postgres", rawURL)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", safe, scrub(err, password))
	}
	// Idle connections equal open ones: a smaller idle pool makes every burst
	// above it close and reopen PostgreSQL connections (a fork each).
	db.SetMaxOpenConns(20)
	db.SetMaxIdleConns(20)
	db.SetConnMaxIdleTime(5 * time.Minute)
	s := newStore(db, postgresFlavor)
	s.stmts.off.Store(!prepare)
	if err := s.Ping(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("store: open %s: %w", safe, scrub(err, password))
	}
	return s, nil
}

func newStore(db *sqlx.DB, fl *flavor) *Store {
	return &Store{Queries: &Queries{db: db, fl: fl, stmts: newStmtCache(db)}, db: db, fl: fl}
}

// Flavor reports which database is behind the store: FlavorSQLite or FlavorPostgres.
func (s *Store) Flavor() string { return s.fl.name }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	return nil
}

// Close closes every pooled connection.
func (s *Store) Close() error {
	s.stmts.close()
	return s.db.Close()
}

// DB exposes the connection pool to tests and benchmarks; application code goes through Queries.
func (s *Store) DB() *sqlx.DB { return s.db }

// InTx runs fn in one transaction, committing when it returns nil and rolling back on an error or a
// panic. Serialization failures, deadlocks and SQLite BUSY errors roll back and run fn again (a few times,
// with a short jittered pause), so fn must not have effects outside the transaction it cannot repeat.
func (s *Store) InTx(ctx context.Context, fn func(q *Queries) error) error {
	for attempt := 1; ; attempt++ {
		err := s.inTx(ctx, fn)
		if err == nil || attempt == txAttempts || !s.fl.isRetryable(err) {
			return err
		}
		pause := time.Duration(rand.Int64N(int64(10*time.Millisecond) << attempt))
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (gave up retrying: %w)", err, ctx.Err())
		case <-time.After(pause):
		}
	}
}

func (s *Store) inTx(ctx context.Context, fn func(q *Queries) error) (err error) {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback()
			panic(p)
		}
	}()
	if err := fn(&Queries{db: tx, fl: s.fl}); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// redactURL returns rawURL with any password masked, for messages and logs.
func redactURL(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		scheme, _, _ := strings.Cut(rawURL, "://")
		return scheme + "://(unparseable)"
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// scrub removes secret from err's text should a driver ever echo it back; the chain is kept otherwise.
func scrub(err error, secret string) error {
	if secret == "" || !strings.Contains(err.Error(), secret) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), secret, "xxxxx"))
}

// Analyze refreshes the query planner's statistics. The servers do this on
// their own over time; bulk loaders and benchmarks call it so plans match
// the data at once.
func (s *Store) Analyze(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, "ANALYZE"); err != nil {
		return fmt.Errorf("store: analyze: %w", err)
	}
	return nil
}
