package handlers_test

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hitchdev/hitch/handlers"
	"github.com/hitchdev/hitch/internal/auth"
	"github.com/hitchdev/hitch/internal/catalog"
	"github.com/hitchdev/hitch/internal/config"
	"github.com/hitchdev/hitch/internal/connect"
	"github.com/hitchdev/hitch/internal/sandbox"
	"github.com/hitchdev/hitch/internal/secrets"
	"github.com/hitchdev/hitch/internal/store"
	"github.com/hitchdev/hitch/internal/store/storetest"
)

const hostOrigin = "http://host.example:3000"

// clock is a settable time source shared by the server and the test.
type clock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return time.Now().Add(c.off) }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

// flowEnv is a whole Hitch server with its sandbox provider, over real HTTP.
type flowEnv struct {
	t       *testing.T
	srv     *httptest.Server
	store   *store.Store
	keys    *secrets.KeyRing
	issuer  *auth.Issuer
	sandbox *sandbox.Server
	clock   *clock
}

func newFlow(t *testing.T, s *store.Store, appsYAML string) *flowEnv {
	t.Helper()
	spec, _ := secrets.Generate("k1")
	keys, _ := secrets.Parse(spec)
	file := ""
	if appsYAML != "" {
		file = filepath.Join(t.TempDir(), "apps.yaml")
		if err := os.WriteFile(file, []byte(appsYAML), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cat, err := catalog.Load(catalog.Options{File: file, Getenv: func(string) string { return "" }, IncludeSandbox: true})
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{}
	secret := []byte("flow-test-secret-of-at-least-32-bytes!!")
	issuer, _ := auth.NewIssuer("ws", secret, clk.Now)
	srv := httptest.NewUnstartedServer(nil)
	pub, _ := url.Parse("http://" + srv.Listener.Addr().String())
	cfg := &config.Config{PublicURL: pub, AllowedOrigins: []string{hostOrigin}, WorkspaceKey: "ws", WorkspaceName: "Acme",
		WorkspaceSecret: secret, Sandbox: true}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	sb := handlers.NewSandbox(cfg, log)
	srv.Config.Handler = handlers.New(handlers.Deps{Config: cfg, Store: s, Catalog: cat, Keys: keys, Issuer: issuer, Log: log, Now: clk.Now, Sandbox: sb})
	srv.Start()
	t.Cleanup(srv.Close)
	return &flowEnv{t: t, srv: srv, store: s, keys: keys, issuer: issuer, sandbox: sb, clock: clk}
}

func (f *flowEnv) token(tenant string) string {
	tok, err := f.issuer.Mint(auth.Principal{TenantKey: tenant, TenantName: "Globex Corporation"}, time.Hour)
	if err != nil {
		f.t.Fatal(err)
	}
	return tok
}

// api calls the JSON API as the host's backend or the SDK would.
func (f *flowEnv) api(method, path, token string, body any, origin string) (int, map[string]any) {
	f.t.Helper()
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = strings.NewReader(string(raw))
	}
	req, _ := http.NewRequest(method, f.srv.URL+path, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(res.Body).Decode(&m)
	return res.StatusCode, m
}

func (f *flowEnv) start(token string, body map[string]any) (id, link string) {
	f.t.Helper()
	status, m := f.api("POST", "/connect", token, body, hostOrigin)
	if status != 200 {
		f.t.Fatalf("start session: %d %v", status, m)
	}
	return m["id"].(string), m["url"].(string)
}

// browser is one user agent: its own cookie jar, following redirects.
type browser struct {
	t      *testing.T
	client *http.Client
}

func newBrowser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, client: &http.Client{Jar: jar, Timeout: 20 * time.Second}}
}

// page is a fetched HTML page.
type page struct {
	status int
	url    string
	body   string
}

func (b *browser) get(u string) page {
	b.t.Helper()
	res, err := b.client.Get(u)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return page{res.StatusCode, res.Request.URL.String(), string(raw)}
}

func (b *browser) post(u string, form url.Values) page {
	b.t.Helper()
	res, err := b.client.PostForm(u, form)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return page{res.StatusCode, res.Request.URL.String(), string(raw)}
}

// noFollow fetches u without following a redirect and returns its Location.
func (b *browser) noFollow(method, u string, form url.Values) (int, string) {
	b.t.Helper()
	c := *b.client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	var res *http.Response
	var err error
	if method == "POST" {
		res, err = c.PostForm(u, form)
	} else {
		res, err = c.Get(u)
	}
	if err != nil {
		b.t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode, res.Header.Get("Location")
}

var (
	formRe   = regexp.MustCompile(`(?s)<form[^>]*>.*?</form>`)
	actionRe = regexp.MustCompile(`action="([^"]+)"`)
	inputRe  = regexp.MustCompile(`<input[^>]*>`)
	nameRe   = regexp.MustCompile(`name="([^"]+)"`)
	valueRe  = regexp.MustCompile(`value="([^"]*)"`)
)

// form returns the action (absolute) and values of the page's main POST
// form: the one posting to /app/ (Hitch) or authorize (the provider), not
// the Cancel form.
func (p page) form(t *testing.T) (string, url.Values) {
	t.Helper()
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
		action, _ := base.Parse(act)
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
		return action.String(), vals
	}
	t.Fatalf("no main POST form on %s (%d):\n%s", p.url, p.status, p.body)
	return "", nil
}

// forms returns every POST form's action.
func (p page) has(s string) bool { return strings.Contains(p.body, s) }

// toConsent opens the link and goes to the sandbox-oauth consent step.
func (f *flowEnv) toProvider(b *browser, link string) page {
	f.t.Helper()
	p := b.get(link)
	if p.status != 200 || !strings.Contains(p.url, "/app/sandbox-oauth") {
		f.t.Fatalf("link did not land on the sandbox-oauth consent page: %d %s\n%s", p.status, p.url, p.body)
	}
	action, vals := p.form(f.t)
	prov := b.post(action, vals)
	if prov.status != 200 || !strings.Contains(prov.url, "/sandbox/oauth/authorize") {
		f.t.Fatalf("consent did not go to the provider: %d %s\n%s", prov.status, prov.url, prov.body)
	}
	return prov
}

// decide presses Approve or Deny at the provider and returns the callback
// URL without following it.
func (f *flowEnv) decide(b *browser, prov page, decision string) string {
	f.t.Helper()
	action, vals := prov.form(f.t)
	vals.Set("decision", decision)
	status, loc := b.noFollow("POST", action, vals)
	if status != http.StatusFound && status != http.StatusSeeOther {
		f.t.Fatalf("provider decision: %d", status)
	}
	if !strings.Contains(loc, "/oauth/callback") {
		f.t.Fatalf("provider redirected to %s", loc)
	}
	return loc
}

func (f *flowEnv) session(token, id string) map[string]any {
	f.t.Helper()
	status, m := f.api("GET", "/connect/"+id, token, nil, "")
	if status != 200 {
		f.t.Fatalf("get session: %d %v", status, m)
	}
	return m
}

func (f *flowEnv) connections(tenant string) []store.Connection {
	f.t.Helper()
	rows, _, err := f.store.ListConnections(f.t.Context(), store.ConnectionFilter{TenantKey: tenant, IncludeArchived: true})
	if err != nil {
		f.t.Fatal(err)
	}
	return rows
}

func TestOAuthApprove(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		f := newFlow(t, s, "")
		tok := f.token("globex")
		id, link := f.start(tok, map[string]any{"appKey": "sandbox-oauth"})
		if !strings.HasPrefix(link, f.srv.URL+"/c/") || strings.Contains(link, tok) {
			t.Fatalf("connect link %q", link)
		}
		b := newBrowser(t)
		prov := f.toProvider(b, link)
		if !prov.has("Approve") || !prov.has("read") {
			t.Fatalf("provider consent page:\n%s", prov.body)
		}
		cb := f.decide(b, prov, "approve")
		cbURL, _ := url.Parse(cb)
		if cbURL.Query().Get("iss") == "" || cbURL.Query().Get("state") == "" {
			t.Fatalf("callback lacks iss or state: %s", cb)
		}
		res := b.get(cb)
		if res.status != 200 || !strings.HasSuffix(strings.SplitN(res.url, "?", 2)[0], "/popup/"+id) {
			t.Fatalf("callback landed on %d %s", res.status, res.url)
		}
		if !res.has(`"status":"completed"`) && !res.has(`&#34;status&#34;:&#34;completed&#34;`) && !res.has(`\u0022status\u0022`) && !res.has("completed") {
			t.Fatalf("result page does not carry the outcome:\n%s", res.body)
		}
		m := f.session(tok, id)
		if m["status"] != "completed" || m["connection"] == nil {
			t.Fatalf("session: %v", m)
		}
		conn := m["connection"].(map[string]any)
		if conn["appKey"] != "sandbox-oauth" || conn["authType"] != "oauth2" || conn["nextRefreshAt"] == nil {
			t.Fatalf("connection: %v", conn)
		}
		rows := f.connections("globex")
		if len(rows) != 1 {
			t.Fatalf("%d connections", len(rows))
		}
		var creds connect.Credentials
		if err := f.keys.OpenJSON(rows[0].Credentials, []byte(rows[0].ID), &creds); err != nil {
			t.Fatal(err)
		}
		if !f.sandbox.Validate(creds.AccessToken) || creds.RefreshToken == "" || creds.Expiry == nil {
			t.Fatalf("stored tokens are not the provider's: refresh=%v expiry=%v", creds.RefreshToken != "", creds.Expiry)
		}
		// Replaying the callback finds nothing and writes nothing.
		replay := b.get(cb)
		if replay.status != 400 || !replay.has("not valid or was already used") {
			t.Fatalf("replay: %d\n%s", replay.status, replay.body)
		}
		if st := f.sandbox.Stats(); st.CodeExchanges != 1 {
			t.Fatalf("code exchanged %d times", st.CodeExchanges)
		}
		if len(f.connections("globex")) != 1 {
			t.Fatal("replay wrote a connection")
		}
		evs, _, _ := s.ListEvents(t.Context(), store.EventFilter{TenantKey: "globex"})
		if len(evs) != 1 || evs[0].Type != "connection.created" {
			t.Fatalf("events %v", evs)
		}
	})
}

func TestOAuthFailures(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		t.Run("deny", func(t *testing.T) {
			f := newFlow(t, s, "")
			tok := f.token("deny")
			id, link := f.start(tok, map[string]any{"appKey": "sandbox-oauth"})
			b := newBrowser(t)
			res := b.get(f.decide(b, f.toProvider(b, link), "deny"))
			m := f.session(tok, id)
			errInfo, _ := m["error"].(map[string]any)
			if m["status"] != "failed" || errInfo["code"] != "access_denied" || res.status != 200 {
				t.Fatalf("deny: %v (page %d)", m, res.status)
			}
			if len(f.connections("deny")) != 0 {
				t.Fatal("deny wrote a connection")
			}
		})
		t.Run("state from another browser", func(t *testing.T) {
			f := newFlow(t, s, "")
			tok := f.token("other")
			id, link := f.start(tok, map[string]any{"appKey": "sandbox-oauth"})
			a, b := newBrowser(t), newBrowser(t)
			cb := f.decide(a, f.toProvider(a, link), "approve")
			if p := b.get(cb); p.status != 403 || !p.has("another browser") {
				t.Fatalf("foreign browser: %d\n%s", p.status, p.body)
			}
			if len(f.connections("other")) != 0 || f.session(tok, id)["status"] != "pending" {
				t.Fatal("a foreign browser's callback changed the session")
			}
			// The browser that started it still finishes.
			if p := a.get(cb); p.status != 200 || f.session(tok, id)["status"] != "completed" {
				t.Fatalf("owner after foreign attempt: %d", p.status)
			}
		})
		t.Run("link opened by a second browser", func(t *testing.T) {
			f := newFlow(t, s, "")
			_, link := f.start(f.token("link"), map[string]any{"appKey": "sandbox-oauth"})
			a, b := newBrowser(t), newBrowser(t)
			if p := a.get(link); p.status != 200 {
				t.Fatalf("first open: %d", p.status)
			}
			if p := a.get(link); p.status != 200 {
				t.Fatalf("same browser reopening: %d", p.status)
			}
			if p := b.get(link); p.status != 410 || !p.has("another browser") {
				t.Fatalf("second browser: %d\n%s", p.status, p.body)
			}
			if p := b.get(f.srv.URL + "/c/not-a-code"); p.status != 404 {
				t.Fatalf("unknown code: %d", p.status)
			}
		})
		t.Run("forged and missing state", func(t *testing.T) {
			f := newFlow(t, s, "")
			b := newBrowser(t)
			for _, q := range []string{"", "?code=x", "?state=forged&code=x", "?state=a&state=b&code=x"} {
				if p := b.get(f.srv.URL + "/oauth/callback" + q); p.status != 400 {
					t.Errorf("callback%s: %d", q, p.status)
				}
			}
		})
		t.Run("provider error", func(t *testing.T) {
			// The provider refuses the scope and redirects back with invalid_scope.
			f := newFlow(t, s, sandboxOverride("scopes: [read, forbidden]", ""))
			tok := f.token("scope")
			id, link := f.start(tok, map[string]any{"appKey": "sandbox-oauth"})
			b := newBrowser(t)
			p := b.get(link)
			action, vals := p.form(t)
			res := b.post(action, vals) // the provider redirects straight back with the error
			m := f.session(tok, id)
			errInfo, _ := m["error"].(map[string]any)
			if m["status"] != "failed" || errInfo["code"] != "provider_error" || !strings.Contains(errInfo["message"].(string), "invalid_scope") {
				t.Fatalf("provider error: %v (page %d %s)", m, res.status, res.url)
			}
			if len(f.connections("scope")) != 0 {
				t.Fatal("provider error wrote a connection")
			}
		})
		t.Run("token endpoint refuses the client", func(t *testing.T) {
			f := newFlow(t, s, sandboxOverride("scopes: [read]", "clientSecret: wrong-secret"))
			tok := f.token("client")
			id, link := f.start(tok, map[string]any{"appKey": "sandbox-oauth"})
			b := newBrowser(t)
			b.get(f.decide(b, f.toProvider(b, link), "approve"))
			m := f.session(tok, id)
			errInfo, _ := m["error"].(map[string]any)
			if m["status"] != "failed" || !strings.Contains(errInfo["message"].(string), "invalid_client") {
				t.Fatalf("token failure: %v", m)
			}
			if len(f.connections("client")) != 0 {
				t.Fatal("token failure wrote a connection")
			}
		})
		t.Run("token endpoint down", func(t *testing.T) {
			down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				http.Error(w, `{"error":"temporarily_unavailable"}`, http.StatusServiceUnavailable)
			}))
			defer down.Close()
			f := newFlow(t, s, sandboxOverride("scopes: [read]", "tokenUrl: "+down.URL+"/token"))
			tok := f.token("down")
			id, link := f.start(tok, map[string]any{"appKey": "sandbox-oauth"})
			b := newBrowser(t)
			res := b.get(f.decide(b, f.toProvider(b, link), "approve"))
			m := f.session(tok, id)
			if m["status"] != "failed" || res.status != 200 || len(f.connections("down")) != 0 {
				t.Fatalf("token endpoint down: %v", m)
			}
		})
		t.Run("expired session", func(t *testing.T) {
			f := newFlow(t, s, "")
			tok := f.token("late")
			id, link := f.start(tok, map[string]any{"appKey": "sandbox-oauth"})
			b := newBrowser(t)
			prov := f.toProvider(b, link)
			f.clock.Advance(31 * time.Minute)
			tok = f.token("late")
			res := b.get(f.decide(b, prov, "approve"))
			if m := f.session(tok, id); m["status"] != "expired" || len(f.connections("late")) != 0 {
				t.Fatalf("expired: %v (page %d)", m, res.status)
			}
		})
	})
}

// sandboxOverride is an apps file redefining sandbox-oauth with extra auth lines.
func sandboxOverride(scopes, extra string) string {
	y := `apps:
  - key: sandbox-oauth
    name: Sandbox OAuth
    categories: [sandbox]
    logo: /static/logos/sandbox-oauth.svg
    sandbox: true
    auth:
      type: oauth2
      authorizeUrl: /sandbox/oauth/authorize
      tokenUrl: /sandbox/oauth/token
      revokeUrl: /sandbox/oauth/revoke
      clientId: hitch-sandbox
      ` + scopes + "\n"
	if strings.HasPrefix(extra, "tokenUrl") {
		y = strings.Replace(y, "tokenUrl: /sandbox/oauth/token", extra, 1)
		extra = ""
	}
	if extra == "" {
		extra = "clientSecret: hitch-sandbox-secret"
	}
	return y + "      " + extra + "\n"
}

func TestAPIKeyPopupAndReconnect(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		f := newFlow(t, s, "")
		tok := f.token("keys")
		id, link := f.start(tok, map[string]any{"intent": "sandbox api key"})
		b := newBrowser(t)
		p := b.get(link)
		if !strings.Contains(p.url, "/app/sandbox-apikey") {
			t.Fatalf("decisive intent did not go straight to the app: %s", p.url)
		}
		action, vals := p.form(t)
		vals.Set("apiKey", "sandbox-bad")
		bad := b.post(action, vals)
		if bad.status != 422 || !bad.has("The API key is not valid.") || bad.has("sandbox-bad") {
			t.Fatalf("bad key: %d\n%s", bad.status, bad.body)
		}
		if len(f.connections("keys")) != 0 {
			t.Fatal("a refused key was saved")
		}
		vals.Set("apiKey", "sandbox-good")
		if good := b.post(action, vals); good.status != 200 {
			t.Fatalf("good key: %d", good.status)
		}
		m := f.session(tok, id)
		if m["status"] != "completed" {
			t.Fatalf("session %v", m)
		}
		connID := m["connection"].(map[string]any)["id"].(string)

		// Reconnect keeps the id and records connection.reconnected.
		rid, rlink := f.start(tok, map[string]any{"connectionId": connID})
		rb := newBrowser(t)
		p = rb.get(rlink)
		if !strings.Contains(p.url, "/app/sandbox-apikey") || !p.has("Reconnect") {
			t.Fatalf("reconnect page %s", p.url)
		}
		action, vals = p.form(t)
		vals.Set("apiKey", "sandbox-good")
		rb.post(action, vals)
		rm := f.session(tok, rid)
		if rm["status"] != "completed" || rm["connection"].(map[string]any)["id"] != connID {
			t.Fatalf("reconnect: %v", rm)
		}
		if rows := f.connections("keys"); len(rows) != 1 {
			t.Fatalf("reconnect made %d connections", len(rows))
		}
		evs, _, _ := s.ListEvents(t.Context(), store.EventFilter{TenantKey: "keys"})
		if len(evs) != 2 || evs[0].Type != "connection.reconnected" {
			t.Fatalf("events: %d, newest %v", len(evs), evs[0].Type)
		}
	})
}

func TestSessionAPI(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		f := newFlow(t, s, "")
		tok := f.token("api")
		cases := []struct {
			body   map[string]any
			origin string
			status int
			code   string
		}{
			{map[string]any{"intent": "CRM"}, "http://evil.example", 403, "origin_not_allowed"},
			{map[string]any{"intent": "CRM"}, "null", 403, "origin_not_allowed"},
			{map[string]any{"appKey": "nope"}, hostOrigin, 404, "app_not_found"},
			{map[string]any{"appKey": "hubspot"}, hostOrigin, 409, "app_not_configured"},
			{map[string]any{"connectionId": "con_missing"}, hostOrigin, 404, "connection_not_found"},
			{map[string]any{"intent": strings.Repeat("x", 300)}, hostOrigin, 400, "invalid_intent"},
		}
		for _, c := range cases {
			status, m := f.api("POST", "/connect", tok, c.body, c.origin)
			e, _ := m["error"].(map[string]any)
			if status != c.status || e["code"] != c.code {
				t.Errorf("%v from %s: %d %v", c.body, c.origin, status, m)
			}
		}
		// Server-side callers (no Origin) may start sessions.
		status, m := f.api("POST", "/connect", tok, map[string]any{"intent": "CRM"}, "")
		if status != 200 || m["status"] != "pending" || m["expiresAt"] == nil {
			t.Fatalf("server-side start: %d %v", status, m)
		}
		id := m["id"].(string)
		start := time.Now()
		if m := f.session(tok, id+"?wait=1"); m["status"] != "pending" || time.Since(start) < 900*time.Millisecond {
			t.Fatalf("wait=1 answered %v after %s", m["status"], time.Since(start))
		}
		if status, _ := f.api("GET", "/connect/"+id, f.token("intruder"), nil, ""); status != 404 {
			t.Fatalf("another tenant read the session: %d", status)
		}
		if status, _ := f.api("GET", "/connect/"+id+"?wait=61", tok, nil, ""); status != 400 {
			t.Fatalf("wait=61: %d", status)
		}
		if status, m := f.api("POST", "/connect/"+id+"/cancel", tok, nil, ""); status != 200 || m["status"] != "cancelled" {
			t.Fatalf("cancel: %d %v", status, m)
		}
		// A cancelled session's link no longer opens.
		_, link := f.start(tok, map[string]any{"intent": "CRM"})
		if p := newBrowser(t).get(link); p.status != 200 || !p.has("Sandbox OAuth") {
			t.Fatalf("CRM intent page lacks the sandbox app: %d", p.status)
		}
		_ = fmt.Sprint()
	})
}

// TestOAuthInModal follows the SDK's modal mode: the consent page runs in the overlay's frame, its form
// posts into a popup window (providers refuse frames), and the frame polls the session's status until it
// can load the result page, which hands the outcome to the host.
func TestOAuthInModal(t *testing.T) {
	f := newFlow(t, storetest.Open(t, store.FlavorSQLite), "")
	tok := f.token("globex")
	id, link := f.start(tok, map[string]any{"appKey": "sandbox-oauth"})
	b := newBrowser(t)
	consent := b.get(link + "?mode=modal")
	if consent.status != 200 || !strings.Contains(consent.url, "/app/sandbox-oauth?mode=modal") {
		t.Fatalf("modal link landed on %d %s", consent.status, consent.url)
	}
	for _, want := range []string{`target="hitch_oauth_` + id + `"`, `data-status-url="/popup/` + id + `/status"`,
		`data-result-url="/popup/` + id + `?mode=modal"`, `data-hitch-modal="true"`} {
		if !consent.has(want) {
			t.Fatalf("modal consent page lacks %s:\n%s", want, consent.body)
		}
	}
	action, vals := consent.form(t)
	if strings.Contains(action, "mode=modal") {
		t.Fatalf("the popup window would run in modal mode: %s", action)
	}
	status := func(b *browser) (int, string) {
		p := b.get(f.srv.URL + "/popup/" + id + "/status")
		var m map[string]string
		_ = json.Unmarshal([]byte(p.body), &m)
		return p.status, m["status"]
	}
	if code, st := status(b); code != 200 || st != "pending" {
		t.Fatalf("status before the provider: %d %q", code, st)
	}
	if code, st := status(newBrowser(t)); code < 400 || code >= 500 || st != "" {
		t.Fatalf("another browser read the session's status: %d %q", code, st)
	}
	// The popup window shares the frame's cookies (same browser).
	prov := b.post(action, vals)
	if !strings.Contains(prov.url, "/sandbox/oauth/authorize") {
		t.Fatalf("the form did not continue to the provider: %s", prov.url)
	}
	popupResult := b.get(f.decide(b, prov, "approve"))
	if popupResult.has(`data-hitch-modal="true"`) {
		t.Fatal("the popup window's result page thinks it is the modal")
	}
	if code, st := status(b); code != 200 || st != "completed" {
		t.Fatalf("status after the provider: %d %q", code, st)
	}
	frame := b.get(f.srv.URL + "/popup/" + id + "?mode=modal")
	if frame.status != 200 || !frame.has(`data-hitch-modal="true"`) || !frame.has("completed") {
		t.Fatalf("the frame's result page: %d\n%s", frame.status, frame.body)
	}
	if len(f.connections("globex")) != 1 {
		t.Fatal("no connection")
	}
}
