package main

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hitchdev/hitch/internal/auth"
)

func TestTokenSource(t *testing.T) {
	const secret = "token-source-secret-of-32-bytes-or-more"
	issuer, err := auth.NewIssuer("ws", []byte(secret), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		flags clientFlags
		env   map[string]string
		want  string // "static:TOKEN", "tenant:KEY", "admin", or "usage:TEXT"
	}{
		{"flag wins", clientFlags{token: "flag"}, map[string]string{"HITCH_TOKEN": "env"}, "static:flag"},
		{"env token", clientFlags{}, map[string]string{"HITCH_TOKEN": "env", "HITCH_WORKSPACE_SECRET": secret}, "static:env"},
		{"minted tenant", clientFlags{tenant: "acme"}, map[string]string{"HITCH_WORKSPACE_SECRET": secret, "HITCH_WORKSPACE_KEY": "ws"}, "tenant:acme"},
		{"minted admin", clientFlags{tenant: "acme", admin: true}, map[string]string{"HITCH_WORKSPACE_SECRET": secret, "HITCH_WORKSPACE_KEY": "ws"}, "admin"},
		{"nothing", clientFlags{}, nil, "usage:no token"},
		{"secret without tenant", clientFlags{}, map[string]string{"HITCH_WORKSPACE_SECRET": secret}, "usage:--tenant"},
		{"admin with a token", clientFlags{admin: true}, map[string]string{"HITCH_TOKEN": "env"}, "usage:--admin"},
		{"bad tenant key", clientFlags{tenant: "a\x00b"}, map[string]string{"HITCH_WORKSPACE_SECRET": secret}, "usage:"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src, err := c.flags.tokenSource(func(k string) string { return c.env[k] })
			if usage, ok := strings.CutPrefix(c.want, "usage:"); ok {
				var ee *exitError
				if !errors.As(err, &ee) || ee.code != exitCodeUsage || !strings.Contains(err.Error(), usage) {
					t.Fatalf("got %v", err)
				}
				if strings.Contains(err.Error(), secret) {
					t.Fatal("the error shows the secret")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tok, err := src(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if static, ok := strings.CutPrefix(c.want, "static:"); ok {
				if tok != static {
					t.Fatalf("token %q", tok)
				}
				return
			}
			p, err := issuer.Verify(tok)
			if err != nil {
				t.Fatal(err)
			}
			if got := map[bool]string{true: "admin", false: "tenant:" + p.TenantKey}[p.Admin]; got != c.want || (p.Admin && p.TenantKey != "") {
				t.Fatalf("minted %+v", p)
			}
			if again, _ := src(t.Context()); again != tok {
				t.Fatal("a fresh token was minted for every request")
			}
		})
	}
}

func TestMinterRenews(t *testing.T) {
	issuer, _ := auth.NewIssuer("ws", []byte("token-source-secret-of-32-bytes-or-more"), time.Now)
	m := &minter{issuer: issuer, p: auth.Principal{TenantKey: "acme"}}
	first, err := m.token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	m.expires = time.Now().Add(time.Minute) // about to run out
	time.Sleep(1100 * time.Millisecond)     // iat has one-second resolution
	if second, _ := m.token(t.Context()); second == first {
		t.Fatal("a token about to expire was reused")
	}
}

func TestClean(t *testing.T) {
	for in, want := range map[string]string{"Acme\tInc\n": "Acme Inc ", "\x1b[2J": " [2J", "Zoë": "Zoë", "a\u0085b": "a b"} {
		if got := clean(in); got != want {
			t.Errorf("clean(%q) = %q, want %q", in, got, want)
		}
	}
}
