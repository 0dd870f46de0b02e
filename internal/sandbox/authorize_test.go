package sandbox_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/hitchdev/hitch/internal/sandbox"
)

func TestCodeFlow(t *testing.T) {
	e := newEnv(t, nil)
	conf := e.config(basicID)
	verifier := oauth2.GenerateVerifier()
	q := e.authorize(e.browser(), conf.AuthCodeURL("state-123", oauth2.S256ChallengeOption(verifier)), "approve")

	if got := q.Get("state"); got != "state-123" {
		t.Errorf("state = %q, want state-123", got)
	}
	if got := q.Get("iss"); got != e.issuer {
		t.Errorf("iss = %q, want %q", got, e.issuer)
	}
	if q.Get("code") == "" {
		t.Fatal("no code in callback")
	}
	tok, err := conf.Exchange(e.ctx(), q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if tok.TokenType != "Bearer" || tok.RefreshToken == "" || tok.AccessToken == "" {
		t.Errorf("token = %+v, want Bearer with access and refresh tokens", tok)
	}
	if got := tok.Extra("scope"); got != "contacts.read contacts.write" {
		t.Errorf("scope = %v", got)
	}
	if got := tok.Extra("expires_in"); got != float64(3600) {
		t.Errorf("expires_in = %v, want 3600", got)
	}
	if !e.srv.Validate(tok.AccessToken) {
		t.Error("Validate(access token) = false")
	}
	if e.srv.Validate(tok.RefreshToken) {
		t.Error("a refresh token validates as an access token")
	}

	resp, err := conf.Client(e.ctx(), tok).Get(e.issuer + "/userinfo")
	if err != nil {
		t.Fatal(err)
	}
	info := toRaw(t, resp)
	if info.status != http.StatusOK || info.str("sub") == "" || info.str("name") != "Sandbox User" {
		t.Errorf("userinfo = %d %v", info.status, info.json)
	}

	st := e.srv.Stats()
	if st.AuthorizeCalls != 1 || st.Approvals != 1 || st.CodeExchanges != 1 || e.srv.Grants() != 1 {
		t.Errorf("stats = %+v, grants = %d", st, e.srv.Grants())
	}
}

func TestTokenResponseHeaders(t *testing.T) {
	e := newEnv(t, nil)
	verifier := oauth2.GenerateVerifier()
	q := e.authorize(e.browser(), e.config(postID).AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)), "approve")
	r := e.post("/token", url.Values{
		"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {redirectURI},
		"code_verifier": {verifier}, "client_id": {postID}, "client_secret": {postSecret},
	}, "", "")
	if r.status != http.StatusOK {
		t.Fatalf("status %d %v", r.status, r.json)
	}
	if got := r.header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q", got)
	}
	if !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Errorf("Content-Type = %q", r.header.Get("Content-Type"))
	}
	for _, k := range []string{"access_token", "refresh_token", "scope"} {
		if len(r.str(k)) == 0 {
			t.Errorf("%s missing in %v", k, r.json)
		}
	}
	if len(r.str("access_token")) != 43 {
		t.Errorf("access token %q is not 32 bytes base64url", r.str("access_token"))
	}
	if r.str("token_type") != "Bearer" || r.json["expires_in"] != float64(3600) {
		t.Errorf("token_type/expires_in = %v", r.json)
	}
}

func TestConsentPage(t *testing.T) {
	e := newEnv(t, nil)
	b := e.browser()
	f := e.openConsent(b, e.config(basicID).AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))

	if !strings.Contains(f.body, "Basic &lt;App&gt;") {
		t.Error("client name missing or not escaped")
	}
	for _, s := range []string{"contacts.read", "contacts.write", "Approve", "Deny"} {
		if !strings.Contains(f.body, s) {
			t.Errorf("page lacks %q", s)
		}
	}
	csp := f.header.Get("Content-Security-Policy")
	nonce := regexp.MustCompile(`'nonce-([^']+)'`).FindStringSubmatch(csp)
	if nonce == nil || !strings.Contains(f.body, `<style nonce="`+nonce[1]+`">`) {
		t.Errorf("CSP %q has no nonce matching the page's style", csp)
	}
	for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'", "form-action 'self' http://127.0.0.1:9"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP allows unsafe-inline: %q", csp)
	}
	if f.header.Get("X-Frame-Options") != "DENY" || f.header.Get("Cache-Control") != "no-store" {
		t.Errorf("headers = %v", f.header)
	}
	cookie := f.header.Get("Set-Cookie")
	for _, want := range []string{"hitch_", "HttpOnly", "SameSite=Lax", "Path=/sandbox/oauth/authorize"} {
		if !strings.Contains(cookie, want) {
			t.Errorf("Set-Cookie %q lacks %q", cookie, want)
		}
	}
	// A second page gets a fresh nonce.
	g := e.openConsent(b, e.config(basicID).AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	if g.header.Get("Content-Security-Policy") == csp || g.csrf == f.csrf || g.requestID == f.requestID {
		t.Error("nonce, CSRF token or request id reused across pages")
	}
}

func TestDeny(t *testing.T) {
	e := newEnv(t, nil)
	conf := e.config(basicID)
	q := e.authorize(e.browser(), conf.AuthCodeURL("xyz", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), "deny")
	if q.Get("error") != "access_denied" || q.Get("state") != "xyz" || q.Get("iss") != e.issuer || q.Get("error_description") == "" {
		t.Errorf("callback = %v", q)
	}
	if q.Has("code") {
		t.Error("deny returned a code")
	}
	if st := e.srv.Stats(); st.Denials != 1 || st.Approvals != 0 {
		t.Errorf("stats = %+v", st)
	}
}

func TestOmitIss(t *testing.T) {
	e := newEnv(t, func(o *sandbox.Options) { o.OmitIss = true })
	q := e.authorize(e.browser(), e.config(basicID).AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), "approve")
	if q.Has("iss") {
		t.Errorf("iss sent although OmitIss: %v", q)
	}
}

func TestRedirectKeepsQuery(t *testing.T) {
	e := newEnv(t, nil)
	conf := e.config(multiID)
	conf.RedirectURL = otherURI
	b := e.browser()
	resp := e.submit(b, e.openConsent(b, conf.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))), "approve", nil)
	readBody(t, resp)
	q := callbackQuery(t, resp, "http://127.0.0.1:9/other")
	if q.Get("keep") != "1" || q.Get("code") == "" || q.Get("state") != "s" {
		t.Errorf("callback = %v", q)
	}
}

func TestAuthorizeErrors(t *testing.T) {
	e := newEnv(t, nil)
	challenge := oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())
	base := func() url.Values {
		return url.Values{
			"client_id": {basicID}, "redirect_uri": {redirectURI}, "response_type": {"code"},
			"state": {"st"}, "scope": {"a b"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"},
		}
	}
	tests := []struct {
		name     string
		edit     func(url.Values)
		rawQuery string // appended verbatim, for repeated parameters
		page     int    // status of an error page that must not redirect
		code     string // error code expected in the redirect
	}{
		{name: "no client_id", edit: func(v url.Values) { v.Del("client_id") }, page: 400},
		{name: "unknown client", edit: func(v url.Values) { v.Set("client_id", "nope") }, page: 400},
		{name: "redirect mismatch", edit: func(v url.Values) { v.Set("redirect_uri", redirectURI+"/x") }, page: 400},
		{name: "redirect prefix trick", edit: func(v url.Values) { v.Set("redirect_uri", "http://127.0.0.1:9/callback?x=1") }, page: 400},
		{name: "redirect case differs", edit: func(v url.Values) { v.Set("redirect_uri", "http://127.0.0.1:9/Callback") }, page: 400},
		{name: "redirect repeated", rawQuery: "redirect_uri=" + url.QueryEscape(redirectURI), page: 400},
		{name: "several registered, none given", edit: func(v url.Values) { v.Set("client_id", multiID); v.Del("redirect_uri") }, page: 400},
		{name: "missing response_type", edit: func(v url.Values) { v.Del("response_type") }, code: "invalid_request"},
		{name: "token response_type", edit: func(v url.Values) { v.Set("response_type", "token") }, code: "unsupported_response_type"},
		{name: "forbidden scope", edit: func(v url.Values) { v.Set("scope", "a forbidden") }, code: "invalid_scope"},
		{name: "malformed scope", edit: func(v url.Values) { v.Set("scope", `a"b`) }, code: "invalid_scope"},
		{name: "no PKCE", edit: func(v url.Values) { v.Del("code_challenge"); v.Del("code_challenge_method") }, code: "invalid_request"},
		{name: "plain PKCE", edit: func(v url.Values) { v.Set("code_challenge_method", "plain") }, code: "invalid_request"},
		{name: "method omitted means plain", edit: func(v url.Values) { v.Del("code_challenge_method") }, code: "invalid_request"},
		{name: "bad challenge", edit: func(v url.Values) { v.Set("code_challenge", "short") }, code: "invalid_request"},
		{name: "repeated scope", rawQuery: "scope=c", code: "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := base()
			if tt.edit != nil {
				tt.edit(v)
			}
			u := e.issuer + "/authorize?" + v.Encode()
			if tt.rawQuery != "" {
				u += "&" + tt.rawQuery
			}
			resp, err := e.browser().Get(u)
			if err != nil {
				t.Fatal(err)
			}
			body := readBody(t, resp)
			if tt.page != 0 {
				if resp.StatusCode != tt.page || resp.Header.Get("Location") != "" {
					t.Fatalf("status %d Location %q, want error page %d", resp.StatusCode, resp.Header.Get("Location"), tt.page)
				}
				if !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") || !strings.Contains(body, "cannot continue") {
					t.Errorf("error page headers/body wrong: %v", resp.Header)
				}
				return
			}
			if resp.StatusCode != http.StatusFound {
				t.Fatalf("status %d, want redirect; body %s", resp.StatusCode, body)
			}
			q := callbackQuery(t, resp, redirectURI)
			if q.Get("error") != tt.code || q.Get("state") != "st" || q.Get("iss") != e.issuer || q.Get("error_description") == "" {
				t.Errorf("callback = %v, want error %s with state and iss", q, tt.code)
			}
		})
	}
}

func TestPKCEOptionalStillRequiredForPublicClients(t *testing.T) {
	e := newEnv(t, func(o *sandbox.Options) { o.PKCEOptional = true })
	for _, tc := range []struct {
		client string
		want   int
	}{{basicID, http.StatusOK}, {publicID, http.StatusFound}} {
		resp, err := e.browser().Get(e.config(tc.client).AuthCodeURL("s"))
		if err != nil {
			t.Fatal(err)
		}
		readBody(t, resp)
		if resp.StatusCode != tc.want {
			t.Errorf("%s without PKCE: status %d, want %d", tc.client, resp.StatusCode, tc.want)
		}
	}
}

func TestDecisionChecks(t *testing.T) {
	authURL := func(e *env) string {
		return e.config(basicID).AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))
	}
	tests := []struct {
		name   string
		run    func(e *env) *http.Response
		status int
	}{
		{"wrong csrf", func(e *env) *http.Response {
			b := e.browser()
			f := e.openConsent(b, authURL(e))
			f.csrf = strings.Repeat("A", 43)
			return e.submit(b, f, "approve", nil)
		}, http.StatusForbidden},
		{"csrf of another request", func(e *env) *http.Response {
			b := e.browser()
			f := e.openConsent(b, authURL(e))
			g := e.openConsent(b, authURL(e))
			f.csrf = g.csrf
			return e.submit(b, f, "approve", nil)
		}, http.StatusForbidden},
		{"other browser", func(e *env) *http.Response {
			f := e.openConsent(e.browser(), authURL(e))
			return e.submit(e.browser(), f, "approve", nil)
		}, http.StatusForbidden},
		{"cross-site post", func(e *env) *http.Response {
			b := e.browser()
			f := e.openConsent(b, authURL(e))
			return e.submit(b, f, "approve", http.Header{"Sec-Fetch-Site": {"cross-site"}})
		}, http.StatusForbidden},
		{"foreign origin", func(e *env) *http.Response {
			b := e.browser()
			f := e.openConsent(b, authURL(e))
			return e.submit(b, f, "approve", http.Header{"Origin": {"https://evil.example"}})
		}, http.StatusForbidden},
		{"answered twice", func(e *env) *http.Response {
			b := e.browser()
			f := e.openConsent(b, authURL(e))
			readBody(e.t, e.submit(b, f, "approve", nil))
			return e.submit(b, f, "deny", nil)
		}, http.StatusBadRequest},
		{"expired", func(e *env) *http.Response {
			b := e.browser()
			f := e.openConsent(b, authURL(e))
			e.clock.Advance(11 * time.Minute)
			return e.submit(b, f, "approve", nil)
		}, http.StatusBadRequest},
		{"no decision", func(e *env) *http.Response {
			b := e.browser()
			f := e.openConsent(b, authURL(e))
			return e.submit(b, f, "maybe", nil)
		}, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			resp := tt.run(e)
			readBody(t, resp)
			if resp.StatusCode != tt.status || resp.Header.Get("Location") != "" {
				t.Errorf("status %d Location %q, want %d without redirect", resp.StatusCode, resp.Header.Get("Location"), tt.status)
			}
		})
	}
}

func TestSameOriginPostAccepted(t *testing.T) {
	e := newEnv(t, nil)
	b := e.browser()
	f := e.openConsent(b, e.config(basicID).AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	resp := e.submit(b, f, "approve", http.Header{"Sec-Fetch-Site": {"same-origin"}, "Origin": {e.ts.URL}})
	readBody(t, resp)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("status %d", resp.StatusCode)
	}
}
