// Package clienttest runs a whole Hitch server (real router, SQLite store,
// sandbox provider) over real HTTP for the tests of the API's clients (the
// CLI and the MCP server), and plays the user's browser on connect links.
package clienttest

import (
	"context"
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

	"golang.org/x/crypto/bcrypt"

	"github.com/hitchdev/hitch/handlers"
	"github.com/hitchdev/hitch/internal/admin"
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
	URL     string
	Handler http.Handler // the router itself, for in-process requests (benchmarks)
	Store   *store.Store
	Issuer  *auth.Issuer
	Keys    *secrets.KeyRing
	Catalog *catalog.Catalog

	now      func() time.Time
	t        testing.TB
	srv      *httptest.Server
	dbURL    string
	keysSpec string
}

// Options change the server Start runs.
type Options struct {
	Flavor     string           // store.FlavorSQLite (default) or store.FlavorPostgres
	Now        func() time.Time // the server's clock; nil: time.Now
	ConsoleTTL time.Duration    // console sign-in lifetime; 0: the default
	// ReplicaOf makes this server another replica of that one: its own process state (router, pools,
	// caches) over the same database, keys and workspace secret. Flavor is then ignored.
	ReplicaOf *Server
}

// Start runs a Hitch server with the sandbox apps until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	return StartWith(t, Options{})
}

// StartWith is Start with options.
func StartWith(t testing.TB, o Options) *Server {
	t.Helper()
	if o.Flavor == "" {
		o.Flavor = store.FlavorSQLite
	}
	var dbURL, spec string
	if o.ReplicaOf != nil {
		dbURL, spec = o.ReplicaOf.dbURL, o.ReplicaOf.keysSpec
	} else {
		dbURL = storetest.URL(t, o.Flavor)
		var err error
		if spec, err = secrets.Generate("k1"); err != nil {
			t.Fatal(err)
		}
	}
	s := storetest.OpenURL(t, dbURL)
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
	cfg := &config.Config{PublicURL: pub, WorkspaceKey: WorkspaceKey, WorkspaceName: "Acme", WorkspaceSecret: []byte(Secret), Sandbox: true, ConsoleTTL: o.ConsoleTTL}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv.Config.Handler = handlers.New(handlers.Deps{Config: cfg, Store: s, Catalog: cat, Keys: keys, Issuer: issuer, Log: log, Now: o.Now, BcryptCost: bcrypt.MinCost})
	srv.Start()
	t.Cleanup(srv.Close)
	return &Server{URL: srv.URL, Handler: srv.Config.Handler, Store: s, Issuer: issuer, Keys: keys, Catalog: cat, now: o.Now, t: t, srv: srv,
		dbURL: dbURL, keysSpec: spec}
}

// Admin creates a console account and returns its email and password.
func (s *Server) Admin(email string) (string, string) {
	s.t.Helper()
	password := "correct horse battery staple"
	a := &admin.Accounts{Store: s.Store, Cost: bcrypt.MinCost, Now: s.now}
	if _, err := a.Create(context.Background(), email, password); err != nil {
		s.t.Fatal(err)
	}
	return email, password
}

// SignIn signs b in to the console as a new account with this email.
func (s *Server) SignIn(b *Browser, email string) {
	s.t.Helper()
	email, password := s.Admin(email)
	login, err := b.Get(s.URL + "/console/login")
	if err != nil {
		s.t.Fatal(err)
	}
	p, err := b.PostForm(s.URL+"/console/login", url.Values{"email": {email}, "password": {password}, "csrf": {login.CSRF()}})
	if err != nil {
		s.t.Fatal(err)
	}
	if p.Status != http.StatusOK || strings.Contains(p.URL, "/console/login") {
		s.t.Fatalf("sign-in landed on %s (HTTP %d)", p.URL, p.Status)
	}
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
	if !strings.Contains(p.URL, "/app/sandbox-apikey") {
		return fmt.Errorf("link landed on %s (%d), not the sandbox-apikey page", p.URL, p.Status)
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
	if res.Status != http.StatusOK {
		return fmt.Errorf("submitting the key: HTTP %d", res.Status)
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
	if !strings.Contains(p.URL, "/app/sandbox-oauth") {
		return fmt.Errorf("link landed on %s (%d), not the sandbox-oauth page", p.URL, p.Status)
	}
	action, vals, err := p.form()
	if err != nil {
		return err
	}
	prov, err := b.post(action, vals)
	if err != nil {
		return err
	}
	if !strings.Contains(prov.URL, "/sandbox/oauth/authorize") {
		return fmt.Errorf("consent went to %s (%d), not the provider", prov.URL, prov.Status)
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
	if res.Status != http.StatusOK {
		return fmt.Errorf("after the provider: HTTP %d at %s", res.Status, res.URL)
	}
	return nil
}

// Page is a response as the browser saw it after redirects.
type Page struct {
	Status int
	URL    string // the final URL
	Body   string
}

type page = Page

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// CSRF is the first CSRF token in the page's forms, "" when none.
func (p Page) CSRF() string {
	m := csrfRe.FindStringSubmatch(p.Body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

// Get loads a page, following redirects.
func (b *Browser) Get(u string) (Page, error) { return b.get(u) }

// PostForm posts a form, following redirects (a 303 becomes a GET).
func (b *Browser) PostForm(u string, form url.Values) (Page, error) { return b.post(u, form) }

// Client is the browser's HTTP client, for requests the helpers do not cover.
func (b *Browser) Client() *http.Client { return b.c }

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
	for _, f := range formRe.FindAllString(p.Body, -1) {
		m := actionRe.FindStringSubmatch(f)
		if m == nil || !strings.Contains(f, `method="post"`) {
			continue
		}
		act := html.UnescapeString(m[1])
		if !strings.Contains(act, "/app/") && !strings.HasSuffix(act, "authorize") {
			continue
		}
		base, _ := url.Parse(p.URL)
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
	return "", nil, fmt.Errorf("no main POST form on %s (HTTP %d)", p.URL, p.Status)
}
