package store

import (
	"context"
	"database/sql"
	"slices"
	"strings"
	"time"
)

// This file holds the aggregates behind the console's dashboard and tenants page. They read across
// tenants and are for admins only.

// microsPerDay buckets microsecond columns into UTC days; dayOf's SQL divides by the same number
// (integer division truncates alike on both databases).
const microsPerDay = int64(24 * time.Hour / time.Microsecond)

// dayOf renders the UTC day number of a microsecond column.
func dayOf(column string) string { return column + " / 86400000000" }

// fromDay turns a day number back into its UTC midnight.
func fromDay(day int64) time.Time { return fromMicros(day * microsPerDay) }

// ConnectionCounts splits connections by state. Active = not archived and not disconnected.
type ConnectionCounts struct{ Active, Disconnected, Archived int }

// stateCounts renders ConnectionCounts' columns; Disconnected excludes archived connections, so the three
// add up to every connection.
const stateCounts = `COUNT(CASE WHEN archived_at IS NULL AND NOT disconnected THEN 1 END) AS active,
	COUNT(CASE WHEN archived_at IS NULL AND disconnected THEN 1 END) AS disconnected,
	COUNT(archived_at) AS archived`

// AppCount is one app's live connections.
type AppCount struct {
	AppKey               string
	Active, Disconnected int
}

// SessionDay is one UTC day of the connect funnel.
type SessionDay struct {
	Day                                                    time.Time
	Started, Opened, Completed, Failed, Cancelled, Expired int
}

// SessionFunnel returns the connect funnel per UTC day of the sessions created at or after since: days
// with sessions only, ascending, Day at UTC midnight. Started counts the day's sessions; Opened, those
// whose link code was used; Completed, Failed and Cancelled go by status; Expired counts status expired
// and sessions still pending past their expiry at now (nothing marks those expired in the table).
func (q *Queries) SessionFunnel(ctx context.Context, since, now time.Time) ([]SessionDay, error) {
	var rows []struct {
		Day       int64 `db:"day"`
		Started   int   `db:"started"`
		Opened    int   `db:"opened"`
		Completed int   `db:"completed"`
		Failed    int   `db:"failed"`
		Cancelled int   `db:"cancelled"`
		Expired   int   `db:"expired"`
	}
	err := q.selectAll(ctx, "session funnel", &rows, `SELECT `+dayOf("created_at")+` AS day,
			COUNT(*) AS started,
			COUNT(code_used_at) AS opened,
			COUNT(CASE WHEN status = ? THEN 1 END) AS completed,
			COUNT(CASE WHEN status = ? THEN 1 END) AS failed,
			COUNT(CASE WHEN status = ? THEN 1 END) AS cancelled,
			COUNT(CASE WHEN status = ? OR (status = ? AND expires_at < ?) THEN 1 END) AS expired
		FROM connect_sessions WHERE created_at >= ?
		GROUP BY day ORDER BY day`,
		SessionCompleted, SessionFailed, SessionCancelled, SessionExpired, SessionPending, micros(now), micros(since))
	if err != nil {
		return nil, err
	}
	out := make([]SessionDay, len(rows))
	for i, r := range rows {
		out[i] = SessionDay{
			Day: fromDay(r.Day), Started: r.Started, Opened: r.Opened, Completed: r.Completed,
			Failed: r.Failed, Cancelled: r.Cancelled, Expired: r.Expired,
		}
	}
	return out, nil
}

// RefreshDay is one UTC day of refresh attempts by outcome.
type RefreshDay struct {
	Day                           time.Time
	Success, Transient, Permanent int
}

// RefreshActivity counts the refresh attempts made at or after since by UTC day and outcome: days with
// attempts only, ascending, Day at UTC midnight. Its cost grows with the attempts in the window, so keep
// the window to what the dashboard shows.
func (q *Queries) RefreshActivity(ctx context.Context, since time.Time) ([]RefreshDay, error) {
	var rows []struct {
		Day       int64 `db:"day"`
		Success   int   `db:"success"`
		Transient int   `db:"transient"`
		Permanent int   `db:"permanent"`
	}
	err := q.selectAll(ctx, "refresh activity", &rows, `SELECT `+dayOf("attempted_at")+` AS day,
			COUNT(CASE WHEN outcome = ? THEN 1 END) AS success,
			COUNT(CASE WHEN outcome = ? THEN 1 END) AS transient,
			COUNT(CASE WHEN outcome = ? THEN 1 END) AS permanent
		FROM refresh_attempts WHERE attempted_at >= ?
		GROUP BY day ORDER BY day`,
		OutcomeSuccess, OutcomeTransient, OutcomePermanent, micros(since))
	if err != nil {
		return nil, err
	}
	out := make([]RefreshDay, len(rows))
	for i, r := range rows {
		out[i] = RefreshDay{Day: fromDay(r.Day), Success: r.Success, Transient: r.Transient, Permanent: r.Permanent}
	}
	return out, nil
}

// TenantStats is one tenant's connection counts.
type TenantStats struct {
	Active, Disconnected, Archived int
	// LastConnectionAt is when the tenant's newest connection was created, archived ones included.
	LastConnectionAt *time.Time
}

// TenantConnectionCounts returns the connection counts of the given tenants (a page of the tenants list),
// keyed by tenant key; tenants without connections are absent. Keys go to the database MaxLimit at a
// time.
func (q *Queries) TenantConnectionCounts(ctx context.Context, keys []string) (map[string]TenantStats, error) {
	out := make(map[string]TenantStats, len(keys))
	for len(keys) > 0 {
		batch := keys[:min(len(keys), MaxLimit)]
		keys = keys[len(batch):]
		args := make([]any, len(batch))
		for i, k := range batch {
			args[i] = k
		}
		var rows []struct {
			TenantKey    string        `db:"tenant_key"`
			Active       int           `db:"active"`
			Disconnected int           `db:"disconnected"`
			Archived     int           `db:"archived"`
			LastCreated  sql.NullInt64 `db:"last_created_at"`
		}
		err := q.selectAll(ctx, "tenant connection counts", &rows, `SELECT tenant_key, `+stateCounts+`,
				MAX(created_at) AS last_created_at
			FROM connections WHERE tenant_key IN (`+strings.TrimSuffix(strings.Repeat("?, ", len(batch)), ", ")+`)
			GROUP BY tenant_key`, args...)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			out[r.TenantKey] = TenantStats{
				Active: r.Active, Disconnected: r.Disconnected, Archived: r.Archived,
				LastConnectionAt: fromNullMicros(r.LastCreated),
			}
		}
	}
	return out, nil
}

// TallyConnections counts every connection by state, in total and per app with live (unarchived)
// connections, in one pass over the table: the dashboard's tiles and its top-apps chart together. Apps
// come ordered by live connections descending, then key.
func (q *Queries) TallyConnections(ctx context.Context) (ConnectionCounts, []AppCount, error) {
	var rows []struct {
		AppKey       string `db:"app_key"`
		Active       int    `db:"active"`
		Disconnected int    `db:"disconnected"`
		Archived     int    `db:"archived"`
	}
	if err := q.selectAll(ctx, "tally connections", &rows, "SELECT app_key, "+stateCounts+" FROM connections GROUP BY app_key"); err != nil {
		return ConnectionCounts{}, nil, err
	}
	var total ConnectionCounts
	apps := make([]AppCount, 0, len(rows))
	for _, r := range rows {
		total.Active += r.Active
		total.Disconnected += r.Disconnected
		total.Archived += r.Archived
		if r.Active+r.Disconnected > 0 {
			apps = append(apps, AppCount{AppKey: r.AppKey, Active: r.Active, Disconnected: r.Disconnected})
		}
	}
	slices.SortFunc(apps, func(a, b AppCount) int {
		if d := (b.Active + b.Disconnected) - (a.Active + a.Disconnected); d != 0 {
			return d
		}
		return strings.Compare(a.AppKey, b.AppKey)
	})
	return total, apps, nil
}

// RecentlyDisconnected returns up to limit unarchived disconnected connections across tenants, the most
// recently changed (broken) first.
func (q *Queries) RecentlyDisconnected(ctx context.Context, limit int) ([]Connection, error) {
	// TRUE as a literal, not a bound parameter: SQLite uses a partial index only when the query's terms
	// prove its WHERE clause at prepare time.
	rows, err := q.scanConnections(ctx, "SELECT "+connectionColumns+` FROM connections
		WHERE disconnected = TRUE AND archived_at IS NULL ORDER BY updated_at DESC, id DESC LIMIT ?`, clampLimit(limit))
	if err != nil {
		return nil, q.wrap("list recently disconnected", err)
	}
	out := make([]Connection, len(rows))
	for i := range rows {
		if out[i], err = rows[i].connection(); err != nil {
			return nil, err
		}
	}
	return out, nil
}
