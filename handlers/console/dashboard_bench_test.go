package console_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hitchdev/hitch/internal/client/clienttest"
	"github.com/hitchdev/hitch/internal/store"
)

// Size of the console benchmark's PostgreSQL data set.
const (
	benchTenants     = 1000
	benchConnections = 100_000
	benchSessions    = 50_000
	benchAttempts    = 100_000
)

// benchApps are 20 catalog apps; the seed skews connections towards the first.
var benchApps = []string{"hubspot", "salesforce", "slack", "gmail", "google-calendar", "notion", "jira", "zendesk", "asana",
	"outlook", "pipedrive", "zoom", "intercom", "freshdesk", "confluence", "calendly", "microsoft-teams", "discord", "twilio", "front"}

// BenchmarkConsolePages measures signed-in GETs of the console's main pages
// through the whole router, in process, on PostgreSQL holding 100,000
// connections of 1,000 tenants over 20 apps (about 3% disconnected and 5%
// archived), with 50,000 connect sessions and 100,000 refresh attempts over
// the last 14 days. Skipped when PostgreSQL is unreachable.
func BenchmarkConsolePages(b *testing.B) {
	srv := clienttest.StartWith(b, clienttest.Options{Flavor: store.FlavorPostgres})
	s, h := srv.Store, srv.Handler
	browser := clienttest.NewBrowser()
	srv.SignIn(browser, "bench@example.com")
	consoleURL, _ := url.Parse(srv.URL + "/console")
	var cookies []string
	for _, c := range browser.Client().Jar.Cookies(consoleURL) {
		cookies = append(cookies, c.Name+"="+c.Value)
	}
	cookie := strings.Join(cookies, "; ")
	ctx := b.Context()
	now := time.Now().UTC()
	seedConsoleBench(b, ctx, s, now)

	// A disconnected connection with refresh attempts and events, for the detail page.
	detail := "con_" + benchPad(33*1000, 26)
	if _, err := s.GetConnection(ctx, detail, ""); err != nil {
		b.Fatalf("detail connection %s: %v", detail, err)
	}
	pages := []struct{ name, path, want string }{
		{"dashboard", "/console", "Needs attention"},
		{"connections", "/console/connections", "c-table"},
		{"disconnected", "/console/connections?state=disconnected", "c-table"},
		{"search", "/console/connections?q=tenant-0421", "tenant-0421"},
		{"tenants", "/console/tenants", "tenant-0001"},
		{"detail", "/console/connections/" + detail, detail},
	}
	for _, pg := range pages {
		b.Run(pg.name, func(b *testing.B) {
			get := func() *httptest.ResponseRecorder {
				req := httptest.NewRequest(http.MethodGet, pg.path, nil)
				req.Header.Set("Cookie", cookie)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				return rec
			}
			if rec := get(); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), pg.want) {
				b.Fatalf("GET %s: %d, want 200 with %q\n%.2000s", pg.path, rec.Code, pg.want, rec.Body.String())
			}
			b.ReportAllocs()
			for b.Loop() {
				if rec := get(); rec.Code != http.StatusOK {
					b.Fatalf("GET %s: %d", pg.path, rec.Code)
				}
			}
		})
	}
}

// benchPad is n in decimal, zero-padded to width: ids that sort like numbers.
func benchPad(n, width int) string {
	s := strconv.Itoa(n)
	return strings.Repeat("0", max(0, width-len(s))) + s
}

// seedConsoleBench fills s with set-based INSERT … SELECT statements: one
// round trip per table instead of one per row. Values are derived from the
// row number, so every run holds the same data (relative to now).
func seedConsoleBench(b testing.TB, ctx context.Context, s *store.Store, now time.Time) {
	b.Helper()
	start := time.Now()
	nowUS := now.UnixMicro()
	day := int64(24 * time.Hour / time.Microsecond)
	since := now.Truncate(24*time.Hour).UnixMicro() - 13*day
	apps := "(ARRAY['" + strings.Join(benchApps, "','") + "'])"
	// app picks an app for row g, skewed towards the front of the list.
	app := apps + "[1 + floor(20 * power(((g * 2654435761::bigint) % 1000) / 1000.0, 2))::int]"
	tenant := "'tenant-' || lpad((1 + (g * 7919) % " + strconv.Itoa(benchTenants) + ")::text, 4, '0')"
	stmts := []string{
		`INSERT INTO tenants (key, name, created_at, updated_at)
			SELECT 'tenant-' || lpad(g::text, 4, '0'), 'Tenant ' || g, $1::bigint - 400 * $2::bigint, $1::bigint - 400 * $2::bigint
			FROM generate_series(1::bigint, ` + strconv.Itoa(benchTenants) + `) g`,
		// A year of connections, ids in creation order; every 33rd is disconnected, every 20th (offset 7) archived.
		`INSERT INTO connections (id, tenant_key, app_key, name, auth_type, credentials, key_id, input, disconnected,
				error_code, error_message, created_at, updated_at, archived_at, access_expires_at, last_refresh_at,
				next_refresh_at, retry_attempts)
			SELECT 'con_' || lpad(g::text, 26, '0'), ` + tenant + `, ` + app + `, 'Connection ' || g, 'oauth2',
				'\x00112233445566778899'::bytea, 'k1', '{}', g % 33 = 0,
				CASE WHEN g % 33 = 0 THEN 'invalid_grant' END,
				CASE WHEN g % 33 = 0 THEN 'The user revoked access at the provider.' END,
				$1::bigint - 365 * $2::bigint + g * (365 * $2::bigint / ` + strconv.Itoa(benchConnections) + `),
				$1::bigint - (g % 300) * 3600000000,
				CASE WHEN g % 20 = 7 THEN $1::bigint - (g % 300) * 3600000000 END,
				$1::bigint + (g % 3600) * 1000000, $1::bigint - (g % 3600) * 1000000,
				CASE WHEN g % 20 = 7 THEN NULL ELSE $1::bigint + (g % 3000) * 1000000 END,
				CASE WHEN g % 33 = 0 THEN 3 ELSE 0 END
			FROM generate_series(1::bigint, ` + strconv.Itoa(benchConnections) + `) g`,
		// 50,000 sessions spread over the 14 days: ~85% completed, then failed, cancelled, expired, pending.
		`INSERT INTO connect_sessions (id, tenant_key, tenant_name, app_key, status, code_used_at, created_at, updated_at, expires_at)
			SELECT 'cs_' || lpad(g::text, 26, '0'), ` + tenant + `, '', ` + app + `,
				CASE WHEN g % 100 < 85 THEN 'completed' WHEN g % 100 < 90 THEN 'failed' WHEN g % 100 < 95 THEN 'cancelled'
					WHEN g % 100 < 98 THEN 'expired' ELSE 'pending' END,
				CASE WHEN g % 100 < 95 THEN c END, c, c, c + 1800000000
			FROM (SELECT g, $2::bigint + g * (($1::bigint - $2::bigint) / ` + strconv.Itoa(benchSessions) + `) AS c
				FROM generate_series(1::bigint, ` + strconv.Itoa(benchSessions) + `) g) AS t`,
		// 100,000 refresh attempts over the 14 days, on live connections: 97% success, 2% transient, 1% permanent.
		`INSERT INTO refresh_attempts (id, connection_id, attempted_at, outcome, error_code, error_message, duration_ms)
			SELECT 'rfa_' || lpad(g::text, 26, '0'), 'con_' || lpad((1 + (g * 31) % ` + strconv.Itoa(benchConnections) + `)::text, 26, '0'),
				$2::bigint + g * (($1::bigint - $2::bigint) / ` + strconv.Itoa(benchAttempts) + `),
				CASE WHEN g % 100 < 97 THEN 'success' WHEN g % 100 < 99 THEN 'transient' ELSE 'permanent' END,
				CASE WHEN g % 100 >= 97 THEN 'server_error' END, NULL, 120 + g % 400
			FROM generate_series(1::bigint, ` + strconv.Itoa(benchAttempts) + `) g`,
		// One created event per connection and a disconnected one per disconnected connection.
		`INSERT INTO events (id, type, tenant_key, connection_id, payload, created_at, fanned_out_at)
			SELECT 'evt_c' || lpad(g::text, 26, '0'), 'connection.created', ` + tenant + `, 'con_' || lpad(g::text, 26, '0'), '{}', $1::bigint, $1::bigint
			FROM generate_series(1::bigint, ` + strconv.Itoa(benchConnections) + `) g`,
		`INSERT INTO events (id, type, tenant_key, connection_id, payload, created_at, fanned_out_at)
			SELECT 'evt_d' || lpad(g::text, 26, '0'), 'connection.disconnected', ` + tenant + `, 'con_' || lpad(g::text, 26, '0'), '{}', $1::bigint, $1::bigint
			FROM generate_series(33::bigint, ` + strconv.Itoa(benchConnections) + `, 33) g`,
	}
	for i, q := range stmts {
		args := []any{nowUS, day}
		switch i {
		case 2, 3:
			args = []any{nowUS, since}
		case 4, 5:
			args = []any{nowUS}
		}
		if _, err := s.DB().ExecContext(ctx, q, args...); err != nil {
			b.Fatalf("seed statement %d: %v", i, err)
		}
	}
	if err := s.Analyze(ctx); err != nil {
		b.Fatal(err)
	}
	counts, _, err := s.TallyConnections(ctx)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded in %v: %+v", time.Since(start).Round(time.Millisecond), counts)
}
