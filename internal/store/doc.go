// Package store is Hitch's only home for SQL: it opens SQLite or PostgreSQL, runs the embedded migrations
// and reads and writes every table through sqlx.
//
// Every query is written once, with `?` placeholders that are rebound for PostgreSQL; a small flavor value
// holds the few things that truly differ (error codes, row locking).
//
// Timestamps are BIGINT unix microseconds in both databases rather than native time types: SQLite has no
// time type (the driver would store text whose comparison depends on formatting), and a plain integer gives
// one query text, exact equality and index-friendly range scans everywhere. Go code sees time.Time in UTC,
// truncated to the microsecond.
//
// Optional text columns are NULL in the database and "" in Go, so UNIQUE columns such as code_hash accept
// any number of unset rows.
//
// IDs come from [NewID]: a type prefix and a time-ordered random suffix, so ordering by id is ordering by
// creation time to the millisecond; PostgreSQL declares id and key columns COLLATE "C" so ORDER BY matches
// SQLite's byte order.
package store
