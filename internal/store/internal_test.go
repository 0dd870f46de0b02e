package store

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestClampLimit(t *testing.T) {
	tests := []struct{ give, want int }{
		{-1, DefaultLimit}, {0, DefaultLimit}, {1, 1}, {250, 250}, {MaxLimit, MaxLimit}, {MaxLimit + 1, MaxLimit}, {1 << 30, MaxLimit},
	}
	for _, tt := range tests {
		if got := clampLimit(tt.give); got != tt.want {
			t.Errorf("clampLimit(%d) = %d, want %d", tt.give, got, tt.want)
		}
	}
}

func TestRedactURL(t *testing.T) {
	tests := []struct{ give, want string }{
		{"postgres://u:hunter2@db:5432/x?sslmode=disable", "postgres://u:xxxxx@db:5432/x?sslmode=disable"},
		{"postgres://u@db/x?password=hunter2&sslmode=require", "postgres://u@db/x?password=xxxxx&sslmode=require"},
		{"postgres://u:hunter2@db:port/x", "postgres://(unparseable)"},
		{"postgresql://db/x", "postgresql://db/x"},
	}
	for _, tt := range tests {
		if got := redactURL(tt.give); got != tt.want {
			t.Errorf("redactURL(%q) = %q, want %q", tt.give, got, tt.want)
		}
	}
}

func TestScrub(t *testing.T) {
	err := errors.New(`dial "postgres://u:hunter2@h" failed`)
	if got := scrub(err, "hunter2").Error(); strings.Contains(got, "hunter2") {
		t.Errorf("scrub kept the secret: %q", got)
	}
	if got := scrub(err, ""); got != err {
		t.Errorf("scrub without a secret changed the error")
	}
}

func TestContainsPattern(t *testing.T) {
	tests := []struct{ give, want string }{
		{"HubSpot", "%hubspot%"},
		{"100%", `%100!%%`},
		{"a_b", `%a!_b%`},
		{"wow!", `%wow!!%`},
		{`c:\x`, `%c:\x%`},
	}
	for _, tt := range tests {
		if got := containsPattern(tt.give); got != tt.want {
			t.Errorf("containsPattern(%q) = %q, want %q", tt.give, got, tt.want)
		}
	}
}

func TestIDCursorRoundTrip(t *testing.T) {
	for _, id := range []string{NewID("con"), "a", "A-b_9"} {
		got, err := decodeIDCursor(encodeCursor(id))
		if err != nil || got != id {
			t.Errorf("decodeIDCursor(encodeCursor(%q)) = %q, %v", id, got, err)
		}
	}
	for _, bad := range []string{"", "====", encodeCursor("x y"), encodeCursor(strings.Repeat("a", 129)), encodeCursor("é")} {
		if _, err := decodeIDCursor(bad); !errors.Is(err, ErrInvalidCursor) {
			t.Errorf("decodeIDCursor(%q) = %v, want ErrInvalidCursor", bad, err)
		}
	}
}

func TestNewIDEncodesTimeFirst(t *testing.T) {
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name         string
		early, later time.Time
	}{
		{"next millisecond", base, base.Add(time.Millisecond)},
		{"next year", base, base.AddDate(1, 0, 0)},
		{"carry across 5-bit groups", time.UnixMilli(0x7fff), time.UnixMilli(0x8000)},
	}
	for _, tt := range tests {
		for range 50 { // random bits must never outweigh the timestamp
			a, b := newIDAt("con", tt.early), newIDAt("con", tt.later)
			if a >= b {
				t.Fatalf("%s: %q does not sort before %q", tt.name, a, b)
			}
		}
	}
	// The first 10 characters hold the 48-bit millisecond count (plus 2 zero bits).
	if got := newIDAt("x", time.UnixMilli(0))[2:12]; got != "0000000000" {
		t.Errorf("epoch id time part = %q, want zeros", got)
	}
	if got := newIDAt("x", time.UnixMilli(1<<48-1))[2:12]; got != "7zzzzzzzzz" {
		t.Errorf("max id time part = %q, want 7zzzzzzzzz", got)
	}
}

// TestStatementCacheIsBounded lists with more page sizes than the cache admits: every page is still
// right, and the texts past maxPrepared run unprepared instead of growing the cache.
func TestStatementCacheIsBounded(t *testing.T) {
	ctx := t.Context()
	s, err := Open(ctx, "sqlite://"+t.TempDir()+"/cache.db")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.UpsertTenant(ctx, "acme", "", time.Now()); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if err := s.InsertConnection(ctx, &Connection{TenantKey: "acme", AppKey: "hubspot", AuthType: "oauth2"}); err != nil {
			t.Fatal(err)
		}
	}
	for limit := 1; limit <= maxPrepared+10; limit++ {
		for range 2 {
			page, next, err := s.ListConnectionSummaries(ctx, ConnectionFilter{TenantKey: "acme", Limit: limit})
			if want := min(limit, 5); err != nil || len(page) != want || (next != "") != (limit < 5) {
				t.Fatalf("limit %d: %d rows, next %q, %v; want %d rows", limit, len(page), next, err, want)
			}
		}
	}
	s.stmts.mu.RLock()
	n := len(s.stmts.m)
	s.stmts.mu.RUnlock()
	if n != maxPrepared {
		t.Errorf("%d prepared statements cached, want the bound %d", n, maxPrepared)
	}
	if err := s.InTx(ctx, func(q *Queries) error {
		if q.stmts != nil {
			t.Error("a transaction's queries use the shared statement cache")
		}
		_, _, err := q.ListConnectionSummaries(ctx, ConnectionFilter{TenantKey: "acme"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
}
