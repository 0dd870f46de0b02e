package api_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hitchdev/hitch/handlers"
	"github.com/hitchdev/hitch/internal/auth"
	"github.com/hitchdev/hitch/internal/catalog"
	"github.com/hitchdev/hitch/internal/config"
	"github.com/hitchdev/hitch/internal/connect"
	"github.com/hitchdev/hitch/internal/secrets"
	"github.com/hitchdev/hitch/internal/store"
	"github.com/hitchdev/hitch/internal/store/storetest"
)

const (
	workspaceKey = "test-ws"
	secret       = "an-honest-test-secret-of-32-bytes-or-more"
	hostOrigin   = "http://host.example:3000"
)

// env is one server over a real store, driven through its real router.
type env struct {
	t      testing.TB
	srv    *httptest.Server
	issuer *auth.Issuer
	store  *store.Store
}

func newEnv(t testing.TB, s *store.Store) *env {
	t.Helper()
	return newEnvWith(t, s, "")
}

// newEnvWith serves a catalog with appsFile merged over the built-in one.
func newEnvWith(t testing.TB, s *store.Store, appsFile string) *env {
	t.Helper()
	keySpec, err := secrets.Generate("k1")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := secrets.Parse(keySpec)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Load(catalog.Options{File: appsFile, Getenv: func(string) string { return "" }, IncludeSandbox: true})
	if err != nil {
		t.Fatal(err)
	}
	issuer, err := auth.NewIssuer(workspaceKey, []byte(secret), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	pub, _ := url.Parse("http://" + srv.Listener.Addr().String())
	cfg := &config.Config{PublicURL: pub, AllowedOrigins: []string{hostOrigin}, WorkspaceKey: workspaceKey,
		WorkspaceSecret: []byte(secret), Sandbox: true}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv.Config.Handler = handlers.New(handlers.Deps{Config: cfg, Store: s, Catalog: cat, Keys: keys, Issuer: issuer, Log: log})
	srv.Start()
	t.Cleanup(srv.Close)
	return &env{t: t, srv: srv, issuer: issuer, store: s}
}

func (e *env) token(tenant string) string {
	e.t.Helper()
	tok, err := e.issuer.Mint(auth.Principal{TenantKey: tenant, TenantName: strings.ToUpper(tenant)}, time.Hour)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

func (e *env) admin() string {
	e.t.Helper()
	tok, err := e.issuer.Mint(auth.Principal{Admin: true}, time.Hour)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v: %s", err, r.body)
	}
	return m
}

// errCode returns the envelope's code, failing when the body is not one.
func (r reply) errCode(t testing.TB) string {
	t.Helper()
	m := r.json(t)
	inner, ok := m["error"].(map[string]any)
	if !ok {
		t.Fatalf("no error envelope in %s", r.body)
	}
	code, _ := inner["code"].(string)
	msg, _ := inner["message"].(string)
	if code == "" || msg == "" {
		t.Fatalf("envelope lacks code or message: %s", r.body)
	}
	return code
}

func (e *env) do(method, path, token string, body any, hdr ...string) reply {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, _ := json.Marshal(b)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return reply{res.StatusCode, res.Header, raw}
}

func (e *env) create(token, key string) map[string]any {
	e.t.Helper()
	r := e.do("POST", "/connect", token, map[string]any{"appKey": "sandbox-apikey", "credentials": map[string]string{"apiKey": key}})
	if r.status != http.StatusCreated {
		e.t.Fatalf("create: %d %s", r.status, r.body)
	}
	return r.json(e.t)["connection"].(map[string]any)
}

func TestConnectionsLifecycle(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		e := newEnv(t, s)
		acme := e.token("acme")
		conn := e.create(acme, "sandbox-good")
		id := conn["id"].(string)
		if !strings.HasPrefix(id, "con_") || conn["tenantKey"] != "acme" || conn["appKey"] != "sandbox-apikey" || conn["authType"] != "apiKey" {
			t.Fatalf("unexpected connection %v", conn)
		}
		for _, k := range []string{"disconnected", "error", "createdAt", "updatedAt", "archivedAt", "lastRefreshAt", "nextRefreshAt", "retryAttempts", "input", "name"} {
			if _, ok := conn[k]; !ok {
				t.Errorf("connection lacks %q", k)
			}
		}
		if r := e.do("GET", "/connections/"+id, acme, nil); r.status != 200 || bytes.Contains(r.body, []byte("sandbox-good")) {
			t.Fatalf("get: %d %s", r.status, r.body)
		}
		list := e.do("GET", "/connections", acme, nil).json(t)
		if items := list["items"].([]any); len(items) != 1 || list["cursor"] != nil {
			t.Fatalf("list: %v", list)
		}
		if r := e.do("DELETE", "/connections/"+id, acme, nil); r.status != 200 || r.json(t)["archivedAt"] == nil {
			t.Fatalf("archive: %d %s", r.status, r.body)
		}
		if r := e.do("DELETE", "/connections/"+id, acme, nil); r.status != 200 {
			t.Fatalf("second archive is not idempotent: %d %s", r.status, r.body)
		}
		if items := e.do("GET", "/connections", acme, nil).json(t)["items"].([]any); len(items) != 0 {
			t.Fatalf("archived connection still listed: %v", items)
		}
		if items := e.do("GET", "/connections?includeArchived=true", acme, nil).json(t)["items"].([]any); len(items) != 1 {
			t.Fatalf("includeArchived lost it: %v", items)
		}
		evs := e.do("GET", "/events", acme, nil).json(t)["items"].([]any)
		if len(evs) != 2 || evs[0].(map[string]any)["type"] != "connection.deleted" || evs[1].(map[string]any)["type"] != "connection.created" {
			t.Fatalf("events: %v", evs)
		}
		got, err := s.GetConnection(t.Context(), id, "")
		if err != nil || got.Credentials != nil {
			t.Fatalf("archived credentials not erased: %v %v", err, got.Credentials != nil)
		}
	})
}

func TestTenantIsolation(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		e := newEnv(t, s)
		acme, globex := e.token("acme"), e.token("globex")
		id := e.create(acme, "sandbox-good")["id"].(string)
		e.create(globex, "sandbox-good")

		cases := []struct {
			method, path string
			body         any
			status       int
			code         string
		}{
			{"GET", "/connections/" + id, nil, 404, "connection_not_found"},
			{"DELETE", "/connections/" + id, nil, 404, "connection_not_found"},
			{"GET", "/connections?tenantKey=acme", nil, 403, "forbidden"},
			{"GET", "/events?tenantKey=acme", nil, 403, "forbidden"},
			{"POST", "/connect", map[string]any{"tenantKey": "acme", "appKey": "sandbox-apikey", "credentials": map[string]string{"apiKey": "x"}}, 403, "forbidden"},
		}
		for _, c := range cases {
			r := e.do(c.method, c.path, globex, c.body)
			if r.status != c.status || r.errCode(t) != c.code {
				t.Errorf("%s %s as globex: %d %s, want %d %s", c.method, c.path, r.status, r.body, c.status, c.code)
			}
		}
		items := e.do("GET", "/connections", globex, nil).json(t)["items"].([]any)
		if len(items) != 1 || items[0].(map[string]any)["tenantKey"] != "globex" {
			t.Fatalf("globex sees %v", items)
		}
		if evs := e.do("GET", "/events", globex, nil).json(t)["items"].([]any); len(evs) != 1 {
			t.Fatalf("globex sees %d events", len(evs))
		}
		// The row is untouched by globex's attempt to archive it.
		if r := e.do("GET", "/connections/"+id, acme, nil); r.status != 200 || r.json(t)["archivedAt"] != nil {
			t.Fatalf("acme's connection changed: %s", r.body)
		}

		admin := e.admin()
		if items := e.do("GET", "/connections", admin, nil).json(t)["items"].([]any); len(items) != 2 {
			t.Fatalf("admin sees %d connections, want 2", len(items))
		}
		if items := e.do("GET", "/connections?tenantKey=acme", admin, nil).json(t)["items"].([]any); len(items) != 1 {
			t.Fatalf("admin filter sees %d, want 1", len(items))
		}
		if r := e.do("GET", "/connections/"+id, admin, nil); r.status != 200 {
			t.Fatalf("admin get: %d", r.status)
		}
		r := e.do("POST", "/connect", admin, map[string]any{"appKey": "sandbox-apikey", "credentials": map[string]string{"apiKey": "x"}})
		if r.status != 400 || r.errCode(t) != "tenant_key_required" {
			t.Fatalf("admin without tenantKey: %d %s", r.status, r.body)
		}
		r = e.do("POST", "/connect", admin, map[string]any{"tenantKey": "initech", "appKey": "sandbox-apikey", "credentials": map[string]string{"apiKey": "sandbox-good"}})
		if r.status != 201 || r.json(t)["connection"].(map[string]any)["tenantKey"] != "initech" {
			t.Fatalf("admin create for initech: %d %s", r.status, r.body)
		}
	})
}

// forge signs an arbitrary header and payload with key, to build tokens a
// JWT library would refuse to mint.
func forge(header, payload string, key []byte) string {
	enc := base64.RawURLEncoding
	unsigned := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(payload))
	return unsigned + "." + enc.EncodeToString(hmacSHA256(key, unsigned))
}

func TestBadTokens(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		e := newEnv(t, s)
		exp := time.Now().Add(time.Hour).Unix()
		claims := func(extra string) string {
			return `{"workspaceKey":"` + workspaceKey + `","tenantKey":"acme","exp":` + itoa(exp) + extra + `}`
		}
		wrongSecret, _ := auth.NewIssuer(workspaceKey, []byte("another-secret-that-is-32-bytes-long!!"), time.Now)
		wrongTok, _ := wrongSecret.Mint(auth.Principal{TenantKey: "acme"}, time.Hour)
		otherWS, _ := auth.NewIssuer("other-ws", []byte(secret), time.Now)
		otherTok, _ := otherWS.Mint(auth.Principal{TenantKey: "acme"}, time.Hour)
		expired, _ := auth.NewIssuer(workspaceKey, []byte(secret), func() time.Time { return time.Now().Add(-3 * time.Hour) })
		expiredTok, _ := expired.Mint(auth.Principal{TenantKey: "acme"}, time.Hour)
		enc := base64.RawURLEncoding

		cases := []struct {
			name, header string
			code         string
		}{
			{"missing", "", "unauthorized"},
			{"basic scheme", "Basic dXNlcjpwYXNz", "unauthorized"},
			{"empty bearer", "Bearer ", "unauthorized"},
			{"garbage", "Bearer not.a.jwt", "invalid_token"},
			{"wrong secret", "Bearer " + wrongTok, "invalid_token"},
			{"other workspace", "Bearer " + otherTok, "invalid_token"},
			{"expired", "Bearer " + expiredTok, "token_expired"},
			{"alg none", "Bearer " + enc.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc.EncodeToString([]byte(claims(""))) + ".", "invalid_token"},
			{"alg HS384", "Bearer " + forge(`{"alg":"HS384","typ":"JWT"}`, claims(""), []byte(secret)), "invalid_token"},
			{"isAdmin as string", "Bearer " + forge(`{"alg":"HS256","typ":"JWT"}`, claims(`,"isAdmin":"true"`), []byte(secret)), "invalid_token"},
			{"exp too far", "Bearer " + forge(`{"alg":"HS256","typ":"JWT"}`, `{"workspaceKey":"`+workspaceKey+`","tenantKey":"acme","exp":`+itoa(time.Now().Add(48*time.Hour).Unix())+`}`, []byte(secret)), "invalid_token"},
			{"no exp", "Bearer " + forge(`{"alg":"HS256","typ":"JWT"}`, `{"workspaceKey":"`+workspaceKey+`","tenantKey":"acme"}`, []byte(secret)), "invalid_token"},
			{"nbf future", "Bearer " + forge(`{"alg":"HS256","typ":"JWT"}`, claims(`,"nbf":`+itoa(time.Now().Add(time.Hour).Unix())), []byte(secret)), "token_not_yet_valid"},
		}
		for _, c := range cases {
			for _, path := range []string{"/connections", "/events", "/connections/con_x"} {
				var hdr []string
				if c.header != "" {
					hdr = []string{"Authorization", c.header}
				}
				r := e.do("GET", path, "", nil, hdr...)
				if r.status != 401 || r.errCode(t) != c.code {
					t.Errorf("%s on %s: %d %s, want 401 %s", c.name, path, r.status, r.body, c.code)
				}
				if r.header.Get("WWW-Authenticate") == "" {
					t.Errorf("%s: no WWW-Authenticate", c.name)
				}
			}
		}
		// A forged HS256 token signed with the right secret is the control: it must work.
		good := forge(`{"alg":"HS256","typ":"JWT"}`, claims(""), []byte(secret))
		if r := e.do("GET", "/connections", good, nil); r.status != 200 {
			t.Fatalf("control token refused: %d %s", r.status, r.body)
		}
		legacy := forge512(`{"alg":"HS512","typ":"JWT"}`, `{"iss":"`+workspaceKey+`","id":"acme","exp":`+itoa(exp)+`}`, []byte(secret))
		if r := e.do("GET", "/connections", legacy, nil); r.status != 200 {
			t.Fatalf("legacy iss/id HS512 token refused: %d %s", r.status, r.body)
		}
	})
}

func TestBadInput(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		e := newEnv(t, s)
		acme := e.token("acme")
		big := `{"appKey":"sandbox-apikey","name":"` + strings.Repeat("a", 1<<20) + `"}`
		cases := []struct {
			name, method, path string
			body               any
			ctype              string
			status             int
			code               string
		}{
			{"malformed json", "POST", "/connect", `{"appKey":`, "", 400, "invalid_json"},
			{"not an object", "POST", "/connect", `[1,2]`, "", 400, "invalid_json"},
			{"empty body", "POST", "/connect", ``, "", 400, "invalid_json"},
			{"unknown field", "POST", "/connect", `{"appKey":"sandbox-apikey","credentials":{"apiKey":"k"},"bogus":1}`, "", 400, "invalid_json"},
			{"wrong type", "POST", "/connect", `{"appKey":5}`, "", 400, "invalid_json"},
			{"credential wrong type", "POST", "/connect", `{"appKey":"sandbox-apikey","credentials":{"apiKey":5}}`, "", 400, "invalid_json"},
			{"trailing data", "POST", "/connect", `{"appKey":"sandbox-apikey","credentials":{"apiKey":"k"}} {}`, "", 400, "invalid_json"},
			{"too large", "POST", "/connect", big, "", 413, "request_too_large"},
			{"wrong content type", "POST", "/connect", `appKey=x`, "application/x-www-form-urlencoded", 415, "unsupported_media_type"},
			{"unknown app", "POST", "/connect", `{"appKey":"nope","credentials":{"apiKey":"k"}}`, "", 404, "app_not_found"},
			{"missing field", "POST", "/connect", `{"appKey":"sandbox-apikey","credentials":{}}`, "", 400, "missing_field"},
			{"rejected key", "POST", "/connect", `{"appKey":"sandbox-apikey","credentials":{"apiKey":"sandbox-bad"}}`, "", 400, "invalid_credentials"},
			{"unknown credential field", "POST", "/connect", `{"appKey":"sandbox-apikey","credentials":{"apiKey":"k","x":"y"}}`, "", 400, "unknown_field"},
			{"oauth app with credentials", "POST", "/connect", `{"appKey":"sandbox-oauth","credentials":{"apiKey":"k"}}`, "", 400, "credentials_not_accepted"},
			{"name with control chars", "POST", "/connect", `{"appKey":"sandbox-apikey","name":"a\u0000b","credentials":{"apiKey":"k"}}`, "", 400, "invalid_name"},
			{"bad id", "GET", "/connections/..%2f..%2fetc", nil, "", 404, "connection_not_found"},
			{"long id", "GET", "/connections/" + strings.Repeat("x", 4000), nil, "", 404, "connection_not_found"},
			{"unknown id archive", "DELETE", "/connections/con_doesnotexist", nil, "", 404, "connection_not_found"},
			{"limit zero", "GET", "/connections?limit=0", nil, "", 400, "invalid_query"},
			{"limit huge", "GET", "/connections?limit=501", nil, "", 400, "invalid_query"},
			{"limit text", "GET", "/connections?limit=ten", nil, "", 400, "invalid_query"},
			{"disconnected maybe", "GET", "/connections?disconnected=maybe", nil, "", 400, "invalid_query"},
			{"garbage cursor", "GET", "/connections?cursor=%21%21%21", nil, "", 400, "invalid_cursor"},
			{"cursor with bad bytes", "GET", "/connections?cursor=" + base64.RawURLEncoding.EncodeToString([]byte("con_'; drop")), nil, "", 400, "invalid_cursor"},
			{"events bad type", "GET", "/events?type=connection.exploded", nil, "", 400, "invalid_query"},
			{"events garbage cursor", "GET", "/events?cursor=!!", nil, "", 400, "invalid_cursor"},
			{"apps limit", "GET", "/apps?limit=1001", nil, "", 400, "invalid_query"},
			{"router 404", "GET", "/nope", nil, "", 404, "not_found"},
			{"router 405", "PUT", "/connections", nil, "", 405, "method_not_allowed"},
		}
		for _, c := range cases {
			var hdr []string
			if c.ctype != "" {
				hdr = []string{"Content-Type", c.ctype}
			}
			r := e.do(c.method, c.path, acme, c.body, hdr...)
			if r.status != c.status || r.errCode(t) != c.code {
				t.Errorf("%s: %d %s, want %d %s", c.name, r.status, trim(r.body), c.status, c.code)
			}
		}
		// Nothing above may have written a connection.
		if items := e.do("GET", "/connections?includeArchived=true", acme, nil).json(t)["items"].([]any); len(items) != 0 {
			t.Fatalf("bad input wrote %d connections", len(items))
		}
	})
}

func TestPagination(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		e := newEnv(t, s)
		acme := e.token("acme")
		want := map[string]bool{}
		for i := 0; i < 23; i++ {
			want[e.create(acme, "sandbox-good")["id"].(string)] = true
		}
		seen, cursor, pages := map[string]bool{}, "", 0
		var last string
		for {
			path := "/connections?limit=5"
			if cursor != "" {
				path += "&cursor=" + url.QueryEscape(cursor)
			}
			r := e.do("GET", path, acme, nil)
			if r.status != 200 {
				t.Fatalf("page: %d %s", r.status, r.body)
			}
			m := r.json(t)
			for _, it := range m["items"].([]any) {
				id := it.(map[string]any)["id"].(string)
				if seen[id] {
					t.Fatalf("duplicate %s", id)
				}
				if last != "" && id > last {
					t.Fatalf("not newest first: %s after %s", id, last)
				}
				seen[id], last = true, id
			}
			pages++
			if m["cursor"] == nil {
				break
			}
			cursor = m["cursor"].(string)
		}
		if len(seen) != len(want) || pages != 5 {
			t.Fatalf("saw %d of %d in %d pages", len(seen), len(want), pages)
		}
	})
}

func TestAppsAndProbes(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		e := newEnv(t, s)
		r := e.do("GET", "/apps?search=hubspot", "", nil)
		items := r.json(t)["items"].([]any)
		first := items[0].(map[string]any)
		if r.status != 200 || first["key"] != "hubspot" || first["decisive"] != true || first["authType"] != "oauth2" {
			t.Fatalf("search hubspot: %s", trim(r.body))
		}
		if first["configured"] != false || !strings.HasPrefix(first["logo"].(string), e.srv.URL+"/static/logos/") {
			t.Fatalf("hubspot view: %v", first)
		}
		all := e.do("GET", "/apps", "", nil).json(t)["items"].([]any)
		if len(all) < 40 {
			t.Fatalf("catalog lists %d apps", len(all))
		}
		crm := e.do("GET", "/apps?search=CRM&limit=3", "", nil).json(t)["items"].([]any)
		if len(crm) != 3 {
			t.Fatalf("limit ignored: %d", len(crm))
		}
		for _, p := range []string{"/healthz", "/readyz"} {
			if r := e.do("GET", p, "", nil); r.status != 200 {
				t.Fatalf("%s: %d", p, r.status)
			}
		}
		if r := e.do("GET", "/metrics", "", nil); r.status != 200 || !bytes.Contains(r.body, []byte("hitch_http_requests_total")) {
			t.Fatalf("metrics: %d", r.status)
		}
		if r := e.do("GET", "/healthz", "", nil); r.header.Get("X-Request-Id") == "" {
			t.Fatal("no request id")
		}
	})
}

func TestCORS(t *testing.T) {
	e := newEnv(t, storetest.Open(t, "sqlite"))
	pre := func(origin string) reply {
		return e.do("OPTIONS", "/connect", "", nil, "Origin", origin,
			"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization, content-type")
	}
	r := pre(hostOrigin)
	if r.status != 204 || r.header.Get("Access-Control-Allow-Origin") != hostOrigin ||
		!strings.Contains(r.header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Fatalf("allowed preflight: %d %v", r.status, r.header)
	}
	if r := pre("http://evil.example"); r.status != 403 || r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("foreign preflight: %d %v", r.status, r.header)
	}
	r = e.do("OPTIONS", "/connections", "", nil, "Origin", hostOrigin,
		"Access-Control-Request-Method", "GET", "Access-Control-Request-Headers", "authorization, if-none-match, x-evil")
	if got := r.header.Get("Access-Control-Allow-Headers"); got != "Authorization, If-None-Match" {
		t.Fatalf("conditional list preflight grants %q", got)
	}
	r = e.do("GET", "/connections", e.token("acme"), nil, "Origin", hostOrigin)
	if r.header.Get("Access-Control-Allow-Origin") != hostOrigin || !strings.Contains(r.header.Get("Access-Control-Expose-Headers"), "ETag") {
		t.Fatalf("no CORS on the actual request, or its ETag hidden from the page: %v", r.header)
	}
	r = e.do("GET", "/connections", e.token("acme"), nil, "Origin", "http://evil.example")
	if r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatal("CORS granted to a foreign origin")
	}
}

// TestNoPlaintextAtRest proves a submitted secret never reaches the SQLite
// files (database and WAL) in the clear.
func TestNoPlaintextAtRest(t *testing.T) {
	dir := t.TempDir()
	s, err := store.Open(t.Context(), "sqlite://"+filepath.Join(dir, "hitch.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	// A provider that accepts exactly the canary key, as a real one would.
	const plaintext = "sk_live_PLAINTEXT_CANARY_7f3a9c"
	provider := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+plaintext {
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	t.Cleanup(provider.Close)
	apps := filepath.Join(t.TempDir(), "apps.yaml")
	yaml := "apps:\n  - key: canary\n    name: Canary\n    categories: [crm]\n    logo: /static/logos/hubspot.svg\n" +
		"    auth:\n      type: apiKey\n      fields:\n        - key: apiKey\n          label: API key\n          secret: true\n" +
		"      test:\n        method: GET\n        url: " + provider.URL + "/me\n        headers:\n          Authorization: Bearer {apiKey}\n"
	if err := os.WriteFile(apps, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	e := newEnvWith(t, s, apps)
	r := e.do("POST", "/connect", e.token("acme"), map[string]any{"appKey": "canary", "credentials": map[string]string{"apiKey": plaintext}})
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	conn := r.json(t)["connection"].(map[string]any)
	if r := e.do("GET", "/connections/"+conn["id"].(string), e.token("acme"), nil); bytes.Contains(r.body, []byte(plaintext)) {
		t.Fatal("secret in API response")
	}
	found := false
	entries, _ := os.ReadDir(dir)
	for _, ent := range entries {
		raw, err := os.ReadFile(filepath.Join(dir, ent.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(raw, []byte(plaintext)) {
			t.Fatalf("plaintext secret found in %s", ent.Name())
		}
		found = found || bytes.Contains(raw, []byte(conn["id"].(string)))
	}
	if !found {
		t.Fatal("the connection id is in no database file: the scan looked at the wrong files")
	}
}

func trim(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

func TestStaticAssets(t *testing.T) {
	e := newEnv(t, storetest.Open(t, "sqlite"))
	for _, c := range []struct {
		path   string
		status int
		ctype  string
	}{
		{"/sdk/hitch.js", 200, "javascript"},
		{"/sdk/hitch.mjs", 200, "javascript"},
		{"/static/logos/hubspot.svg", 200, "image/svg+xml"},
		{"/static/logos/", 404, "application/json"},
		{"/static/", 404, "application/json"},
		{"/static/../go.mod", 404, "application/json"},
		{"/static/logos/nope.svg", 404, "application/json"},
	} {
		r := e.do("GET", c.path, "", nil)
		if r.status != c.status || !strings.Contains(r.header.Get("Content-Type"), c.ctype) {
			t.Errorf("%s: %d %s", c.path, r.status, r.header.Get("Content-Type"))
		}
	}
}

// TestConnectionListRendering holds the hand-rendered GET /connections page to what encoding/json
// writes for the same page of views, byte for byte, awkward strings included.
func TestConnectionListRendering(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		e := newEnv(t, s)
		ctx := t.Context()
		now := time.Date(2026, 3, 14, 15, 9, 26, 535897000, time.UTC)
		if err := s.UpsertTenant(ctx, "render", "", now); err != nil {
			t.Fatal(err)
		}
		for i, name := range []string{"plain", `<b>"HubSpot" & co</b>`, "tab\tnl\n \x01 \u2028 日本", "emoji 🎉 é"} {
			c := store.Connection{TenantKey: "render", AppKey: "hubspot", Name: name, AuthType: "oauth2",
				Credentials: []byte("sealed-secret-bytes"), KeyID: "k1", CreatedAt: now, UpdatedAt: now.Add(time.Hour)}
			if i%2 == 1 {
				c.Input = map[string]string{"subdomain": "acme<1>", "region": "eu"}
				c.ErrorCode, c.ErrorMessage = "invalid_grant", "Revoked <at> the provider & gone."
				c.LastRefreshAt, c.NextRefreshAt = &now, ptrTime(now.Add(time.Minute))
				c.Disconnected, c.RetryAttempts = true, 2
				c.LeaseOwner, c.LeaseUntil, c.AccessExpiresAt = "worker", &now, &now
			}
			if err := s.InsertConnection(ctx, &c); err != nil {
				t.Fatal(err)
			}
		}
		tok := e.token("render")
		want := func(f store.ConnectionFilter, indent bool) []byte {
			rows, next, err := s.ListConnections(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			items := make([]connect.Connection, len(rows))
			for i, r := range rows {
				items[i] = connect.View(r)
			}
			var cursor *string
			if next != "" {
				cursor = &next
			}
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			if indent {
				enc.SetIndent("", "  ")
			}
			_ = enc.Encode(struct {
				Items  []connect.Connection `json:"items"`
				Cursor *string              `json:"cursor"`
			}{items, cursor})
			return buf.Bytes()
		}
		first := e.do("GET", "/connections?limit=3", tok, nil)
		if first.status != 200 || !bytes.Equal(first.body, want(store.ConnectionFilter{TenantKey: "render", Limit: 3}, false)) {
			t.Fatalf("first page %d:\n%s\nwant\n%s", first.status, first.body, want(store.ConnectionFilter{TenantKey: "render", Limit: 3}, false))
		}
		if ct, cl := first.header.Get("Content-Type"), first.header.Get("Content-Length"); ct != "application/json" || cl != strconv.Itoa(len(first.body)) {
			t.Errorf("Content-Type %q, Content-Length %q for a %d-byte body", ct, cl, len(first.body))
		}
		if bytes.Contains(first.body, []byte("sealed-secret")) || bytes.Contains(first.body, []byte("worker")) {
			t.Fatalf("the page carries credentials or lease data: %s", first.body)
		}
		cursor := first.json(t)["cursor"].(string)
		second := e.do("GET", "/connections?limit=3&cursor="+url.QueryEscape(cursor), tok, nil)
		if wantSecond := want(store.ConnectionFilter{TenantKey: "render", Limit: 3, Cursor: cursor}, false); second.status != 200 || !bytes.Equal(second.body, wantSecond) {
			t.Fatalf("last page %d:\n%s\nwant\n%s", second.status, second.body, wantSecond)
		}
		pretty := e.do("GET", "/connections?pretty", tok, nil)
		if wantPretty := want(store.ConnectionFilter{TenantKey: "render"}, true); pretty.status != 200 || !bytes.Equal(pretty.body, wantPretty) {
			t.Fatalf("?pretty page %d:\n%s\nwant\n%s", pretty.status, pretty.body, wantPretty)
		}
		none := e.do("GET", "/connections", e.token("nobody"), nil)
		if none.status != 200 || string(none.body) != `{"items":[],"cursor":null}`+"\n" {
			t.Fatalf("empty page %d: %q", none.status, none.body)
		}
	})
}

// TestConnectionListETag checks list pages carry an entity tag, that If-None-Match with it answers 304
// without a body while the list is unchanged, and that any change to the list (here an archive through
// the API) gives a full page with a new tag.
func TestConnectionListETag(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		e := newEnv(t, s)
		ctx := t.Context()
		now := time.Now().UTC()
		var ids []string
		for _, tenant := range []string{"etag", "other"} {
			if err := s.UpsertTenant(ctx, tenant, "", now); err != nil {
				t.Fatal(err)
			}
			for range 3 {
				c := store.Connection{TenantKey: tenant, AppKey: "hubspot", Name: "HubSpot", AuthType: "oauth2", CreatedAt: now, UpdatedAt: now}
				if err := s.InsertConnection(ctx, &c); err != nil {
					t.Fatal(err)
				}
				if tenant == "etag" {
					ids = append(ids, c.ID)
				}
			}
		}
		tok := e.token("etag")
		first := e.do("GET", "/connections", tok, nil)
		tag := first.header.Get("ETag")
		if first.status != 200 || len(tag) < 10 || tag[0] != '"' || tag[len(tag)-1] != '"' {
			t.Fatalf("first page: %d, ETag %q", first.status, tag)
		}
		for _, inm := range []string{tag, "W/" + tag, `"nope", ` + tag, "*"} {
			same := e.do("GET", "/connections", tok, nil, "If-None-Match", inm)
			if same.status != http.StatusNotModified || len(same.body) != 0 || same.header.Get("ETag") != tag {
				t.Fatalf("If-None-Match %s on an unchanged list: %d %q, ETag %q", inm, same.status, same.body, same.header.Get("ETag"))
			}
		}
		// Another page, or another tenant's list, is another representation.
		if r := e.do("GET", "/connections?limit=2", tok, nil, "If-None-Match", tag); r.status != 200 {
			t.Fatalf("another page with the first page's tag: %d", r.status)
		}
		if r := e.do("GET", "/connections", e.token("other"), nil, "If-None-Match", tag); r.status != 200 || r.header.Get("ETag") == tag {
			t.Fatalf("another tenant's list with this tenant's tag: %d, ETag %q", r.status, r.header.Get("ETag"))
		}
		if r := e.do("DELETE", "/connections/"+ids[0], tok, nil); r.status != 200 {
			t.Fatalf("archive: %d %s", r.status, r.body)
		}
		after := e.do("GET", "/connections", tok, nil, "If-None-Match", tag)
		if after.status != 200 || after.header.Get("ETag") == tag || bytes.Contains(after.body, []byte(ids[0])) {
			t.Fatalf("after an archive: %d, ETag %q (was %q): %s", after.status, after.header.Get("ETag"), tag, after.body)
		}
		// Eight tenant lists so far: the first, the limit=2 page, the "other" tenant's and the one after the
		// archive were rendered; the four conditional reads of the unchanged first page were cache hits.
		m := e.do("GET", "/metrics", "", nil)
		for _, want := range []string{`hitch_list_pages_total{result="hit"} 4`, `hitch_list_pages_total{result="miss"} 4`, "hitch_list_cache_bytes "} {
			if !bytes.Contains(m.body, []byte(want)) {
				t.Errorf("/metrics lacks %q", want)
			}
		}
	})
}

func ptrTime(t time.Time) *time.Time { return &t }
