package sandbox_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/hitchdev/hitch/internal/sandbox"
)

// code runs the browser part of a flow for clientID and returns a fresh
// code and its verifier.
func (e *env) code(clientID string) (code, verifier string) {
	e.t.Helper()
	verifier = oauth2.GenerateVerifier()
	q := e.authorize(e.browser(), e.config(clientID).AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)), "approve")
	return q.Get("code"), verifier
}

func TestCodeReplayRevokesTokens(t *testing.T) {
	e := newEnv(t, nil)
	conf := e.config(basicID)
	code, verifier := e.code(basicID)
	tok, err := conf.Exchange(e.ctx(), code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	_, err = conf.Exchange(e.ctx(), code, oauth2.VerifierOption(verifier))
	if oauthCode(err) != "invalid_grant" {
		t.Fatalf("replay: err = %v, want invalid_grant", err)
	}
	if e.srv.Validate(tok.AccessToken) {
		t.Error("access token from a replayed code still valid")
	}
	if _, err := e.refresh(e.ctx(), basicID, tok.RefreshToken); oauthCode(err) != "invalid_grant" {
		t.Errorf("refresh after replay: err = %v, want invalid_grant", err)
	}
	if st := e.srv.Stats(); st.CodeReplays != 1 || e.srv.Grants() != 0 {
		t.Errorf("stats = %+v grants = %d", st, e.srv.Grants())
	}
}

func TestCodeExchangeFailures(t *testing.T) {
	tests := []struct {
		name string
		// form edits the exchange; client authenticates as post-app unless auth is set.
		form   func(v url.Values)
		before func(e *env)
		auth   [2]string
		status int
		code   string
	}{
		{name: "expired code", before: func(e *env) { e.clock.Advance(61 * time.Second) }, status: 400, code: "invalid_grant"},
		{name: "just before expiry", before: func(e *env) { e.clock.Advance(59 * time.Second) }, status: 200},
		{name: "unknown code", form: func(v url.Values) { v.Set("code", "nope") }, status: 400, code: "invalid_grant"},
		{name: "missing code", form: func(v url.Values) { v.Del("code") }, status: 400, code: "invalid_request"},
		{name: "redirect mismatch", form: func(v url.Values) { v.Set("redirect_uri", otherURI) }, status: 400, code: "invalid_grant"},
		{name: "redirect omitted", form: func(v url.Values) { v.Del("redirect_uri") }, status: 400, code: "invalid_grant"},
		{name: "verifier missing", form: func(v url.Values) { v.Del("code_verifier") }, status: 400, code: "invalid_grant"},
		{name: "verifier wrong", form: func(v url.Values) { v.Set("code_verifier", oauth2.GenerateVerifier()) }, status: 400, code: "invalid_grant"},
		{name: "verifier too short", form: func(v url.Values) { v.Set("code_verifier", "abc") }, status: 400, code: "invalid_grant"},
		{name: "code of another client", auth: [2]string{basicID, basicSecret}, form: func(v url.Values) {
			v.Del("client_id")
			v.Del("client_secret")
		}, status: 400, code: "invalid_grant"},
		{name: "missing grant_type", form: func(v url.Values) { v.Del("grant_type") }, status: 400, code: "invalid_request"},
		{name: "password grant", form: func(v url.Values) { v.Set("grant_type", "password") }, status: 400, code: "unsupported_grant_type"},
		{name: "repeated parameter", form: func(v url.Values) { v.Add("code", "x") }, status: 400, code: "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			code, verifier := e.code(postID)
			if tt.before != nil {
				tt.before(e)
			}
			v := url.Values{
				"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI},
				"code_verifier": {verifier}, "client_id": {postID}, "client_secret": {postSecret},
			}
			if tt.form != nil {
				tt.form(v)
			}
			r := e.post("/token", v, tt.auth[0], tt.auth[1])
			if r.status != tt.status || r.str("error") != tt.code {
				t.Fatalf("got %d %v, want %d %q", r.status, r.json, tt.status, tt.code)
			}
			if tt.code != "" && (r.str("error_description") == "" || r.header.Get("Cache-Control") != "no-store") {
				t.Errorf("error response lacks description or no-store: %v %v", r.json, r.header)
			}
		})
	}
}

func TestFailedExchangeBurnsCode(t *testing.T) {
	e := newEnv(t, nil)
	conf := e.config(basicID)
	code, verifier := e.code(basicID)
	if _, err := conf.Exchange(e.ctx(), code, oauth2.VerifierOption(oauth2.GenerateVerifier())); oauthCode(err) != "invalid_grant" {
		t.Fatalf("wrong verifier: %v", err)
	}
	if _, err := conf.Exchange(e.ctx(), code, oauth2.VerifierOption(verifier)); oauthCode(err) != "invalid_grant" {
		t.Fatalf("retry with right verifier after a failure: %v, want invalid_grant", err)
	}
}

func TestPKCEOptional(t *testing.T) {
	e := newEnv(t, func(o *sandbox.Options) { o.PKCEOptional = true })
	conf := e.config(basicID)
	q := e.authorize(e.browser(), conf.AuthCodeURL("s"), "approve")
	// RFC 9700 2.1.1: a verifier with no challenge is refused.
	if _, err := conf.Exchange(e.ctx(), q.Get("code"), oauth2.VerifierOption(oauth2.GenerateVerifier())); oauthCode(err) != "invalid_grant" {
		t.Errorf("verifier without challenge: %v", err)
	}
	q = e.authorize(e.browser(), conf.AuthCodeURL("s"), "approve")
	if _, err := conf.Exchange(e.ctx(), q.Get("code")); err != nil {
		t.Errorf("no PKCE at all when optional: %v", err)
	}
}

func TestClientAuthentication(t *testing.T) {
	tests := []struct {
		name       string
		client     string // whose code is exchanged
		user, pass string // Basic credentials
		id, secret string // body credentials ("" = absent)
		status     int
		code       string
	}{
		{name: "basic ok (url-encoded secret)", client: basicID, user: basicID, pass: basicSecret, status: 200},
		{name: "post ok", client: postID, id: postID, secret: postSecret, status: 200},
		{name: "public ok", client: publicID, id: publicID, status: 200},
		{name: "basic wrong secret", client: basicID, user: basicID, pass: "wrong", status: 401, code: "invalid_client"},
		{name: "post wrong secret", client: postID, id: postID, secret: "wrong", status: 401, code: "invalid_client"},
		{name: "basic client using post", client: basicID, id: basicID, secret: basicSecret, status: 401, code: "invalid_client"},
		{name: "post client using basic", client: postID, user: postID, pass: postSecret, status: 401, code: "invalid_client"},
		{name: "confidential client without secret", client: postID, id: postID, status: 401, code: "invalid_client"},
		{name: "public client with secret", client: publicID, id: publicID, secret: "x", status: 401, code: "invalid_client"},
		{name: "unknown client", client: postID, id: "ghost", secret: "x", status: 401, code: "invalid_client"},
		{name: "no client at all", client: postID, status: 401, code: "invalid_client"},
		{name: "two methods", client: basicID, user: basicID, pass: basicSecret, secret: basicSecret, status: 400, code: "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			code, verifier := e.code(tt.client)
			v := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI}, "code_verifier": {verifier}}
			if tt.id != "" {
				v.Set("client_id", tt.id)
			}
			if tt.secret != "" {
				v.Set("client_secret", tt.secret)
			}
			r := e.post("/token", v, tt.user, tt.pass)
			if r.status != tt.status || r.str("error") != tt.code {
				t.Fatalf("got %d %v, want %d %q", r.status, r.json, tt.status, tt.code)
			}
			if tt.status == 401 && !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Basic ") {
				t.Errorf("401 without WWW-Authenticate: %v", r.header)
			}
		})
	}
}

func TestBasicAuthWithXOAuth2AutoDetect(t *testing.T) {
	e := newEnv(t, nil)
	conf := e.config(basicID)
	conf.Endpoint.AuthStyle = oauth2.AuthStyleAutoDetect
	code, verifier := e.code(basicID)
	if _, err := conf.Exchange(e.ctx(), code, oauth2.VerifierOption(verifier)); err != nil {
		t.Fatalf("exchange with auto-detected auth style: %v", err)
	}
}

func TestRefreshRotationAndReuse(t *testing.T) {
	e := newEnv(t, nil)
	first := e.login(basicID)

	second, err := e.refresh(e.ctx(), basicID, first.RefreshToken)
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if second.RefreshToken == first.RefreshToken || second.AccessToken == first.AccessToken {
		t.Fatal("refresh did not rotate tokens")
	}
	if got := second.Extra("scope"); got != "contacts.read contacts.write" {
		t.Errorf("scope after refresh = %v", got)
	}
	third, err := e.refresh(e.ctx(), basicID, second.RefreshToken)
	if err != nil {
		t.Fatalf("second refresh: %v", err)
	}
	if n := e.srv.MaxRefreshTokenUses(); n != 1 {
		t.Errorf("MaxRefreshTokenUses = %d before any reuse", n)
	}

	// Presenting a rotated token revokes the whole grant.
	if _, err := e.refresh(e.ctx(), basicID, first.RefreshToken); oauthCode(err) != "invalid_grant" {
		t.Fatalf("reuse: err = %v, want invalid_grant", err)
	}
	if _, err := e.refresh(e.ctx(), basicID, third.RefreshToken); oauthCode(err) != "invalid_grant" {
		t.Errorf("current token after reuse: err = %v, want invalid_grant", err)
	}
	if e.srv.Validate(third.AccessToken) {
		t.Error("access token survives reuse detection")
	}
	st := e.srv.Stats()
	if st.Refreshes != 2 || st.RefreshReuse != 1 || e.srv.Grants() != 0 {
		t.Errorf("stats = %+v grants = %d", st, e.srv.Grants())
	}
	if got := e.srv.RefreshTokenUses(first.RefreshToken); got != 2 {
		t.Errorf("RefreshTokenUses(first) = %d, want 2", got)
	}
	if got := e.srv.RefreshTokenUses(third.RefreshToken); got != 0 {
		t.Errorf("RefreshTokenUses(third) = %d, want 0", got)
	}
	if e.srv.MaxRefreshTokenUses() != 2 {
		t.Errorf("MaxRefreshTokenUses = %d", e.srv.MaxRefreshTokenUses())
	}
}

func TestRefreshOfOtherClientIsRefused(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.login(basicID)
	if _, err := e.refresh(e.ctx(), postID, tok.RefreshToken); oauthCode(err) != "invalid_grant" {
		t.Fatalf("err = %v, want invalid_grant", err)
	}
	if _, err := e.refresh(e.ctx(), basicID, tok.RefreshToken); err != nil {
		t.Fatalf("owner refresh afterwards: %v", err)
	}
}

func TestRotationOff(t *testing.T) {
	e := newEnv(t, func(o *sandbox.Options) { o.DisableRotation = true })
	tok := e.login(basicID)
	for i := range 3 {
		got, err := e.refresh(e.ctx(), basicID, tok.RefreshToken)
		if err != nil {
			t.Fatalf("refresh %d: %v", i, err)
		}
		if got.RefreshToken != tok.RefreshToken {
			t.Fatalf("refresh %d changed the refresh token", i)
		}
	}
	e.srv.SetRotate(true)
	got, err := e.refresh(e.ctx(), basicID, tok.RefreshToken)
	if err != nil || got.RefreshToken == tok.RefreshToken {
		t.Fatalf("after SetRotate(true): %v, rotated=%v", err, got != nil && got.RefreshToken != tok.RefreshToken)
	}
	if e.srv.Stats().RefreshReuse != 0 {
		t.Error("reuse counted while rotation was off")
	}
}

func TestOmitRefreshToken(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.login(postID)
	e.srv.SetOmitRefreshToken(true)
	for i := range 2 {
		r := e.post("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken},
			"client_id": {postID}, "client_secret": {postSecret}}, "", "")
		if r.status != 200 {
			t.Fatalf("refresh %d: %d %v", i, r.status, r.json)
		}
		if _, ok := r.json["refresh_token"]; ok {
			t.Fatalf("refresh %d returned a refresh_token: %v", i, r.json)
		}
	}
	e.srv.SetOmitRefreshToken(false)
	next, err := e.refresh(e.ctx(), postID, tok.RefreshToken)
	if err != nil || next.RefreshToken == tok.RefreshToken {
		t.Fatalf("rotation after omit: %v", err)
	}
}

func TestRefreshScope(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.login(postID)
	base := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {postID}, "client_secret": {postSecret}}
	wider := url.Values{"scope": {"contacts.read admin"}}
	for k, v := range base {
		wider[k] = v
	}
	if r := e.post("/token", wider, "", ""); r.status != 400 || r.str("error") != "invalid_scope" {
		t.Fatalf("wider scope: %d %v", r.status, r.json)
	}
	narrow := url.Values{"scope": {"contacts.read"}}
	for k, v := range base {
		narrow[k] = v
	}
	r := e.post("/token", narrow, "", "")
	if r.status != 200 || r.str("scope") != "contacts.read" {
		t.Fatalf("narrow scope: %d %v", r.status, r.json)
	}
	// The grant keeps its full scope for the next refresh.
	next, err := e.refresh(e.ctx(), postID, r.str("refresh_token"))
	if err != nil || next.Extra("scope") != "contacts.read contacts.write" {
		t.Fatalf("refresh after narrowing: %v scope %v", err, next)
	}
}

func TestFailureSwitches(t *testing.T) {
	tests := []struct {
		kind      sandbox.Failure
		status    int
		code      string
		survives  bool // the grant still works afterwards
		withRetry bool // Retry-After is sent
	}{
		{kind: sandbox.FailTransient, status: 503, code: "temporarily_unavailable", survives: true, withRetry: true},
		{kind: sandbox.FailPermanent, status: 400, code: "invalid_grant"},
		{kind: sandbox.FailInvalidClient, status: 401, code: "invalid_client", survives: true},
		{kind: sandbox.FailTimeout, status: 504, code: "temporarily_unavailable", survives: true},
	}
	for _, tt := range tests {
		t.Run(string(tt.kind), func(t *testing.T) {
			e := newEnv(t, nil)
			e.srv.SetTimeoutDelay(50 * time.Millisecond)
			tok := e.login(basicID)
			if err := e.srv.FailNextRefresh(tt.kind); err != nil {
				t.Fatal(err)
			}
			_, err := e.refresh(e.ctx(), basicID, tok.RefreshToken)
			if retrieveStatus(err) != tt.status || oauthCode(err) != tt.code {
				t.Fatalf("err = %v, want %d %s", err, tt.status, tt.code)
			}
			var re *oauth2.RetrieveError
			errors.As(err, &re)
			if got := re.Response.Header.Get("Retry-After") != ""; got != tt.withRetry {
				t.Errorf("Retry-After present = %v", got)
			}
			if n := e.srv.RefreshTokenUses(tok.RefreshToken); n != 0 {
				t.Errorf("failed refresh counted as a use: %d", n)
			}
			_, err = e.refresh(e.ctx(), basicID, tok.RefreshToken)
			if tt.survives && err != nil {
				t.Errorf("the failure was not one-shot: %v", err)
			}
			if !tt.survives && oauthCode(err) != "invalid_grant" {
				t.Errorf("grant not revoked: %v", err)
			}
			if st := e.srv.Stats(); st.InjectedFailures != 1 || st.RefreshReuse != 0 {
				t.Errorf("stats = %+v", st)
			}
		})
	}
}

func TestTimeoutFailureHonoursClientDeadline(t *testing.T) {
	e := newEnv(t, nil)
	e.srv.SetTimeoutDelay(10 * time.Second)
	tok := e.login(basicID)
	if err := e.srv.FailNextRefresh(sandbox.FailTimeout); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(e.ctx(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := e.refresh(ctx, basicID, tok.RefreshToken)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("client waited for the whole delay")
	}
	if _, err := e.refresh(e.ctx(), basicID, tok.RefreshToken); err != nil {
		t.Fatalf("refresh after timeout: %v", err)
	}
}

func TestFailNextRefreshUnknownKind(t *testing.T) {
	e := newEnv(t, nil)
	if err := e.srv.FailNextRefresh("meltdown"); !errors.Is(err, sandbox.ErrUnknownFailure) {
		t.Fatalf("err = %v", err)
	}
}

func TestAccessTokenTTL(t *testing.T) {
	e := newEnv(t, func(o *sandbox.Options) { o.AccessTokenTTL = 2 * time.Second })
	tok := e.login(basicID)
	if got := tok.Extra("expires_in"); got != float64(2) {
		t.Errorf("expires_in = %v", got)
	}
	if !e.srv.Validate(tok.AccessToken) {
		t.Fatal("fresh token invalid")
	}
	e.clock.Advance(2 * time.Second)
	if e.srv.Validate(tok.AccessToken) {
		t.Fatal("token valid at expiry")
	}
	req, _ := http.NewRequest(http.MethodGet, e.issuer+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r := toRaw(t, resp)
	if r.status != 401 || !strings.Contains(r.header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Errorf("userinfo with expired token: %d %v", r.status, r.header)
	}
	e.srv.SetAccessTokenTTL(time.Minute)
	next, err := e.refresh(e.ctx(), basicID, tok.RefreshToken)
	if err != nil || next.Extra("expires_in") != float64(60) || !e.srv.Validate(next.AccessToken) {
		t.Fatalf("refresh after expiry: %v", err)
	}
}
