package sandbox

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// oauthError is an RFC 6749 5.2 error response.
type oauthError struct {
	status     int
	code       string
	desc       string
	retryAfter string
}

func errInvalidRequest(desc string) *oauthError {
	return &oauthError{status: http.StatusBadRequest, code: "invalid_request", desc: desc}
}

func errInvalidGrant(desc string) *oauthError {
	return &oauthError{status: http.StatusBadRequest, code: "invalid_grant", desc: desc}
}

func errInvalidClient() *oauthError {
	return &oauthError{status: http.StatusUnauthorized, code: "invalid_client", desc: "Client authentication failed."}
}

type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) writeError(w http.ResponseWriter, e *oauthError) {
	if e.code == "invalid_client" {
		w.Header().Set("WWW-Authenticate", `Basic realm="`+realm+`"`)
	}
	if e.retryAfter != "" {
		w.Header().Set("Retry-After", e.retryAfter)
	}
	writeJSON(w, e.status, map[string]string{"error": e.code, "error_description": e.desc})
}

// handleToken is the token endpoint (RFC 6749 3.2).
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	resp, oerr := s.token(w, r)
	if oerr != nil {
		s.mu.Lock()
		s.stats.TokenErrors++
		s.mu.Unlock()
		s.writeError(w, oerr)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) (*tokenResponse, *oauthError) {
	form, oerr := readForm(w, r)
	if oerr != nil {
		return nil, oerr
	}
	clientID, oerr := s.authenticate(r, form)
	if oerr != nil {
		return nil, oerr
	}
	switch form.Get("grant_type") {
	case "authorization_code":
		return s.exchangeCode(clientID, form)
	case "refresh_token":
		return s.refreshGrant(r, clientID, form)
	case "":
		return nil, errInvalidRequest("The grant_type parameter is missing.")
	default:
		return nil, &oauthError{status: http.StatusBadRequest, code: "unsupported_grant_type",
			desc: "Only authorization_code and refresh_token grants are supported."}
	}
}

// authenticate checks the client with the single method it registered
// (RFC 6749 2.3.1): HTTP Basic with form-urlencoded id and secret, the
// secret in the body, or for public clients the client_id alone.
func (s *Server) authenticate(r *http.Request, form url.Values) (string, *oauthError) {
	var (
		id, secret string
		method     AuthMethod
	)
	user, pass, basic := r.BasicAuth()
	switch {
	case basic:
		var err1, err2 error
		id, err1 = url.QueryUnescape(user)
		secret, err2 = url.QueryUnescape(pass)
		if err1 != nil || err2 != nil {
			return "", errInvalidClient()
		}
		if form.Has("client_secret") {
			return "", errInvalidRequest("Use one client authentication method only.")
		}
		if form.Has("client_id") && form.Get("client_id") != id {
			return "", errInvalidRequest("The client_id does not match the Authorization header.")
		}
		method = AuthBasic
	case r.Header.Get("Authorization") != "":
		return "", errInvalidClient()
	case form.Has("client_secret"):
		id, secret, method = form.Get("client_id"), form.Get("client_secret"), AuthPost
	default:
		id, method = form.Get("client_id"), AuthNone
	}
	client, ok := s.clients[id]
	if !ok || client.AuthMethod != method {
		return "", errInvalidClient()
	}
	if method != AuthNone && !equalSecret(secret, client.Secret) {
		return "", errInvalidClient()
	}
	return id, nil
}

// equalSecret compares in constant time, length included.
func equalSecret(a, b string) bool {
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}

// exchangeCode redeems an authorization code (RFC 6749 4.1.3, RFC 7636 4.6).
func (s *Server) exchangeCode(clientID string, form url.Values) (*tokenResponse, *oauthError) {
	code := form.Get("code")
	if code == "" {
		return nil, errInvalidRequest("The code parameter is missing.")
	}
	redirect, redirectGiven := form.Get("redirect_uri"), form.Has("redirect_uri")
	verifier := form.Get("code_verifier")
	accessTok, refreshTok := newToken(), newToken()

	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked()
	c, ok := s.codes[hashToken(code)]
	if !ok {
		return nil, errInvalidGrant("The authorization code is invalid.")
	}
	if c.clientID != clientID {
		return nil, errInvalidGrant("The authorization code was issued to another client.")
	}
	if c.used {
		// RFC 6749 4.1.2: deny, and revoke what the code already produced.
		s.stats.CodeReplays++
		if c.grantID != "" {
			s.revokeGrantLocked(c.grantID)
			s.log.Warn("sandbox: authorization code replayed; grant revoked", "client_id", clientID, "grant", c.grantID)
		}
		return nil, errInvalidGrant("The authorization code was already used; tokens issued from it are revoked.")
	}
	// Any redemption attempt burns the code, so a wrong verifier cannot be retried.
	c.used = true
	if !s.now().Before(c.expires) {
		return nil, errInvalidGrant("The authorization code has expired.")
	}
	if (c.redirectGiven || redirectGiven) && redirect != c.redirectURI {
		return nil, errInvalidGrant("The redirect_uri does not match the authorization request.")
	}
	if c.challenge == "" {
		// RFC 9700 2.1.1: a verifier without a challenge is refused.
		if verifier != "" {
			return nil, errInvalidGrant("A code_verifier was sent but the authorization request had no code_challenge.")
		}
	} else {
		if verifier == "" {
			return nil, errInvalidGrant("The code_verifier parameter is missing.")
		}
		sum := sha256.Sum256([]byte(verifier))
		got := base64.RawURLEncoding.EncodeToString(sum[:])
		if !validVerifier(verifier) || subtle.ConstantTimeCompare([]byte(got), []byte(c.challenge)) != 1 {
			return nil, errInvalidGrant("The code_verifier does not match the code_challenge.")
		}
	}

	g := &grant{id: newToken(), clientID: clientID, scope: c.scope}
	s.grants[g.id] = g
	c.grantID = g.id
	s.refresh[hashToken(refreshTok)] = &refreshRecord{grantID: g.id, clientID: clientID}
	resp := s.issueAccessLocked(g, c.scope, accessTok)
	resp.RefreshToken = refreshTok
	s.stats.CodeExchanges++
	return resp, nil
}

// refreshGrant redeems a refresh token (RFC 6749 6), rotating it and
// treating reuse of a rotated one as theft (RFC 9700 4.14.2).
func (s *Server) refreshGrant(r *http.Request, clientID string, form url.Values) (*tokenResponse, *oauthError) {
	presented := form.Get("refresh_token")
	if presented == "" {
		return nil, errInvalidRequest("The refresh_token parameter is missing.")
	}
	requested, ok := parseScope(form.Get("scope"))
	if !ok {
		return nil, &oauthError{status: http.StatusBadRequest, code: "invalid_scope", desc: "The scope parameter is malformed."}
	}
	accessTok, refreshTok := newToken(), newToken()

	s.mu.Lock()
	s.sweepLocked()
	rec, ok := s.refresh[hashToken(presented)]
	if !ok || rec.clientID != clientID {
		s.mu.Unlock()
		return nil, errInvalidGrant("The refresh token is invalid.")
	}
	g := s.grants[rec.grantID]
	if rec.rotated {
		rec.uses++
		s.stats.RefreshReuse++
		s.revokeGrantLocked(rec.grantID)
		s.mu.Unlock()
		s.log.Warn("sandbox: rotated refresh token reused; grant revoked", "client_id", clientID, "grant", rec.grantID)
		return nil, errInvalidGrant("The refresh token was already used; the grant is revoked.")
	}
	if g == nil || g.revoked {
		s.mu.Unlock()
		return nil, errInvalidGrant("The grant behind this refresh token is revoked.")
	}
	scope := g.scope
	if len(requested) > 0 {
		granted := strings.Fields(g.scope)
		for _, sc := range requested {
			if !slices.Contains(granted, sc) {
				s.mu.Unlock()
				return nil, &oauthError{status: http.StatusBadRequest, code: "invalid_scope",
					desc: "The requested scope exceeds the scope originally granted."}
			}
		}
		scope = strings.Join(requested, " ")
	}
	failure := s.failNext
	s.failNext = FailNone
	switch failure {
	case FailTransient:
		s.stats.InjectedFailures++
		s.mu.Unlock()
		return nil, &oauthError{status: http.StatusServiceUnavailable, code: "temporarily_unavailable",
			desc: "The server is temporarily unavailable.", retryAfter: "1"}
	case FailPermanent:
		s.stats.InjectedFailures++
		s.revokeGrantLocked(g.id)
		s.mu.Unlock()
		return nil, errInvalidGrant("The grant was revoked by the user.")
	case FailInvalidClient:
		s.stats.InjectedFailures++
		s.mu.Unlock()
		return nil, errInvalidClient()
	case FailTimeout:
		s.stats.InjectedFailures++
		delay := s.timeoutDelay
		s.mu.Unlock()
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
		}
		return nil, &oauthError{status: http.StatusGatewayTimeout, code: "temporarily_unavailable",
			desc: "The server took too long to answer."}
	}

	rec.uses++
	resp := s.issueAccessLocked(g, scope, accessTok)
	switch {
	case s.omitRefresh:
		// Like providers that never rotate: the presented token stays valid.
	case s.rotate:
		rec.rotated = true
		s.refresh[hashToken(refreshTok)] = &refreshRecord{grantID: g.id, clientID: clientID}
		resp.RefreshToken = refreshTok
	default:
		resp.RefreshToken = presented
	}
	s.stats.Refreshes++
	s.mu.Unlock()
	return resp, nil
}

func (s *Server) issueAccessLocked(g *grant, scope, token string) *tokenResponse {
	s.access[hashToken(token)] = &accessRecord{
		grantID:  g.id,
		clientID: g.clientID,
		scope:    scope,
		expires:  s.now().Add(s.accessTTL),
	}
	return &tokenResponse{
		AccessToken: token,
		TokenType:   "Bearer",
		ExpiresIn:   max(1, int(math.Ceil(s.accessTTL.Seconds()))),
		Scope:       scope,
	}
}
