package console_test

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hitchdev/hitch/internal/client/clienttest"
	"github.com/hitchdev/hitch/internal/store"
)

// dashNow is the dashboard tests' clock: the window is Nov 1 to Nov 14.
var dashNow = time.Date(2025, 11, 14, 15, 0, 0, 0, time.UTC)

// dashStat returns a tile's value and note.
func dashStat(t *testing.T, body, label string) (value, note string) {
	t.Helper()
	re := regexp.MustCompile(`<span class="c-stat-label">` + regexp.QuoteMeta(label) +
		`</span>\s*<span class="c-stat-value">([^<]*)</span>\s*<span class="c-stat-note[^"]*">([^<]*)</span>`)
	m := re.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no %q tile on the dashboard", label)
	}
	return m[1], m[2]
}

// dashChart returns the inline SVG of the chart with this id.
func dashChart(t *testing.T, body, id string) string {
	t.Helper()
	i := strings.Index(body, `aria-labelledby="`+id+`-title`)
	if i < 0 {
		t.Fatalf("no chart %s on the dashboard", id)
	}
	j := strings.Index(body[i:], "</svg>")
	if j < 0 {
		t.Fatalf("chart %s is not closed", id)
	}
	return body[i : i+j]
}

// dashAttention returns the Needs attention panel.
func dashAttention(t *testing.T, body string) string {
	t.Helper()
	i := strings.Index(body, `id="attention-title"`)
	if i < 0 {
		t.Fatal("no Needs attention panel")
	}
	j := strings.Index(body[i:], "</section>")
	return body[i : i+j]
}

func dashServer(t *testing.T) (*clienttest.Server, *clienttest.Browser) {
	t.Helper()
	srv := clienttest.StartWith(t, clienttest.Options{Now: func() time.Time { return dashNow }})
	b := clienttest.NewBrowser()
	srv.SignIn(b, "dash@example.com")
	return srv, b
}

func TestDashboardCountsChartsAndAttention(t *testing.T) {
	srv, b := dashServer(t)
	ctx := context.Background()
	s := srv.Store
	for _, key := range []string{"acme", "globex"} {
		if err := s.UpsertTenant(ctx, key, strings.ToUpper(key), dashNow.AddDate(0, -1, 0)); err != nil {
			t.Fatal(err)
		}
	}
	day := func(d int, hour int) time.Time { return time.Date(2025, 11, d, hour, 0, 0, 0, time.UTC) }
	archivedAt := day(12, 9)
	conn := func(tenant, app, name string, disconnected bool, archived bool, code, msg string, updated time.Time) *store.Connection {
		t.Helper()
		c := &store.Connection{TenantKey: tenant, AppKey: app, Name: name, AuthType: "oauth2", Credentials: []byte("sealed"),
			KeyID: "k1", Disconnected: disconnected, ErrorCode: code, ErrorMessage: msg, CreatedAt: day(1, 8), UpdatedAt: updated}
		if archived {
			c.ArchivedAt = &archivedAt
		}
		if err := s.InsertConnection(ctx, c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	active := conn("acme", "hubspot", "Acme CRM", false, false, "", "", day(2, 9))
	conn("acme", "hubspot", "Acme CRM 2", false, false, "", "", day(2, 9))
	conn("globex", "slack", "Globex chat", false, false, "", "", day(3, 9))
	broken := conn("acme", "hubspot", "Acme HubSpot", true, false, "invalid_grant", "The provider revoked the grant.", dashNow.Add(-2*time.Hour))
	broken2 := conn("globex", "slack", "Globex Slack", true, false, "token_expired", "The access token expired and could not be refreshed.", dashNow.Add(-3*24*time.Hour))
	gone := conn("globex", "slack", "Old Slack", true, true, "invalid_grant", "archived and broken", day(11, 9))
	conn("acme", "slack", "Acme old", false, true, "", "", day(12, 9))

	session := func(created time.Time, status string, expires time.Time) {
		t.Helper()
		if err := s.InsertSession(ctx, &store.Session{TenantKey: "acme", AppKey: "hubspot", Status: status, CreatedAt: created, ExpiresAt: expires}); err != nil {
			t.Fatal(err)
		}
	}
	// Today: two completed, one still open.
	session(day(14, 9), store.SessionCompleted, day(14, 9).Add(30*time.Minute))
	session(day(14, 10), store.SessionCompleted, day(14, 10).Add(30*time.Minute))
	session(dashNow.Add(-10*time.Minute), store.SessionPending, dashNow.Add(20*time.Minute))
	// Nov 10: one of each ending, plus a pending one past its expiry (counted as expired).
	for _, st := range []string{store.SessionCompleted, store.SessionFailed, store.SessionCancelled, store.SessionExpired, store.SessionPending} {
		session(day(10, 12), st, day(10, 12).Add(30*time.Minute))
	}
	// Before the window: not counted.
	for range 3 {
		session(day(1, 0).Add(-time.Hour), store.SessionCompleted, day(1, 0))
	}

	attempt := func(at time.Time, outcome string, n int) {
		t.Helper()
		for range n {
			if err := s.InsertRefreshAttempt(ctx, &store.RefreshAttempt{ConnectionID: active.ID, AttemptedAt: at, Outcome: outcome}); err != nil {
				t.Fatal(err)
			}
		}
	}
	attempt(day(13, 6), store.OutcomeSuccess, 5)
	attempt(day(13, 7), store.OutcomeTransient, 1)
	attempt(day(12, 7), store.OutcomePermanent, 2)
	attempt(time.Date(2025, 10, 1, 0, 0, 0, 0, time.UTC), store.OutcomeSuccess, 4)

	p, err := b.Get(srv.URL + "/console")
	if err != nil {
		t.Fatal(err)
	}
	if p.Status != http.StatusOK {
		t.Fatalf("GET /console: %d\n%s", p.Status, p.Body)
	}
	body := p.Body

	for _, tt := range []struct{ label, value, note string }{
		{"Active connections", "3", "Healthy, refreshing"},
		{"Disconnected", "2", "Needs attention →"},
		{"Archived", "2", "Kept for history"},
		{"Connect success", "37.5%", "3 of 8 sessions"},
		{"Refresh success", "62.5%", "5 of 8 attempts"},
	} {
		v, n := dashStat(t, body, tt.label)
		if v != tt.value || n != tt.note {
			t.Errorf("tile %q = %q, %q; want %q, %q", tt.label, v, n, tt.value, tt.note)
		}
	}
	if !regexp.MustCompile(`<a class="c-panel c-stat c-stat--danger" href="/console/connections\?state=disconnected">`).MatchString(body) {
		t.Error("the Disconnected tile is not a red link to the disconnected connections")
	}

	// Sessions: Nov 14 completed + pending; Nov 10 completed, failed, cancelled, expired (2).
	sessions := dashChart(t, body, "chart-sessions")
	if n := strings.Count(sessions, "<rect"); n != 6 {
		t.Errorf("sessions chart has %d bars segments; want 6\n%s", n, sessions)
	}
	for _, want := range []string{"Nov 14: 2 completed", "Nov 14: 1 pending", "Nov 10: 2 expired", "Nov 10: 1 cancelled", "Nov 10: 1 failed",
		"8 connect sessions from Nov 1 to Nov 14: 3 completed, 1 failed, 1 cancelled, 2 expired, 1 pending."} {
		if !strings.Contains(sessions, want) {
			t.Errorf("sessions chart lacks %q", want)
		}
	}
	refreshes := dashChart(t, body, "chart-refreshes")
	if n := strings.Count(refreshes, "<rect"); n != 3 {
		t.Errorf("refresh chart has %d segments; want 3", n)
	}
	for _, want := range []string{"Nov 13: 5 succeeded", "Nov 13: 1 transient failure", "Nov 12: 2 permanent failure"} {
		if !strings.Contains(refreshes, want) {
			t.Errorf("refresh chart lacks %q", want)
		}
	}
	apps := dashChart(t, body, "chart-apps")
	if n := strings.Count(apps, "<rect"); n != 4 {
		t.Errorf("apps chart has %d segments; want 4", n)
	}
	for _, want := range []string{"HubSpot: 2 active", "HubSpot: 1 disconnected", "Slack: 1 active", "Slack: 1 disconnected",
		`href="/console/connections?app=hubspot"`, `href="/console/connections?app=slack"`} {
		if !strings.Contains(apps, want) {
			t.Errorf("apps chart lacks %q", want)
		}
	}
	if strings.Contains(body, "No data yet") || strings.Contains(body, "Nothing is disconnected") {
		t.Error("an empty state shows beside data")
	}

	att := dashAttention(t, body)
	for _, want := range []string{`href="/console/connections/` + broken.ID + `"`, "Acme HubSpot", "invalid_grant", "The provider revoked the grant.",
		"HubSpot · acme", "2 h ago", `href="/console/connections/` + broken2.ID + `"`, "token_expired", "3 days ago"} {
		if !strings.Contains(att, want) {
			t.Errorf("Needs attention lacks %q", want)
		}
	}
	if strings.Contains(att, gone.ID) || strings.Contains(att, active.ID) {
		t.Error("Needs attention lists an archived or active connection")
	}
	if strings.Contains(att, "View all") {
		t.Error("View all shows though every disconnected connection is listed")
	}
	if strings.Contains(body, ` style="`) {
		t.Error("the dashboard has a style attribute, which the CSP refuses")
	}
}

func TestDashboardAttentionIsCapped(t *testing.T) {
	srv, b := dashServer(t)
	ctx := context.Background()
	if err := srv.Store.UpsertTenant(ctx, "acme", "", dashNow); err != nil {
		t.Fatal(err)
	}
	for range 11 {
		c := &store.Connection{TenantKey: "acme", AppKey: "no-such-app", Name: "", AuthType: "oauth2", KeyID: "k1",
			Disconnected: true, ErrorCode: "invalid_grant", CreatedAt: dashNow, UpdatedAt: dashNow}
		if err := srv.Store.InsertConnection(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	p, err := b.Get(srv.URL + "/console")
	if err != nil || p.Status != http.StatusOK {
		t.Fatalf("GET /console: %d, %v", p.Status, err)
	}
	att := dashAttention(t, p.Body)
	if n := strings.Count(att, `class="c-attn-row"`); n != 8 {
		t.Errorf("Needs attention lists %d; want 8", n)
	}
	if !strings.Contains(att, `href="/console/connections?state=disconnected">View all 11</a>`) {
		t.Error("no View all 11 link")
	}
	// An app gone from the catalog goes by its key, and names the connection when it has no name.
	if !strings.Contains(att, `<span class="c-attn-name">no-such-app</span>`) {
		t.Error("an unnamed connection of an unknown app is not shown by its app key")
	}
}

func TestDashboardEmpty(t *testing.T) {
	srv, b := dashServer(t)
	p, err := b.Get(srv.URL + "/console")
	if err != nil {
		t.Fatal(err)
	}
	if p.Status != http.StatusOK {
		t.Fatalf("GET /console on an empty database: %d\n%s", p.Status, p.Body)
	}
	for _, tt := range []struct{ label, value, note string }{
		{"Active connections", "0", "Healthy, refreshing"},
		{"Disconnected", "0", "None need attention"},
		{"Archived", "0", "Kept for history"},
		{"Connect success", "—", "No sessions yet"},
		{"Refresh success", "—", "No attempts yet"},
	} {
		v, n := dashStat(t, p.Body, tt.label)
		if v != tt.value || n != tt.note {
			t.Errorf("tile %q = %q, %q; want %q, %q", tt.label, v, n, tt.value, tt.note)
		}
	}
	if strings.Contains(p.Body, "c-stat--danger") {
		t.Error("the Disconnected tile is red with nothing disconnected")
	}
	if n := strings.Count(p.Body, "No data yet"); n != 2 {
		t.Errorf(`"No data yet" shows %d times; want on both daily charts`, n)
	}
	for _, want := range []string{"Nothing is disconnected", "No connections yet", "No connect sessions from Nov 1 to Nov 14.", "Nov 14</text>"} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("empty dashboard lacks %q", want)
		}
	}
	if strings.Contains(p.Body, `<rect class="s-`) {
		t.Error("empty dashboard draws bars")
	}
}
