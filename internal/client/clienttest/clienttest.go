// Package clienttest runs a whole Hitch server (real router, SQLite store,
// sandbox provider) over real HTTP for the tests of the API's clients (the
// CLI and the MCP server), and plays the user's browser on connect links.
package clienttest

import (
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hitchdev/hitch/handlers"
	"github.com/hitchdev/hitch/internal/auth"
	"github.com/hitchdev/hitch/internal/catalog"
	"github.com/hitchdev/hitch/internal/config"
	"github.com/hitchdev/hitch/internal/secrets"
	"github.com/hitchdev/hitch/internal/store"
	"github.com/hitchdev/hitch/internal/store/storetest"
)

// Workspace key and secret of the test server, for tests that mint their
// own tokens (HITCH_WORKSPACE_KEY, HITCH_WORKSPACE_SECRET).
const (
	WorkspaceKey = "ws-test"
	Secret       = "clienttest-secret-of-at-least-32-bytes!!"
)

// Server is a running Hitch.
type Server struct {
	URL    string
	Store  *store.Store
	Issuer *auth.Issuer

	t   testing.TB
	srv *httptest.Server
}

// Start runs a Hitch server with the sandbox apps until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s := storetest.Open(t, store.FlavorSQLite)
	spec, err := secrets.Generate("k1")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := secrets.Parse(spec)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Load(catalog.Options{Getenv: func(string) string { return "" }, IncludeSandbox: true})
	if err != nil {
		t.Fatal(err)
	}
	issuer, err := auth.NewIssuer(WorkspaceKey, []byte(Secret), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	pub, _ := url.Parse("http://" + srv.Listener.Addr().String())
	cfg := &config.Config{PublicURL: pub, WorkspaceKey: WorkspaceKey, WorkspaceName: "Acme", WorkspaceSecret: []byte(Secret), Sandbox: true}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv.Config.Handler = handlers.New(handlers.Deps{Config: cfg, Store: s, Catalog: cat, Keys: keys, Issuer: issuer, Log: log})
	srv.Start()
	t.Cleanup(srv.Close)
	return &Server{URL: srv.URL, Store: s, Issuer: issuer, t: t, srv: srv}
}

// Token mints a tenant token.
func (s *Server) Token(tenant string) string {
	s.t.Helper()
	tok, err := s.Issuer.Mint(auth.Principal{TenantKey: tenant}, time.Hour)
	if err != nil {
		s.t.Fatal(err)
	}
	return tok
}

// AdminToken mints an admin token.
func (s *Server) AdminToken() string {
	s.t.Helper()
	tok, err := s.Issuer.Mint(auth.Principal{Admin: true}, time.Hour)
	if err != nil {
		s.t.Fatal(err)
	}
	return tok
}

// Browser is one user agent with its own cookies. Its methods return errors
// rather than failing the test, so they can run beside a waiting client.
type Browser struct {
	c *http.Client
}

// NewBrowser returns a fresh browser.
func NewBrowser() *Browser {
	jar, _ := cookiejar.New(nil)
	return &Browser{c: &http.Client{Jar: jar, Timeout: 20 * time.Second}}
}

// ConnectAPIKey opens a connect link for sandbox-apikey (or an intent that
// lands on it) and submits key.
func (b *Browser) ConnectAPIKey(link, key string) error {
	p, err := b.get(link)
	if err != nil {
		return err
	}
	if !strings.Contains(p.url, "/app/sandbox-apikey") {
		return fmt.Errorf("link landed on %s (%d), not the sandbox-apikey page", p.url, p.status)
	}
	action, vals, err := p.form()
	if err != nil {
		return err
	}
	vals.Set("apiKey", key)
	res, err := b.post(action, vals)
	if err != nil {
		return err
	}
	if res.status != http.StatusOK {
		return fmt.Errorf("submitting the key: HTTP %d", res.status)
	}
	return nil
}

// ConnectOAuth opens a connect link for sandbox-oauth, goes to the sandbox
// provider and presses decision ("approve" or "deny").
func (b *Browser) ConnectOAuth(link, decision string) error {
	p, err := b.get(link)
	if err != nil {
		return err
	}
	if !strings.Contains(p.url, "/app/sandbox-oauth") {
		return fmt.Errorf("link landed on %s (%d), not the sandbox-oauth page", p.url, p.status)
	}
	action, vals, err := p.form()
	if err != nil {
		return err
	}
	prov, err := b.post(action, vals)
	if err != nil {
		return err
	}
	if !strings.Contains(prov.url, "/sandbox/oauth/authorize") {
		return fmt.Errorf("consent went to %s (%d), not the provider", prov.url, prov.status)
	}
	action, vals, err = prov.form()
	if err != nil {
		return err
	}
	vals.Set("decision", decision)
	res, err := b.post(action, vals) // provider -> /oauth/callback -> the popup's result page
	if err != nil {
		return err
	}
	if res.status != http.StatusOK {
		return fmt.Errorf("after the provider: HTTP %d at %s", res.status, res.url)
	}
	return nil
}

type page struct {
	status int
	url    string
	body   string
}

func (b *Browser) get(u string) (page, error) {
	res, err := b.c.Get(u)
	if err != nil {
		return page{}, err
	}
	return read(res)
}

func (b *Browser) post(u string, form url.Values) (page, error) {
	res, err := b.c.PostForm(u, form)
	if err != nil {
		return page{}, err
	}
	return read(res)
}

func read(res *http.Response) (page, error) {
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	return page{res.StatusCode, res.Request.URL.String(), string(raw)}, err
}

var (
	formRe   = regexp.MustCompile(`(?s)<form[^>]*>.*?</form>`)
	actionRe = regexp.MustCompile(`action="([^"]+)"`)
	inputRe  = regexp.MustCompile(`<input[^>]*>`)
	nameRe   = regexp.MustCompile(`name="([^"]+)"`)
	valueRe  = regexp.MustCompile(`value="([^"]*)"`)
)

// form returns the page's main POST form (to /app/... on Hitch, or the
// provider's authorize endpoint), not its Cancel form.
func (p page) form() (string, url.Values, error) {
	for _, f := range formRe.FindAllString(p.body, -1) {
		m := actionRe.FindStringSubmatch(f)
		if m == nil || !strings.Contains(f, `method="post"`) {
			continue
		}
		act := html.UnescapeString(m[1])
		if !strings.Contains(act, "/app/") && !strings.HasSuffix(act, "authorize") {
			continue
		}
		base, _ := url.Parse(p.url)
		action, err := base.Parse(act)
		if err != nil {
			return "", nil, err
		}
		vals := url.Values{}
		for _, in := range inputRe.FindAllString(f, -1) {
			n, v := nameRe.FindStringSubmatch(in), valueRe.FindStringSubmatch(in)
			if n != nil {
				val := ""
				if v != nil {
					val = html.UnescapeString(v[1])
				}
				vals.Set(n[1], val)
			}
		}
		return action.String(), vals, nil
	}
	return "", nil, fmt.Errorf("no main POST form on %s (HTTP %d)", p.url, p.status)
}
