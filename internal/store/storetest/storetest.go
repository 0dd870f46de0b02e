// Package storetest gives tests a fresh, migrated store on SQLite and on PostgreSQL, so every store case
// runs against both databases.
//
// PostgreSQL comes from HITCH_TEST_POSTGRES_URL (default DefaultPostgresURL); each store gets its own
// schema, dropped afterwards. When the server is unreachable the PostgreSQL cases are skipped, unless
// CI=true, where that is a failure.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/lib/pq" // registers the "postgres" driver for the schema admin connection

	"github.com/hitchdev/hitch/internal/store"
)

// DefaultPostgresURL is used when HITCH_TEST_POSTGRES_URL is unset.
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// ForEach runs fn as the subtests "sqlite" and "postgres", each with its own fresh, migrated store.
func ForEach(t *testing.T, fn func(t *testing.T, s *store.Store)) {
	t.Helper()
	for _, flavor := range []string{store.FlavorSQLite, store.FlavorPostgres} {
		t.Run(flavor, func(t *testing.T) {
			fn(t, Open(t, flavor))
		})
	}
}

// Open returns a fresh, migrated store of the given flavor, closed and removed when the test ends.
func Open(tb testing.TB, flavor string) *store.Store {
	tb.Helper()
	return OpenURL(tb, URL(tb, flavor))
}

// OpenURL opens a store on url (from URL, or another store's, as a second replica would) and migrates it
// (a no-op when already migrated); the store is closed when the test ends.
func OpenURL(tb testing.TB, url string) *store.Store {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := store.Open(ctx, url)
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	if err := s.Migrate(ctx); err != nil {
		tb.Fatalf("migrate store: %v", err)
	}
	return s
}

// URL returns the database URL of a fresh, empty database of the given flavor (a file in a temporary
// directory, or a new PostgreSQL schema), removed when the test ends. Stores opened on it must be closed
// by the caller's own cleanups, which run before this one.
func URL(tb testing.TB, flavor string) string {
	tb.Helper()
	switch flavor {
	case store.FlavorSQLite:
		return "sqlite://" + filepath.Join(tb.TempDir(), "hitch.db")
	case store.FlavorPostgres:
		return postgresSchemaURL(tb)
	default:
		tb.Fatalf("storetest: unknown flavor %q", flavor)
		return ""
	}
}

func postgresSchemaURL(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv("HITCH_TEST_POSTGRES_URL")
	if base == "" {
		base = DefaultPostgresURL
	}
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatal("storetest: HITCH_TEST_POSTGRES_URL is not a valid URL")
	}
	admin, err := sql.Open("postgres", base)
	if err != nil {
		tb.Fatalf("storetest: open PostgreSQL %s: %v", u.Redacted(), err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := admin.PingContext(ctx); err != nil {
		_ = admin.Close()
		if os.Getenv("CI") == "true" {
			tb.Fatalf("storetest: PostgreSQL %s unreachable under CI: %v", u.Redacted(), err)
		}
		tb.Skipf("storetest: PostgreSQL %s unreachable (set HITCH_TEST_POSTGRES_URL): %v", u.Redacted(), err)
	}

	// Migration 00004 installs pg_trgm where the search path points, which here is a test schema: dropping
	// that schema would drop the extension and, by CASCADE, the search indexes of every other test schema
	// built on it, taking their locks in the middle of other tests (deadlocks). Installed once in public,
	// the migration finds it there and each schema owns only its own indexes. Errors are ignored: without
	// the extension the migration skips the indexes.
	_, _ = admin.ExecContext(ctx, "CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public")

	var b [8]byte
	_, _ = rand.Read(b[:])
	schema := "hitch_test_" + hex.EncodeToString(b[:])
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		_ = admin.Close()
		tb.Fatalf("storetest: create schema: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			tb.Errorf("storetest: drop schema %s: %v", schema, err)
		}
		_ = admin.Close()
	})

	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
