package connect

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestNextRefresh(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { x := now.Add(d); return &x }
	cases := []struct {
		name  string
		creds Credentials
		want  *time.Time
	}{
		{"hour token refreshes five minutes early", Credentials{RefreshToken: "r", Expiry: at(time.Hour)}, at(55 * time.Minute)},
		{"short token refreshes a fifth early", Credentials{RefreshToken: "r", Expiry: at(10 * time.Second)}, at(8 * time.Second)},
		{"no refresh token", Credentials{Expiry: at(time.Hour)}, nil},
		{"no expiry", Credentials{RefreshToken: "r"}, nil},
	}
	for _, c := range cases {
		got := NextRefresh(now, c.creds)
		if (got == nil) != (c.want == nil) || got != nil && !got.Equal(*c.want) {
			t.Errorf("%s: got %v want %v", c.name, got, c.want)
		}
	}
}

func TestIssuerMatches(t *testing.T) {
	cases := []struct {
		iss, authorize string
		want           bool
	}{
		{"http://h:1/sandbox/oauth", "http://h:1/sandbox/oauth/authorize", true},
		{"https://auth.example.com", "https://auth.example.com/oauth/authorize", true},
		{"https://auth.example.com/", "https://auth.example.com/oauth/authorize", true},
		{"https://evil.example.com", "https://auth.example.com/oauth/authorize", false},
		{"http://auth.example.com", "https://auth.example.com/authorize", false},
		{"https://auth.example.com/other", "https://auth.example.com/oauth/authorize", false},
		{"::not a url", "https://auth.example.com/authorize", false},
	}
	for _, c := range cases {
		if got := issuerMatches(c.iss, c.authorize); got != c.want {
			t.Errorf("issuerMatches(%q, %q) = %v", c.iss, c.authorize, got)
		}
	}
}

func TestProviderMessage(t *testing.T) {
	cases := []struct{ body, want string }{
		{`{"error":"invalid_api_key","message":"The API key is not valid."}`, "The API key is not valid."},
		{`{"errors":[{"message":"Bad token"}]}`, "Bad token"},
		{`{"error":{"message":"Nested  message\n here"}}`, "Nested message here"},
		{`Unauthorized`, "Unauthorized"},
		{`<html>login</html>`, "The credentials were refused (HTTP 401 Unauthorized)."},
		{``, "The credentials were refused (HTTP 401 Unauthorized)."},
	}
	for _, c := range cases {
		if got := providerMessage([]byte(c.body), 401); got != c.want {
			t.Errorf("providerMessage(%q) = %q, want %q", c.body, got, c.want)
		}
	}
}

// FuzzProviderMessage feeds provider bodies (untrusted) to the message
// picker: it must return short, printable, valid text.
func FuzzProviderMessage(f *testing.F) {
	for _, s := range []string{`{"message":"x"}`, `{"errors":[1,{"message":2}]}`, "\xff\xfe", strings.Repeat("é", 500), `{"error":{"message":{"message":"deep"}}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got := providerMessage(body, 400)
		if got == "" || !utf8.ValidString(got) || !printable(got) || utf8.RuneCountInString(got) > 281 {
			t.Fatalf("bad message %q", got)
		}
	})
}
