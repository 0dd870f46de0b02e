package sandbox_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hitchdev/hitch/internal/sandbox"
)

func TestRevoke(t *testing.T) {
	tests := []struct {
		name        string
		token       func(access, refresh string) string
		user, pass  string
		status      int
		accessValid bool // after the call
		canRefresh  bool // after the call
	}{
		{name: "access token", token: func(a, _ string) string { return a }, user: basicID, pass: basicSecret,
			status: 200, canRefresh: true},
		{name: "refresh token ends the grant", token: func(_, r string) string { return r }, user: basicID, pass: basicSecret,
			status: 200},
		{name: "unknown token", token: func(string, string) string { return "nope" }, user: basicID, pass: basicSecret,
			status: 200, accessValid: true, canRefresh: true},
		{name: "token of another client", token: func(_, r string) string { return r }, user: multiID, pass: multiSecret,
			status: 200, accessValid: true, canRefresh: true},
		{name: "wrong secret", token: func(_, r string) string { return r }, user: basicID, pass: "wrong",
			status: 401, accessValid: true, canRefresh: true},
		{name: "missing token", token: func(string, string) string { return "" }, user: basicID, pass: basicSecret,
			status: 400, accessValid: true, canRefresh: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			tok := e.login(basicID)
			form := url.Values{"token_type_hint": {"access_token"}}
			if v := tt.token(tok.AccessToken, tok.RefreshToken); v != "" {
				form.Set("token", v)
			}
			r := e.post("/revoke", form, tt.user, tt.pass)
			if r.status != tt.status {
				t.Fatalf("status %d %v, want %d", r.status, r.json, tt.status)
			}
			if tt.status == 401 && r.header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			if got := e.srv.Validate(tok.AccessToken); got != tt.accessValid {
				t.Errorf("access token valid = %v, want %v", got, tt.accessValid)
			}
			_, err := e.refresh(e.ctx(), basicID, tok.RefreshToken)
			if got := err == nil; got != tt.canRefresh {
				t.Errorf("refresh works = %v (%v), want %v", got, err, tt.canRefresh)
			}
		})
	}
}

func TestUserinfoAuth(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.login(publicID)
	tests := []struct {
		name, header string
		status       int
		challenge    string
	}{
		{"valid", "Bearer " + tok.AccessToken, 200, ""},
		{"lower-case scheme", "bearer " + tok.AccessToken, 200, ""},
		{"missing", "", 401, `Bearer realm=`},
		{"basic scheme", "Basic Zm9vOmJhcg==", 401, `Bearer realm=`},
		{"unknown token", "Bearer nope", 401, `error="invalid_token"`},
		{"refresh token", "Bearer " + tok.RefreshToken, 401, `error="invalid_token"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, e.issuer+"/userinfo", nil)
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			resp, err := e.ts.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			r := toRaw(t, resp)
			if r.status != tt.status || !strings.Contains(r.header.Get("WWW-Authenticate"), tt.challenge) {
				t.Fatalf("got %d %q", r.status, r.header.Get("WWW-Authenticate"))
			}
			if tt.status == 200 && (r.str("sub") != "sandbox-user" || r.str("name") != "Sandbox User") {
				t.Errorf("body = %v", r.json)
			}
		})
	}
}

func TestMetadata(t *testing.T) {
	e := newEnv(t, nil)
	resp, err := e.ts.Client().Get(e.issuer + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	r := toRaw(t, resp)
	if r.status != 200 {
		t.Fatalf("status %d", r.status)
	}
	for k, want := range map[string]string{
		"issuer":                 e.issuer,
		"authorization_endpoint": e.issuer + "/authorize",
		"token_endpoint":         e.issuer + "/token",
		"revocation_endpoint":    e.issuer + "/revoke",
		"userinfo_endpoint":      e.issuer + "/userinfo",
	} {
		if r.str(k) != want {
			t.Errorf("%s = %q, want %q", k, r.str(k), want)
		}
	}
	if r.json["authorization_response_iss_parameter_supported"] != true {
		t.Error("iss support not advertised")
	}
	if m, _ := r.json["code_challenge_methods_supported"].([]any); len(m) != 1 || m[0] != "S256" {
		t.Errorf("code_challenge_methods_supported = %v", r.json["code_challenge_methods_supported"])
	}
	// Every advertised endpoint must answer.
	for _, k := range []string{"token_endpoint", "revocation_endpoint"} {
		resp, err := e.ts.Client().Post(r.str(k), "application/x-www-form-urlencoded", nil)
		if err != nil {
			t.Fatal(err)
		}
		readBody(t, resp)
		if resp.StatusCode == http.StatusNotFound {
			t.Errorf("%s is not served", k)
		}
	}
}

func TestUnknownRouteAndMethod(t *testing.T) {
	e := newEnv(t, nil)
	resp, err := e.ts.Client().Get(e.issuer + "/token")
	if err != nil {
		t.Fatal(err)
	}
	readBody(t, resp)
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /token = %d", resp.StatusCode)
	}
	resp, err = e.ts.Client().Get(e.issuer + "/nope")
	if err != nil {
		t.Fatal(err)
	}
	readBody(t, resp)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /nope = %d", resp.StatusCode)
	}
}

func (e *env) control(body, contentType string, extra http.Header) rawResp {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.issuer+"/control", strings.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	for k, v := range extra {
		req.Header[k] = v
	}
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	return toRaw(e.t, resp)
}

func TestControl(t *testing.T) {
	tests := []struct {
		name, body, ctype string
		header            http.Header
		status            int
	}{
		{"form body", "rotateRefreshTokens=false", "application/x-www-form-urlencoded", nil, 415},
		{"unknown field", `{"explode":true}`, "application/json", nil, 400},
		{"unknown failure", `{"failNextRefresh":"meltdown"}`, "application/json", nil, 400},
		{"zero ttl", `{"accessTokenTTL":"0s"}`, "application/json", nil, 400},
		{"cross-site", `{"rotateRefreshTokens":false}`, "application/json", http.Header{"Sec-Fetch-Site": {"cross-site"}}, 403},
		{"ok", `{"rotateRefreshTokens":false,"accessTokenTTL":2,"timeoutDelay":"1s","omitRefreshToken":true,"failNextRefresh":"transient"}`,
			"application/json", nil, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			r := e.control(tt.body, tt.ctype, tt.header)
			if r.status != tt.status {
				t.Fatalf("status %d %v, want %d", r.status, r.json, tt.status)
			}
			resp, err := e.ts.Client().Get(e.issuer + "/control")
			if err != nil {
				t.Fatal(err)
			}
			st := toRaw(t, resp)
			changed := st.json["rotateRefreshTokens"] == false
			if changed != (tt.status == 200) {
				t.Errorf("state = %v after status %d", st.json, r.status)
			}
			if tt.status == 200 && (st.str("accessTokenTTL") != "2s" || st.str("timeoutDelay") != "1s" ||
				st.json["omitRefreshToken"] != true || st.str("failNextRefresh") != "transient") {
				t.Errorf("state = %v", st.json)
			}
		})
	}
}

func TestControlDrivesRefresh(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.login(basicID)
	if r := e.control(`{"failNextRefresh":"permanent"}`, "application/json", nil); r.status != 200 {
		t.Fatalf("control: %d %v", r.status, r.json)
	}
	if _, err := e.refresh(e.ctx(), basicID, tok.RefreshToken); oauthCode(err) != "invalid_grant" {
		t.Fatalf("err = %v", err)
	}
	if e.srv.Grants() != 0 {
		t.Error("grant survived a permanent failure")
	}
}

func TestAPIKeyHandler(t *testing.T) {
	e := newEnv(t, nil)
	tests := []struct {
		name   string
		header http.Header
		status int
	}{
		{"bearer", http.Header{"Authorization": {"Bearer sandbox-good"}}, 200},
		{"x-api-key", http.Header{"X-Api-Key": {"sandbox-good"}}, 200},
		{"wrong bearer", http.Header{"Authorization": {"Bearer sandbox-bad"}}, 401},
		{"wrong key", http.Header{"X-Api-Key": {"sandbox-goodx"}}, 401},
		{"basic", http.Header{"Authorization": {"Basic sandbox-good"}}, 401},
		{"none", nil, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, e.ts.URL+"/sandbox/apikey/whoami", nil)
			for k, v := range tt.header {
				req.Header[k] = v
			}
			resp, err := e.ts.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			r := toRaw(t, resp)
			if r.status != tt.status {
				t.Fatalf("status %d", r.status)
			}
			if tt.status == 200 && r.str("account") != "Sandbox Inc." {
				t.Errorf("body = %v", r.json)
			}
			if tt.status == 401 && (r.str("error") != "invalid_api_key" || r.str("message") != "The API key is not valid.") {
				t.Errorf("body = %v", r.json)
			}
		})
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	good := map[string]sandbox.Client{"c": {Secret: "s", RedirectURIs: []string{redirectURI}}}
	tests := []struct {
		name string
		opts sandbox.Options
	}{
		{"relative issuer", sandbox.Options{Issuer: "/sandbox", Clients: good}},
		{"issuer with query", sandbox.Options{Issuer: "http://x/a?b=1", Clients: good}},
		{"no redirect", sandbox.Options{Issuer: "http://x", Clients: map[string]sandbox.Client{"c": {Secret: "s"}}}},
		{"fragment redirect", sandbox.Options{Issuer: "http://x", Clients: map[string]sandbox.Client{
			"c": {Secret: "s", RedirectURIs: []string{"http://x/cb#f"}}}}},
		{"basic without secret", sandbox.Options{Issuer: "http://x", Clients: map[string]sandbox.Client{
			"c": {AuthMethod: sandbox.AuthBasic, RedirectURIs: []string{redirectURI}}}}},
		{"bad method", sandbox.Options{Issuer: "http://x", Clients: map[string]sandbox.Client{
			"c": {Secret: "s", AuthMethod: "private_key_jwt", RedirectURIs: []string{redirectURI}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("New accepted bad options")
				}
			}()
			sandbox.New(tt.opts)
		})
	}
	if s := sandbox.New(sandbox.Options{Issuer: "https://x/sb/", Clients: good}); s.Issuer() != "https://x/sb" {
		t.Errorf("Issuer() = %q", s.Issuer())
	}
}

func TestSweepKeepsLiveState(t *testing.T) {
	e := newEnv(t, func(o *sandbox.Options) { o.AccessTokenTTL = time.Hour })
	tok := e.login(basicID)
	e.clock.Advance(30 * time.Minute)
	e.login(postID) // triggers a sweep
	if !e.srv.Validate(tok.AccessToken) {
		t.Fatal("sweep dropped a live access token")
	}
	e.clock.Advance(2 * time.Hour)
	e.login(postID)
	if _, err := e.refresh(e.ctx(), basicID, tok.RefreshToken); err != nil {
		t.Fatalf("sweep dropped a live grant: %v", err)
	}
}
