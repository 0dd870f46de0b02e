package refresh_test

import (
	"context"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hitchdev/hitch/internal/catalog"
	"github.com/hitchdev/hitch/internal/connect"
	"github.com/hitchdev/hitch/internal/oauth"
	"github.com/hitchdev/hitch/internal/refresh"
	"github.com/hitchdev/hitch/internal/sandbox"
	"github.com/hitchdev/hitch/internal/secrets"
	"github.com/hitchdev/hitch/internal/store"
)

const (
	clientID     = "hitch-sandbox"
	clientSecret = "hitch-sandbox-secret"
	redirectURI  = "http://127.0.0.1:9/oauth/callback"
	appKey       = "sandbox-oauth"
)

// clock is real time shifted by a settable offset, so tests can jump to a due time or past an expiry
// while the sandbox keeps real time.
type clock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off).UTC()
}

// Set moves the clock to t.
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.off = time.Until(t)
}

// maxJitter makes every backoff its ceiling, so schedules are exact.
func maxJitter(n int64) int64 { return n - 1 }

// testApp is the sandbox app with its endpoints as paths on the test server (resolved like Hitch
// resolves them against its public URL); tokenURL overrides the token endpoint when set.
func testApp(tokenURL string) *catalog.App {
	if tokenURL == "" {
		tokenURL = "/sandbox/oauth/token"
	}
	return &catalog.App{
		Key: appKey, Name: "Sandbox OAuth", Categories: []string{"sandbox"}, Sandbox: true,
		Auth: catalog.Auth{
			Type: catalog.AuthOAuth2, AuthorizeURL: "/sandbox/oauth/authorize", TokenURL: tokenURL,
			RevokeURL: "/sandbox/oauth/revoke", Scopes: []string{"read", "write"},
			ClientID: clientID, ClientSecret: clientSecret,
		},
	}
}

func apiKeyApp() *catalog.App {
	return &catalog.App{
		Key: "sandbox-apikey", Name: "Sandbox API key", Categories: []string{"sandbox"}, Sandbox: true,
		Auth: catalog.Auth{
			Type:   catalog.AuthAPIKey,
			Fields: []catalog.Field{{Key: "apiKey", Label: "API key", Secret: true, Pattern: "[a-z-]+"}},
			Test:   &catalog.TestRequest{Method: "GET", URL: "/sandbox/api/whoami", Headers: map[string]string{"Authorization": "Bearer {apiKey}"}},
		},
	}
}

// env is a store, the sandbox provider over real HTTP, and Hitch's services over them.
type env struct {
	t        *testing.T
	store    *store.Store
	keys     *secrets.KeyRing
	keySpec  string
	sandbox  *sandbox.Server
	ts       *httptest.Server
	catalog  *catalog.Catalog
	clock    *clock
	connect  *connect.Service
	svc      *refresh.Service
	resolve  func(string) string
	log      *slog.Logger
	browsers int
}

type envOptions struct {
	ttl      time.Duration // sandbox access token lifetime (default 1 h)
	tokenURL string        // overrides the app's token endpoint
	lease    time.Duration
	call     time.Duration // refresh call timeout
	handler  func(next http.Handler) http.Handler
}

func newEnv(t *testing.T, s *store.Store, o envOptions) *env {
	t.Helper()
	spec, err := secrets.Generate("k1")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := secrets.Parse(spec)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(nil)
	base := "http://" + ts.Listener.Addr().String()
	sb := sandbox.New(sandbox.Options{
		Issuer:         base + "/sandbox/oauth",
		Clients:        map[string]sandbox.Client{clientID: {Secret: clientSecret, RedirectURIs: []string{redirectURI}, AuthMethod: sandbox.AuthBasic}},
		AccessTokenTTL: o.ttl,
	})
	mux := http.NewServeMux()
	var h http.Handler = http.StripPrefix("/sandbox/oauth", sb)
	if o.handler != nil {
		h = o.handler(h)
	}
	mux.Handle("/sandbox/oauth/", h)
	mux.Handle("/sandbox/api/", http.StripPrefix("/sandbox/api", sb.APIKeyHandler()))
	ts.Config.Handler = mux
	ts.Start()
	t.Cleanup(ts.Close)

	cat, err := catalog.New([]*catalog.App{testApp(o.tokenURL), apiKeyApp()})
	if err != nil {
		t.Fatal(err)
	}
	resolve := func(u string) string {
		if strings.HasPrefix(u, "/") {
			return base + u
		}
		return u
	}
	log := testLogger()
	clk := &clock{}
	hc := &http.Client{Timeout: 10 * time.Second}
	e := &env{t: t, store: s, keys: keys, keySpec: spec, sandbox: sb, ts: ts, catalog: cat, clock: clk, resolve: resolve, log: log}
	e.connect = &connect.Service{
		Store: s, Catalog: cat, Keys: keys, Now: clk.Now, Log: log, Resolve: resolve,
		OAuth:  &oauth.Client{HTTP: hc, RedirectURL: redirectURI, Resolve: resolve},
		Tester: &connect.Tester{HTTP: hc, Resolve: resolve},
	}
	e.svc = e.service(o)
	return e
}

// service builds a refresh service over the env with o's timings and catalog.
func (e *env) service(o envOptions) *refresh.Service {
	cat := e.catalog
	if o.tokenURL != "" {
		var err error
		if cat, err = catalog.New([]*catalog.App{testApp(o.tokenURL), apiKeyApp()}); err != nil {
			e.t.Fatal(err)
		}
	}
	return refresh.New(refresh.Options{
		Store: e.store, Catalog: cat, Keys: e.keys, Resolve: e.resolve, Now: e.clock.Now, Int63n: maxJitter,
		Log: e.log, Lease: o.lease, CallTimeout: o.call, WaitPoll: 10 * time.Millisecond,
	})
}

func testLogger() *slog.Logger {
	if os.Getenv("HITCH_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

var (
	reAction  = regexp.MustCompile(`<form method="post" action="([^"]+)"`)
	reRequest = regexp.MustCompile(`name="request_id" value="([^"]+)"`)
	reCSRF    = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
)

// connectOAuth makes a connection the way the popup does: a connect session, the provider's consent
// page approved in a browser, the callback completed by the connect service. It returns the connection.
func (e *env) connectOAuth(ctx context.Context, tenant string) (store.Connection, error) {
	e.browsers++
	browser := fmt.Sprintf("browser-%s-%d", tenant, e.browsers)
	sess, code, err := e.connect.Start(ctx, connect.StartInput{TenantKey: tenant, AppKey: appKey})
	if err != nil {
		return store.Connection{}, err
	}
	if sess, err = e.connect.Claim(ctx, code, browser); err != nil {
		return store.Connection{}, err
	}
	app, _ := e.catalog.Get(appKey)
	authURL, err := e.connect.BeginOAuth(ctx, sess, app, nil)
	if err != nil {
		return store.Connection{}, err
	}
	cb, err := approve(authURL)
	if err != nil {
		return store.Connection{}, err
	}
	done, err := e.connect.CompleteOAuth(ctx, connect.Callback{State: cb.Get("state"), Code: cb.Get("code"), Iss: cb.Get("iss"), BrowserHash: browser})
	if err != nil {
		return store.Connection{}, err
	}
	if done.Status != store.SessionCompleted {
		return store.Connection{}, fmt.Errorf("session ended %s: %s", done.Status, done.ErrorMessage)
	}
	return e.store.GetConnection(ctx, done.ResultConnectionID, "")
}

func (e *env) mustConnect(tenant string) store.Connection {
	e.t.Helper()
	c, err := e.connectOAuth(e.t.Context(), tenant)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// approve plays the user at the sandbox's consent page and returns the callback's query.
func approve(authURL string) (url.Values, error) {
	jar, _ := cookiejar.New(nil)
	b := &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := b.Get(authURL)
	if err != nil {
		return nil, err
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var m [3][]string
	for i, re := range []*regexp.Regexp{reAction, reRequest, reCSRF} {
		if m[i] = re.FindStringSubmatch(string(body)); m[i] == nil {
			return nil, fmt.Errorf("consent page (%d) lacks %s", res.StatusCode, re)
		}
	}
	action, err := res.Request.URL.Parse(html.UnescapeString(m[0][1]))
	if err != nil {
		return nil, err
	}
	res, err = b.PostForm(action.String(), url.Values{"request_id": {m[1][1]}, "csrf_token": {m[2][1]}, "decision": {"approve"}})
	if err != nil {
		return nil, err
	}
	res.Body.Close()
	loc, err := res.Location()
	if err != nil {
		return nil, fmt.Errorf("decision answered %d without a redirect", res.StatusCode)
	}
	return loc.Query(), nil
}

// creds opens a connection's stored credentials.
func (e *env) creds(c store.Connection) connect.Credentials {
	e.t.Helper()
	var cr connect.Credentials
	if err := e.keys.OpenJSON(c.Credentials, []byte(c.ID), &cr); err != nil {
		e.t.Fatal(err)
	}
	return cr
}

func (e *env) get(id string) store.Connection {
	e.t.Helper()
	c, err := e.store.GetConnection(e.t.Context(), id, "")
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// eventTypes lists a connection's events, oldest first.
func (e *env) eventTypes(id string) []string {
	e.t.Helper()
	evs, _, err := e.store.ListEvents(e.t.Context(), store.EventFilter{ConnectionID: id})
	if err != nil {
		e.t.Fatal(err)
	}
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[len(evs)-1-i] = ev.Type
	}
	return out
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
