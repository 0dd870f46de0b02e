package api_test

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
	"slices"
	"testing"
	"time"

	"github.com/hitchdev/hitch/handlers"
	"github.com/hitchdev/hitch/internal/auth"
	"github.com/hitchdev/hitch/internal/catalog"
	"github.com/hitchdev/hitch/internal/config"
	"github.com/hitchdev/hitch/internal/connect"
	"github.com/hitchdev/hitch/internal/oauth"
	"github.com/hitchdev/hitch/internal/sandbox"
	"github.com/hitchdev/hitch/internal/secrets"
	"github.com/hitchdev/hitch/internal/store"
	"github.com/hitchdev/hitch/internal/store/storetest"
)

// credEnv is a server with its sandbox provider in reach, and a connect service over the same store
// to make OAuth connections through the sandbox.
type credEnv struct {
	*env
	sandbox *sandbox.Server
	connect *connect.Service
}

func newCredEnv(t *testing.T, s *store.Store) *credEnv {
	t.Helper()
	spec, _ := secrets.Generate("k1")
	keys, _ := secrets.Parse(spec)
	cat, err := catalog.Load(catalog.Options{Getenv: func(string) string { return "" }, IncludeSandbox: true})
	if err != nil {
		t.Fatal(err)
	}
	issuer, _ := auth.NewIssuer(workspaceKey, []byte(secret), time.Now)
	srv := httptest.NewUnstartedServer(nil)
	pub, _ := url.Parse("http://" + srv.Listener.Addr().String())
	cfg := &config.Config{PublicURL: pub, WorkspaceKey: workspaceKey, WorkspaceSecret: []byte(secret), Sandbox: true}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	sb := handlers.NewSandbox(cfg, log)
	srv.Config.Handler = handlers.New(handlers.Deps{Config: cfg, Store: s, Catalog: cat, Keys: keys, Issuer: issuer, Log: log, Sandbox: sb})
	srv.Start()
	t.Cleanup(srv.Close)
	resolve := func(u string) string {
		if len(u) > 0 && u[0] == '/' {
			return srv.URL + u
		}
		return u
	}
	cs := &connect.Service{Store: s, Catalog: cat, Keys: keys, Now: time.Now, Log: log, Resolve: resolve,
		OAuth: &oauth.Client{RedirectURL: cfg.URL("/oauth/callback"), Resolve: resolve}}
	return &credEnv{env: &env{t: t, srv: srv, issuer: issuer, store: s}, sandbox: sb, connect: cs}
}

var consentRe = regexp.MustCompile(`<form method="post" action="([^"]+)"[\s\S]*?name="request_id" value="([^"]+)"[\s\S]*?name="csrf_token" value="([^"]+)"`)

// oauthConnection connects sandbox-oauth for tenant as a user would: a connect session, consent at
// the sandbox, and the callback completed. It returns the connection id.
func (e *credEnv) oauthConnection(tenant string) string {
	e.t.Helper()
	ctx := context.Background()
	sess, code, err := e.connect.Start(ctx, connect.StartInput{TenantKey: tenant, AppKey: "sandbox-oauth"})
	if err != nil {
		e.t.Fatal(err)
	}
	if sess, err = e.connect.Claim(ctx, code, "browser"); err != nil {
		e.t.Fatal(err)
	}
	app, _ := e.connect.Catalog.Get("sandbox-oauth")
	authURL, err := e.connect.BeginOAuth(ctx, sess, app, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	b := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := b.Get(authURL)
	if err != nil {
		e.t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m := consentRe.FindStringSubmatch(string(body))
	if m == nil {
		e.t.Fatalf("no consent form (%d): %s", res.StatusCode, body)
	}
	action, _ := res.Request.URL.Parse(html.UnescapeString(m[1]))
	res, err = b.PostForm(action.String(), url.Values{"request_id": {m[2]}, "csrf_token": {m[3]}, "decision": {"approve"}})
	if err != nil {
		e.t.Fatal(err)
	}
	res.Body.Close()
	loc, err := res.Location()
	if err != nil {
		e.t.Fatalf("consent answered %d", res.StatusCode)
	}
	q := loc.Query()
	done, err := e.connect.CompleteOAuth(ctx, connect.Callback{State: q.Get("state"), Code: q.Get("code"), Iss: q.Get("iss"), BrowserHash: "browser"})
	if err != nil || done.Status != store.SessionCompleted {
		e.t.Fatalf("complete: %v %s", err, done.ErrorMessage)
	}
	return done.ResultConnectionID
}

// makeDue schedules a connection's refresh in the past, as time passing would.
func (e *credEnv) makeDue(id string) {
	e.t.Helper()
	q := e.store.DB().Rebind("UPDATE connections SET next_refresh_at = ? WHERE id = ?")
	if _, err := e.store.DB().Exec(q, time.Now().Add(-time.Second).UnixMicro(), id); err != nil {
		e.t.Fatal(err)
	}
}

func TestCredentialsEndpoint(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		e := newCredEnv(t, s)
		admin := e.admin()
		id := e.oauthConnection("acme")
		path := "/connections/" + id + "/credentials"

		if r := e.do("GET", path, e.token("acme"), nil); r.status != http.StatusForbidden || r.errCode(t) != "admin_required" {
			t.Fatalf("tenant token: %d %s", r.status, r.body)
		}
		if r := e.do("GET", path, "", nil); r.status != http.StatusUnauthorized {
			t.Fatalf("no token: %d", r.status)
		}

		// A fresh token is returned as it is.
		r := e.do("GET", path, admin, nil)
		if r.status != 200 || r.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("credentials: %d %s (Cache-Control %q)", r.status, r.body, r.header.Get("Cache-Control"))
		}
		m := r.json(t)
		first, _ := m["accessToken"].(string)
		exp, err := time.Parse(time.RFC3339, fmt.Sprint(m["expiresAt"]))
		if m["type"] != "oauth2" || !e.sandbox.Validate(first) || err != nil || time.Until(exp) < 5*time.Minute ||
			fmt.Sprint(m["scopes"]) != "[read write]" || len(m) != 4 {
			t.Fatalf("credentials body %v", m)
		}
		if e.sandbox.Stats().Refreshes != 0 {
			t.Fatal("a fresh token was refreshed")
		}

		// Due: refreshed first, and the refreshed token is what comes back.
		e.makeDue(id)
		m = e.do("GET", path, admin, nil).json(t)
		second, _ := m["accessToken"].(string)
		if second == first || !e.sandbox.Validate(second) || e.sandbox.Stats().Refreshes != 1 {
			t.Fatalf("due credentials: %v (refreshes %d)", m, e.sandbox.Stats().Refreshes)
		}
		if conn := e.do("GET", "/connections/"+id, admin, nil).json(t); conn["lastRefreshAt"] == nil || conn["retryAttempts"] != 0.0 {
			t.Fatalf("connection after refresh: %v", conn)
		}

		// A refresh the provider refuses for good: 409, and the connection shows why.
		if err := e.sandbox.FailNextRefresh(sandbox.FailPermanent); err != nil {
			t.Fatal(err)
		}
		e.makeDue(id)
		if r := e.do("GET", path, admin, nil); r.status != http.StatusConflict || r.errCode(t) != "connection_disconnected" {
			t.Fatalf("after invalid_grant: %d %s", r.status, r.body)
		}
		conn := e.do("GET", "/connections/"+id, admin, nil).json(t)
		if errInfo, _ := conn["error"].(map[string]any); conn["disconnected"] != true || errInfo["code"] != "invalid_grant" {
			t.Fatalf("connection after invalid_grant: %v", conn)
		}

		// API-key connections answer with their fields.
		created := e.do("POST", "/connect", admin, map[string]any{"tenantKey": "acme", "appKey": "sandbox-apikey", "credentials": map[string]string{"apiKey": sandbox.APIKey}})
		if created.status != http.StatusCreated {
			t.Fatalf("create api key connection: %d %s", created.status, created.body)
		}
		keyID := created.json(t)["connection"].(map[string]any)["id"].(string)
		if m := e.do("GET", "/connections/"+keyID+"/credentials", admin, nil).json(t); m["type"] != "apiKey" || m["apiKey"] != sandbox.APIKey || len(m) != 2 {
			t.Fatalf("api key credentials: %v", m)
		}

		if r := e.do("GET", "/connections/con_nope/credentials", admin, nil); r.status != http.StatusNotFound || r.errCode(t) != "connection_not_found" {
			t.Fatalf("unknown: %d %s", r.status, r.body)
		}
	})
}

// TestArchiveRevokesAtTheProvider: DELETE revokes the grant at the sandbox (RFC 7009), and the
// credentials are gone.
func TestArchiveRevokesAtTheProvider(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		e := newCredEnv(t, s)
		admin := e.admin()
		id := e.oauthConnection("acme")
		token := e.do("GET", "/connections/"+id+"/credentials", admin, nil).json(t)["accessToken"].(string)
		if !e.sandbox.Validate(token) || e.sandbox.Grants() != 1 {
			t.Fatal("the sandbox does not know the connection's token")
		}
		if r := e.do("DELETE", "/connections/"+id, e.token("acme"), nil); r.status != 200 {
			t.Fatalf("archive: %d %s", r.status, r.body)
		}
		if st := e.sandbox.Stats(); st.Revocations != 1 || e.sandbox.Validate(token) || e.sandbox.Grants() != 0 {
			t.Fatalf("not revoked at the provider: %+v", st)
		}
		if r := e.do("GET", "/connections/"+id+"/credentials", admin, nil); r.status != http.StatusGone || r.errCode(t) != "connection_archived" {
			t.Fatalf("credentials of an archived connection: %d %s", r.status, r.body)
		}
		// Archiving again revokes nothing more.
		if r := e.do("DELETE", "/connections/"+id, admin, nil); r.status != 200 || e.sandbox.Stats().Revocations != 1 {
			t.Fatalf("second archive: %d, revocations %d", r.status, e.sandbox.Stats().Revocations)
		}
		evs, _, _ := s.ListEvents(context.Background(), store.EventFilter{ConnectionID: id})
		types := []string{}
		for _, ev := range evs {
			types = append(types, ev.Type)
		}
		if !slices.Equal(types, []string{"connection.deleted", "connection.created"}) {
			t.Fatalf("events %v", types)
		}
	})
}
