package demo_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hitchdev/hitch/handlers"
	"github.com/hitchdev/hitch/internal/auth"
	"github.com/hitchdev/hitch/internal/catalog"
	"github.com/hitchdev/hitch/internal/config"
	"github.com/hitchdev/hitch/internal/secrets"
	"github.com/hitchdev/hitch/internal/store/storetest"
)

func server(t *testing.T, demo bool) (*httptest.Server, *auth.Issuer) {
	spec, _ := secrets.Generate("k1")
	keys, _ := secrets.Parse(spec)
	cat, err := catalog.Load(catalog.Options{Getenv: func(string) string { return "" }, IncludeSandbox: demo})
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte("demo-test-secret-with-32-or-more-bytes")
	issuer, _ := auth.NewIssuer("ws", secret, time.Now)
	pub, _ := url.Parse("http://127.0.0.1:1")
	cfg := &config.Config{PublicURL: pub, WorkspaceKey: "ws", WorkspaceSecret: secret, Demo: demo, Sandbox: demo}
	e := handlers.New(handlers.Deps{Config: cfg, Store: storetest.Open(t, "sqlite"), Catalog: cat, Keys: keys, Issuer: issuer,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return srv, issuer
}

func TestDemoPage(t *testing.T) {
	srv, issuer := server(t, true)
	res, err := http.Get(srv.URL + "/demo")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	csp := res.Header.Get("Content-Security-Policy")
	if res.StatusCode != 200 || !strings.Contains(string(body), "Connect CRM") || !strings.Contains(csp, "script-src 'self' 'nonce-") {
		t.Fatalf("demo page: %d csp=%q", res.StatusCode, csp)
	}
	// The page's "backend" mints a token for the demo tenant only, and only
	// for JSON requests (which other origins cannot send without preflight).
	res, _ = http.Post(srv.URL+"/demo/token", "text/plain", strings.NewReader("{}"))
	if res.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("text/plain token request: %d", res.StatusCode)
	}
	res, _ = http.Post(srv.URL+"/demo/token", "application/json", strings.NewReader("{}"))
	var out struct{ Token string }
	_ = json.NewDecoder(res.Body).Decode(&out)
	res.Body.Close()
	p, err := issuer.Verify(out.Token)
	if err != nil || p.TenantKey != "demo" || p.Admin {
		t.Fatalf("demo token: %v %+v", err, p)
	}
}

func TestDemoOffByDefault(t *testing.T) {
	srv, _ := server(t, false)
	for _, path := range []string{"/demo", "/sandbox/oauth/.well-known/oauth-authorization-server", "/sandbox/api/whoami"} {
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 404 {
			t.Errorf("%s without --demo: %d", path, res.StatusCode)
		}
	}
}
