package catalog

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func noEnv(string) string { return "" }

func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func loadBuiltin(t testing.TB, sandbox bool) *Catalog {
	t.Helper()
	c, err := Load(Options{Getenv: noEnv, IncludeSandbox: sandbox})
	if err != nil {
		t.Fatalf("builtin catalog: %v", err)
	}
	return c
}

// writeApps writes an apps file into a temp dir and returns its path.
func writeApps(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "apps.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestBuiltinCatalog(t *testing.T) {
	c := loadBuiltin(t, false)
	real := 0
	for _, a := range c.All() {
		if a.Sandbox {
			t.Errorf("%s: sandbox app loaded without IncludeSandbox", a.Key)
		}
		real++
		if a.Logo != "/static/logos/"+a.Key+".svg" {
			t.Errorf("%s: logo %q", a.Key, a.Logo)
		}
		if a.DocsURL == "" {
			t.Errorf("%s: no docsUrl", a.Key)
		}
		switch a.Auth.Type {
		case AuthOAuth2:
			for _, u := range []string{a.Auth.AuthorizeURL, a.Auth.TokenURL} {
				if !strings.HasPrefix(u, "https://") {
					t.Errorf("%s: endpoint %q is not https", a.Key, u)
				}
			}
			if a.Auth.PKCE == nil || a.Auth.TokenAuthMethod == "" || a.Auth.ScopeSeparator == "" {
				t.Errorf("%s: defaults not applied: %+v", a.Key, a.Auth)
			}
		case AuthAPIKey, AuthBasic:
			if a.Auth.Test == nil || !strings.HasPrefix(a.Auth.Test.URL, "https://") {
				t.Errorf("%s: test request %+v", a.Key, a.Auth.Test)
			}
		}
	}
	if real < 45 {
		t.Errorf("builtin has %d real apps, want >= 45", real)
	}
	if n := len(c.Categories()); n < 12 {
		t.Errorf("builtin uses %d categories, want >= 12", n)
	}
	all := c.All()
	for i := 1; i < len(all); i++ {
		if lessByName(all[i], all[i-1]) {
			t.Fatalf("All not sorted by name at %d: %s before %s", i, all[i-1].Name, all[i].Name)
		}
	}
	if _, ok := c.Get("sandbox-oauth"); ok {
		t.Error("sandbox-oauth visible without IncludeSandbox")
	}

	withSandbox := loadBuiltin(t, true)
	for _, key := range []string{"sandbox-oauth", "sandbox-apikey"} {
		a, ok := withSandbox.Get(key)
		if !ok || !a.Sandbox || !a.Configured() {
			t.Errorf("%s: %v %+v", key, ok, a)
		}
	}
	if a, _ := withSandbox.Get("sandbox-oauth"); a.Auth.TokenURL != "/sandbox/oauth/token" || !a.UsesPKCE() {
		t.Errorf("sandbox-oauth auth: %+v", a.Auth)
	}
	if a, _ := withSandbox.Get("sandbox-apikey"); a.Auth.Test.URL != "/sandbox/api/whoami" {
		t.Errorf("sandbox-apikey test: %+v", a.Auth.Test)
	}
}

func TestLogosExist(t *testing.T) {
	dir := filepath.Join("..", "..", "static", "logos")
	for _, a := range loadBuiltin(t, true).All() {
		p := filepath.Join(dir, strings.TrimPrefix(a.Logo, "/static/logos/"))
		data, err := os.ReadFile(p)
		if err != nil {
			t.Errorf("%s: %v", a.Key, err)
			continue
		}
		s := string(data)
		if len(data) >= 1024 || !strings.HasPrefix(s, "<svg") || !strings.Contains(s, `viewBox="0 0 64 64"`) {
			t.Errorf("%s: logo is not a small 64x64 SVG (%d bytes)", a.Key, len(data))
		}
	}
}

func TestOverrideFileMerges(t *testing.T) {
	path := writeApps(t, `apps:
  - key: hubspot
    name: HubSpot (EU)
    auth:
      clientId: ${HS_ID}
      clientSecret: "${HS_SECRET}"
  - key: acme-crm
    name: Acme CRM
    categories: [crm]
    auth:
      type: apiKey
      fields: [{key: token, label: Token, secret: true}]
      test: {url: "https://api.acme.test/me", headers: {Authorization: "Bearer {token}"}}
  - key: stripe
    auth:
      type: oauth2
      authorizeUrl: https://connect.stripe.com/oauth/authorize
      tokenUrl: https://connect.stripe.com/oauth/token
      scopes: [read_write]
`)
	c, err := Load(Options{File: path, Getenv: envMap(map[string]string{"HS_ID": "id-1", "HS_SECRET": "s3cret"})})
	if err != nil {
		t.Fatal(err)
	}
	hs, _ := c.Get("hubspot")
	if hs.Name != "HubSpot (EU)" || hs.Auth.ClientID != "id-1" || hs.Auth.ClientSecret != "s3cret" {
		t.Errorf("override not applied: %+v", hs)
	}
	if hs.Auth.TokenURL != "https://api.hubapi.com/oauth/v1/token" || len(hs.Auth.Scopes) == 0 || hs.Categories[0] != "crm" {
		t.Errorf("builtin values lost in merge: %+v", hs)
	}
	if !hs.Configured() {
		t.Error("hubspot with client id and secret is not configured")
	}
	acme, ok := c.Get("acme-crm")
	if !ok || acme.Auth.Test.Method != "GET" || acme.Auth.Fields[0].Key != "token" {
		t.Errorf("new app: %v %+v", ok, acme)
	}
	st, _ := c.Get("stripe")
	if st.Auth.Type != AuthOAuth2 || len(st.Auth.Fields) != 0 || st.Auth.Test != nil {
		t.Errorf("type switch should start a clean auth: %+v", st.Auth)
	}
	if st.Name != "Stripe" {
		t.Errorf("name lost: %q", st.Name)
	}
}

func TestClientCredentialsFromEnv(t *testing.T) {
	env := envMap(map[string]string{
		"HITCH_APP_ZOHO_CRM_CLIENT_ID":     "zid",
		"HITCH_APP_ZOHO_CRM_CLIENT_SECRET": "zsecret",
		"HITCH_APP_SLACK_CLIENT_ID":        "only-id",
		"HITCH_APP_ETSY_CLIENT_ID":         "keystring",
	})
	c, err := Load(Options{Getenv: env})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		key        string
		configured bool
	}{
		{"zoho-crm", true},
		{"slack", false},   // secret missing
		{"etsy", true},     // public client: no secret needed
		{"hubspot", false}, // nothing set
		{"stripe", true},   // apiKey apps need no client
		{"twilio", true},   // basic too
	}
	for _, tt := range tests {
		a, _ := c.Get(tt.key)
		if got := a.Configured(); got != tt.configured {
			t.Errorf("%s: Configured() = %v, want %v", tt.key, got, tt.configured)
		}
	}
	z, _ := c.Get("zoho-crm")
	if z.Auth.ClientID != "zid" || z.Auth.ClientSecret != "zsecret" {
		t.Errorf("zoho creds: %q", z.Auth.ClientID)
	}

	// A value written in the apps file wins over the environment fallback.
	path := writeApps(t, "apps:\n  - key: zoho-crm\n    auth: {clientId: file-id, clientSecret: file-secret}\n")
	c, err = Load(Options{File: path, Getenv: env})
	if err != nil {
		t.Fatal(err)
	}
	if z, _ := c.Get("zoho-crm"); z.Auth.ClientID != "file-id" {
		t.Errorf("file should win over env: %q", z.Auth.ClientID)
	}
}

func TestSecretsStayOutOfOutput(t *testing.T) {
	c, err := Load(Options{Getenv: envMap(map[string]string{
		"HITCH_APP_HUBSPOT_CLIENT_ID": "id", "HITCH_APP_HUBSPOT_CLIENT_SECRET": "topsecret-value"})})
	if err != nil {
		t.Fatal(err)
	}
	hs, _ := c.Get("hubspot")
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, nil)).Info("app", "app", hs)
	if strings.Contains(b.String(), "topsecret") {
		t.Errorf("log leaked the secret: %s", b.String())
	}
	if js := mustJSON(t, hs); strings.Contains(js, "topsecret") {
		t.Errorf("JSON leaked the secret: %s", js)
	}
	cp := hs.WithClient("other", "x")
	if hs.Auth.ClientID != "id" || cp.Auth.ClientID != "other" {
		t.Error("WithClient must copy")
	}
}

// TestLoadErrors checks that a bad apps file stops loading with the file,
// line and field named.
func TestLoadErrors(t *testing.T) {
	const head = "apps:\n  - key: acme\n    name: Acme\n    categories: [crm]\n"
	const apiAuth = "    auth: {type: apiKey, fields: [{key: k}], test: {url: 'https://acme.test/me'}}\n"
	const oauth = head + "    auth:\n      type: oauth2\n      authorizeUrl: https://acme.test/authorize\n"
	tests := []struct {
		name  string
		body  string
		line  int
		field string
		msg   string
	}{
		{"http token URL", oauth + "      tokenUrl: http://acme.test/token\n",
			8, "apps[0].auth.tokenUrl", "must be an absolute https URL"},
		{"relative token URL", oauth + "      tokenUrl: /token\n",
			8, "apps[0].auth.tokenUrl", "must be an absolute https URL"},
		{"missing token URL", oauth,
			5, "apps[0].auth.tokenUrl", "is required"},
		{"unknown app key", head + "    colour: red\n",
			5, "apps[0].colour", "unknown key"},
		{"unknown auth key", oauth + "      tokenUrl: https://acme.test/t\n      scope: x\n",
			9, "apps[0].auth.scope", "unknown key"},
		{"unknown field key", oauth + "      tokenUrl: https://acme.test/t\n      fields:\n        - key: a\n          regex: x\n",
			11, "apps[0].auth.fields[0].regex", "unknown key"},
		{"unknown top-level key", "version: 2\napps: []\n",
			1, "version", "unknown key"},
		{"unknown category", "apps:\n  - key: acme\n    name: Acme\n    categories: [crm, fintech]\n" + apiAuth,
			4, "apps[0].categories[1]", `unknown category "fintech"`},
		{"bad app key", "apps:\n  - key: Acme_CRM\n    name: Acme\n",
			2, "apps[0].key", "must match"},
		{"duplicate key", oauth + "      tokenUrl: https://acme.test/t\n  - key: acme\n    name: Again\n",
			9, "apps[1].key", `duplicate key "acme" (first at line 2)`},
		{"undeclared placeholder", head + "    auth:\n      type: oauth2\n      authorizeUrl: https://{tenant}.acme.test/a\n      tokenUrl: https://acme.test/t\n",
			7, "apps[0].auth.authorizeUrl", "uses {tenant} but the app declares no such field"},
		{"URL field without pattern", head + "    auth:\n      type: oauth2\n      authorizeUrl: https://{tenant}.acme.test/a\n      tokenUrl: https://acme.test/t\n      fields: [{key: tenant}]\n",
			7, "apps[0].auth.authorizeUrl", "needs a pattern"},
		{"bad field pattern", head + "    auth:\n      type: apiKey\n      fields:\n        - key: k\n          pattern: '[a-'\n      test: {url: https://acme.test/me}\n",
			9, "apps[0].auth.fields[0].pattern", "does not compile"},
		{"apiKey without test", head + "    auth:\n      type: apiKey\n      fields: [{key: k}]\n",
			5, "apps[0].auth.test", "need a test request"},
		{"apiKey without fields", head + "    auth:\n      type: apiKey\n      test: {url: https://acme.test/me}\n",
			5, "apps[0].auth.fields", "need at least one field"},
		{"basic without password", head + "    auth:\n      type: basic\n      fields: [{key: username}]\n      test: {url: https://acme.test/me}\n",
			7, "apps[0].auth.fields", `need a "password" field`},
		{"oauth key on apiKey app", head + "    auth:\n      type: apiKey\n      scopes: [read]\n      fields: [{key: k}]\n      test: {url: https://acme.test/me}\n",
			7, "apps[0].auth.scopes", "only for oauth2"},
		{"unknown auth type", head + "    auth:\n      type: saml\n",
			6, "apps[0].auth.type", `unknown type "saml"`},
		{"string popularity", head + "    popularity: high\n",
			5, "apps[0].popularity", "must be an integer"},
		{"string pkce", oauth + "      tokenUrl: https://acme.test/t\n      pkce: maybe\n",
			9, "apps[0].auth.pkce", "must be true or false"},
		{"reserved auth param", oauth + "      tokenUrl: https://acme.test/t\n      authParams:\n        redirect_uri: https://evil.test\n",
			10, "apps[0].auth.authParams.redirect_uri", "cannot be overridden"},
		{"public client without PKCE", oauth + "      tokenUrl: https://acme.test/t\n      tokenAuthMethod: none\n      pkce: false\n",
			10, "apps[0].auth.pkce", "must use PKCE"},
		{"bad token auth method", oauth + "      tokenUrl: https://acme.test/t\n      tokenAuthMethod: private_key_jwt\n",
			9, "apps[0].auth.tokenAuthMethod", "must be client_secret_basic"},
		{"missing name", "apps:\n  - key: acme\n    categories: [crm]\n",
			2, "apps[0].name", "must not be empty"},
		{"bad domain", head + "    domains: [https://acme.test]\n" + apiAuth,
			5, "apps[0].domains[0]", "host name"},
		{"YAML alias", "apps:\n  - &b {key: x, name: X}\n  - *b\n",
			3, "apps[1]", "aliases are not supported"},
		{"syntax error", "apps:\n  - key: acme\n    name: [unclosed\n",
			3, "", "invalid YAML"},
		{"apps not a list", "apps: {key: acme}\n",
			1, "apps", "must be a list"},
		{"empty file", "", 0, "apps", "missing"},
		{"override breaks builtin", "apps:\n  - key: hubspot\n    auth:\n      tokenUrl: ftp://api.hubapi.com/token\n",
			4, "apps[0].auth.tokenUrl", "must be an absolute https URL"},
		{"override empties name", "apps:\n  - key: slack\n    name: ''\n",
			3, "apps[0].name", "must not be empty"},
		{"optional URL field without default", head + "    auth:\n      type: apiKey\n      fields: [{key: host, pattern: 'a', optional: true}]\n      test: {url: 'https://{host}/me'}\n",
			8, "apps[0].auth.test.url", "needs a default"},
		{"header injection", head + "    auth:\n      type: apiKey\n      fields: [{key: k}]\n      test:\n        url: https://acme.test/me\n        headers: {'Bad Header': x}\n",
			10, "apps[0].auth.test.headers.Bad Header", "not a valid header name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeApps(t, tt.body)
			_, err := Load(Options{File: path, Getenv: noEnv})
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			var le *LoadError
			if !errors.As(err, &le) {
				t.Fatalf("error %T %v is not a *LoadError", err, err)
			}
			if le.File != path || le.Line != tt.line || le.Field != tt.field || !strings.Contains(le.Msg, tt.msg) {
				t.Errorf("got  %s:%d: %s: %s\nwant %s:%d: %s: ...%s...", le.File, le.Line, le.Field, le.Msg, path, tt.line, tt.field, tt.msg)
			}
			want := fmt.Sprintf("%s:%d: ", path, tt.line)
			if tt.line == 0 {
				want = path + ": "
			}
			if !strings.HasPrefix(err.Error(), want) {
				t.Errorf("message %q does not start with %q", err.Error(), want)
			}
		})
	}
}

func TestLoadErrorFormat(t *testing.T) {
	e := &LoadError{File: "apps.yaml", Line: 42, Field: "apps[3].auth.tokenUrl", Msg: "must be an absolute https URL"}
	if got, want := e.Error(), "apps.yaml:42: apps[3].auth.tokenUrl: must be an absolute https URL"; got != want {
		t.Errorf("got %q want %q", got, want)
	}
}

func TestLoadValidFiles(t *testing.T) {
	tests := []struct{ name, body string }{
		{"empty list", "apps: []\n"},
		{"loopback http", "apps:\n  - key: local\n    name: Local\n    categories: [dev-tools]\n    auth:\n      type: oauth2\n      authorizeUrl: http://127.0.0.1:8080/authorize\n      tokenUrl: http://localhost:8080/token\n"},
		{"flow style and anchors", "apps:\n  - &a {key: x1, name: X, categories: [chat], auth: {type: basic, fields: [{key: username}, {key: password}], test: {url: 'https://x.test/'}}}\n"},
		{"block scalar help", "apps:\n  - key: x2\n    name: X\n    categories: [chat]\n    auth:\n      type: apiKey\n      fields:\n        - key: k\n          help: |\n            Two\n            lines\n      test: {url: 'https://x.test/', expectStatus: [200, 204]}\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Load(Options{File: writeApps(t, tt.body), Getenv: noEnv}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(Options{File: filepath.Join(t.TempDir(), "nope.yaml")})
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("got %v, want ErrNotExist", err)
	}
}

func TestNewValidates(t *testing.T) {
	good := func(key string) *App {
		return &App{Key: key, Name: key, Categories: []string{"crm"}, Auth: Auth{Type: AuthAPIKey,
			Fields: []Field{{Key: "k"}}, Test: &TestRequest{URL: "https://x.test/me"}}}
	}
	if _, err := New([]*App{good("a"), good("b")}); err != nil {
		t.Fatal(err)
	}
	_, err := New([]*App{good("a"), good("a")})
	var le *LoadError
	if !errors.As(err, &le) || le.Field != "apps[1].key" || !strings.Contains(le.Msg, "duplicate") {
		t.Errorf("duplicate: %v", err)
	}
	bad := good("c")
	bad.Auth.Test.URL = "http://x.test/me"
	if _, err := New([]*App{bad}); err == nil || !strings.Contains(err.Error(), "apps[0].auth.test.url: must be an absolute https URL") {
		t.Errorf("bad url: %v", err)
	}
}

func TestExpand(t *testing.T) {
	c := loadBuiltin(t, false)
	get := func(k string) *App { a, _ := c.Get(k); return a }
	tests := []struct {
		app    string
		tmpl   string
		input  map[string]string
		want   string
		field  string // FieldError.Field when an error is expected
		reason string
	}{
		{"zendesk", get("zendesk").Auth.AuthorizeURL, map[string]string{"subdomain": "acme"},
			"https://acme.zendesk.com/oauth/authorizations/new", "", ""},
		{"zendesk", get("zendesk").Auth.TokenURL, map[string]string{"subdomain": " acme-eu "},
			"https://acme-eu.zendesk.com/oauth/tokens", "", ""},
		{"zendesk", get("zendesk").Auth.TokenURL, map[string]string{},
			"", "subdomain", "is required"},
		{"zendesk", get("zendesk").Auth.TokenURL, map[string]string{"subdomain": "evil.com/x?"},
			"", "subdomain", "invalid format"},
		{"shopify", get("shopify").Auth.TokenURL, map[string]string{"shop": "acme-store"},
			"https://acme-store.myshopify.com/admin/oauth/access_token", "", ""},
		{"salesforce", get("salesforce").Auth.AuthorizeURL, nil,
			"https://login.salesforce.com/services/oauth2/authorize", "", ""},
		{"salesforce", get("salesforce").Auth.TokenURL, map[string]string{"loginHost": "test.salesforce.com"},
			"https://test.salesforce.com/services/oauth2/token", "", ""},
		{"salesforce", get("salesforce").Auth.TokenURL, map[string]string{"loginHost": "attacker.example"},
			"", "loginHost", "invalid format"},
		{"stripe", get("stripe").Auth.Test.Headers["Authorization"], map[string]string{"apiKey": "sk_test_abcdefghij12"},
			"Bearer sk_test_abcdefghij12", "", ""},
		{"trello", get("trello").Auth.Test.Headers["Authorization"], map[string]string{"apiKey": strings.Repeat("a", 32), "token": "tok\r\nX-Evil: 1"},
			"", "token", "control characters"},
		{"bamboohr", get("bamboohr").Auth.Test.URL, map[string]string{"companyDomain": "acme"},
			"https://api.bamboohr.com/api/gateway.php/acme/v1/meta/users", "", ""},
		{"posthog", get("posthog").Auth.Test.URL, map[string]string{"apiKey": "phx_x"},
			"https://us.posthog.com/api/users/@me/", "", ""},
		{"stripe", "https://{nope}.test", nil, "", "nope", "not a field"},
	}
	for _, tt := range tests {
		got, err := get(tt.app).Expand(tt.tmpl, tt.input)
		if tt.field == "" {
			if err != nil || got != tt.want {
				t.Errorf("%s %q: got %q, %v; want %q", tt.app, tt.tmpl, got, err, tt.want)
			}
			continue
		}
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tt.field || !strings.Contains(fe.Reason, tt.reason) {
			t.Errorf("%s %q: got %q, %v; want FieldError %s %q", tt.app, tt.tmpl, got, err, tt.field, tt.reason)
			continue
		}
		for _, v := range tt.input {
			if v != "" && strings.Contains(err.Error(), v) {
				t.Errorf("error %q repeats the input value", err)
			}
		}
	}
}

func TestExpandURLRejectsStructureEvenWithLoosePattern(t *testing.T) {
	a := &App{Key: "x", Name: "X", Categories: []string{"crm"}, Auth: Auth{Type: AuthAPIKey,
		Fields: []Field{{Key: "host", Pattern: ".+"}}, Test: &TestRequest{URL: "https://{host}/me"}}}
	if _, err := New([]*App{a}); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"evil.test/x", "a@b", "a:1", "a?b", "a#b", "..", "a b"} {
		if _, err := a.Expand(a.Auth.Test.URL, map[string]string{"host": v}); err == nil {
			t.Errorf("%q accepted in a URL", v)
		}
	}
	if got, err := a.Expand(a.Auth.Test.URL, map[string]string{"host": "ok.example.com"}); err != nil || got != "https://ok.example.com/me" {
		t.Errorf("got %q %v", got, err)
	}
}

func TestValidateInput(t *testing.T) {
	c := loadBuiltin(t, false)
	fd, _ := c.Get("freshdesk")
	got, err := fd.ValidateInput(map[string]string{"subdomain": " acme ", "username": "key123", "extra": "dropped"})
	if err != nil {
		t.Fatal(err)
	}
	if got["subdomain"] != "acme" || got["password"] != "X" || got["username"] != "key123" || len(got) != 3 {
		t.Errorf("cleaned input: %v", got)
	}
	if pub := fd.PublicInput(got); len(pub) != 2 || pub["username"] != "" || pub["subdomain"] != "acme" {
		t.Errorf("public input leaks secrets or drops values: %v", pub)
	}
	var fe *FieldError
	if _, err := fd.ValidateInput(map[string]string{"subdomain": "acme"}); !errors.As(err, &fe) || fe.Field != "username" {
		t.Errorf("missing key: %v", err)
	}
	st, _ := c.Get("stripe")
	if _, err := st.ValidateInput(map[string]string{"apiKey": "pk_live_publishable0000"}); !errors.As(err, &fe) || fe.Field != "apiKey" {
		t.Errorf("publishable key accepted: %v", err)
	}
}

func TestTestRequestAccepts(t *testing.T) {
	any2xx := &TestRequest{}
	listed := &TestRequest{ExpectStatus: []int{200, 404}}
	for _, tt := range []struct {
		t      *TestRequest
		status int
		want   bool
	}{{any2xx, 200, true}, {any2xx, 204, true}, {any2xx, 301, false}, {any2xx, 401, false},
		{listed, 404, true}, {listed, 204, false}} {
		if got := tt.t.Accepts(tt.status); got != tt.want {
			t.Errorf("%v.Accepts(%d) = %v", tt.t.ExpectStatus, tt.status, got)
		}
	}
}

func TestCategoryNames(t *testing.T) {
	for _, k := range CategoryKeys() {
		if CategoryName(k) == "" {
			t.Errorf("%s has no name", k)
		}
	}
	if CategoryName("project-management") != "Project management" || CategoryName("nope") != "nope" {
		t.Error("CategoryName")
	}
}
