package store

import (
	"context"
	"embed"
	"fmt"
	"hash/fnv"
	"io/fs"
	"log/slog"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// migrationsFS holds one directory per flavor; both use the same version numbers so a version means the
// same schema everywhere.
//
//go:embed migrations/postgres/*.sql migrations/sqlite/*.sql
var migrationsFS embed.FS

// migrationsTable records applied versions (goose's own bookkeeping).
const migrationsTable = "schema_migrations"

// Migrate applies every pending migration. On PostgreSQL it holds a session advisory lock for the current
// database and schema, so replicas that start together migrate once and the others wait, then find
// nothing to do.
func (s *Store) Migrate(ctx context.Context) error {
	s.migrateMu.Lock()
	defer s.migrateMu.Unlock()
	p, err := s.provider(ctx)
	if err != nil {
		return err
	}
	results, err := p.Up(ctx)
	// SQLite has no advisory lock, so two processes on one file (serve and worker) can race; the loser's
	// migration fails as a whole (each runs in a transaction with its version row), and running Up again
	// finds the winner's work done. A genuinely broken migration fails every time.
	for attempt := 1; err != nil && s.fl.name == FlavorSQLite && attempt < 5; attempt++ {
		select {
		case <-ctx.Done():
			return fmt.Errorf("store: migrate: %w", err)
		case <-time.After(time.Duration(attempt) * 50 * time.Millisecond):
		}
		results, err = p.Up(ctx)
	}
	if err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	for _, r := range results {
		slog.InfoContext(ctx, "database migrated", "flavor", s.fl.name, "version", r.Source.Version,
			"duration", r.Duration)
	}
	return nil
}

// MigrationVersion reports the highest applied migration version, 0 on an empty database.
func (s *Store) MigrationVersion(ctx context.Context) (int64, error) {
	p, err := s.provider(ctx)
	if err != nil {
		return 0, err
	}
	v, err := p.GetDBVersion(ctx)
	if err != nil {
		return 0, fmt.Errorf("store: migration version: %w", err)
	}
	return v, nil
}

func (s *Store) provider(ctx context.Context) (*goose.Provider, error) {
	dir, err := fs.Sub(migrationsFS, "migrations/"+s.fl.name)
	if err != nil {
		return nil, fmt.Errorf("store: migrations for %s: %w", s.fl.name, err)
	}
	opts := []goose.ProviderOption{
		goose.WithTableName(migrationsTable),
		goose.WithDisableGlobalRegistry(true),
		goose.WithLogger(goose.NopLogger()),
	}
	dialect := goose.DialectSQLite3
	if s.fl.name == FlavorPostgres {
		dialect = goose.DialectPostgres
		id, err := s.lockID(ctx)
		if err != nil {
			return nil, err
		}
		// Probe every second (goose's default is 5 s) for up to 5 minutes.
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(id), lock.WithLockTimeout(1, 300))
		if err != nil {
			return nil, fmt.Errorf("store: migration lock: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(dialect, s.db.DB, dir, opts...)
	if err != nil {
		return nil, fmt.Errorf("store: migrations: %w", err)
	}
	return p, nil
}

// lockID derives the advisory lock from the database and schema, so deployments (and test schemas)
// sharing one PostgreSQL server do not queue behind each other while replicas of one deployment do.
func (s *Store) lockID(ctx context.Context) (int64, error) {
	var db, schema string
	if err := s.db.QueryRowContext(ctx, "SELECT current_database(), COALESCE(current_schema(), '')").Scan(&db, &schema); err != nil {
		return 0, fmt.Errorf("store: migration lock: %w", err)
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte("hitch-migrate\x00" + db + "\x00" + schema))
	return int64(h.Sum64()), nil
}
