package store

import (
	"errors"

	"github.com/lib/pq"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

var (
	// ErrNotFound means no row matched, including a row that belongs to another tenant.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict means the write collided with existing state: a duplicate key, or a one-time code
	// already claimed or expired.
	ErrConflict = errors.New("store: conflict")
	// ErrInvalidCursor means a pagination cursor was not one this package issued.
	ErrInvalidCursor = errors.New("store: invalid cursor")
)

// flavor holds what differs between the databases; everything else is shared query text.
type flavor struct {
	name string
	// skipLocked is appended to SELECTs that claim work rows (refresh leases, webhook deliveries) so
	// PostgreSQL workers pass over rows another replica holds; SQLite has one writer and needs nothing.
	skipLocked string
	// forUpdate locks the selected rows until commit on PostgreSQL; SQLite's immediate transactions
	// already exclude other writers.
	forUpdate   string
	isUnique    func(error) bool
	isRetryable func(error) bool
	// isLostStatement reports a prepared statement the server does not know: what a pooler that hands
	// each statement to any server connection (PgBouncer in transaction mode before 1.21) produces.
	isLostStatement func(error) bool
}

var sqliteFlavor = &flavor{
	name:       FlavorSQLite,
	skipLocked: "",
	forUpdate:  "",
	isUnique: func(err error) bool {
		var e *sqlite.Error
		return errors.As(err, &e) &&
			(e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
	},
	isRetryable: func(err error) bool {
		var e *sqlite.Error
		// The low byte is the primary result code; extended codes such as SQLITE_BUSY_SNAPSHOT share it.
		return errors.As(err, &e) && e.Code()&0xff == sqlite3.SQLITE_BUSY
	},
	isLostStatement: func(error) bool { return false },
}

var postgresFlavor = &flavor{
	name:       FlavorPostgres,
	skipLocked: " FOR UPDATE SKIP LOCKED",
	forUpdate:  " FOR UPDATE",
	isUnique: func(err error) bool {
		var e *pq.Error
		return errors.As(err, &e) && e.Code == "23505"
	},
	isRetryable: func(err error) bool {
		var e *pq.Error
		return errors.As(err, &e) && (e.Code == "40001" || e.Code == "40P01")
	},
	isLostStatement: func(err error) bool {
		var e *pq.Error
		return errors.As(err, &e) && e.Code == "26000" // invalid_sql_statement_name
	},
}
