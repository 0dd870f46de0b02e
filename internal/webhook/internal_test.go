package webhook

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"120", 2 * time.Minute},
		{" 5 ", 5 * time.Second},
		{"-3", 0},
		{"soon", 0},
		{"999999999999", maxRetryAfter},
		{"Fri, 01 May 2026 12:30:00 GMT", 30 * time.Minute},
		{"Fri, 01 May 2026 11:00:00 GMT", 0},
		{"Sun, 10 May 2026 12:00:00 GMT", maxRetryAfter},
	}
	for _, tt := range tests {
		if got := retryAfter(tt.in, now); got != tt.want {
			t.Errorf("retryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestExcerpt(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want func(string) bool
	}{
		{"short", "ok", func(s string) bool { return s == "ok" }},
		{"capped", strings.Repeat("a", 5000), func(s string) bool { return len(s) == maxExcerpt }},
		{"cut inside a rune", strings.Repeat("a", maxExcerpt-1) + "é and more", func(s string) bool {
			return utf8.ValidString(s) && len(s) <= maxExcerpt && strings.HasPrefix(s, strings.Repeat("a", maxExcerpt-1))
		}},
		{"invalid bytes", "a\xffb", func(s string) bool { return s == "a\uFFFDb" }},
		{"NUL", "a\x00b", func(s string) bool { return s == "ab" }},
	}
	for _, tt := range tests {
		if got := excerpt([]byte(tt.in)); !tt.want(got) {
			t.Errorf("%s: excerpt = %q", tt.name, got)
		}
	}
}

func TestSecretSetRotation(t *testing.T) {
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	set := secretSet{{Secret: "a", CreatedAt: t0.UnixMicro()}}
	set = set.rotated("b", t0.Add(time.Hour), 24*time.Hour)
	if got := set.active(t0.Add(2 * time.Hour)); strings.Join(got, ",") != "b,a" {
		t.Fatalf("during grace: %v", got)
	}
	if got := set.active(t0.Add(25 * time.Hour)); strings.Join(got, ",") != "b" {
		t.Fatalf("after grace: %v", got)
	}
	// A second rotation inside the grace keeps "a" no longer than it was promised, and drops nothing early.
	set2 := set.rotated("c", t0.Add(2*time.Hour), 48*time.Hour)
	if len(set2) != 3 || set2[2].ExpiresAt != t0.Add(25*time.Hour).UnixMicro() || set2[1].ExpiresAt != t0.Add(50*time.Hour).UnixMicro() {
		t.Fatalf("second rotation: %+v", set2)
	}
	// After the grace, expired secrets are dropped from the stored set.
	if set3 := set2.rotated("d", t0.Add(60*time.Hour), time.Hour); len(set3) != 2 || set3[0].Secret != "d" || set3[1].Secret != "c" {
		t.Fatalf("third rotation: %+v", set3)
	}
	// Zero grace retires the old secrets at once.
	if set4 := set.rotated("z", t0.Add(3*time.Hour), 0); len(set4) != 1 || set4[0].Secret != "z" {
		t.Fatalf("zero grace: %+v", set4)
	}
}
