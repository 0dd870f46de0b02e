package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// handleRevoke is the RFC 7009 revocation endpoint. Unknown tokens, and
// tokens of another client, get 200 without effect (RFC 7009 2.2), so the
// answer reveals nothing about them.
func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) {
	var clientID string
	form, oerr := readForm(w, r)
	if oerr == nil {
		clientID, oerr = s.authenticate(r, form)
	}
	if oerr != nil {
		s.writeError(w, oerr)
		return
	}
	tok := form.Get("token")
	if tok == "" {
		s.writeError(w, errInvalidRequest("The token parameter is missing."))
		return
	}
	h := hashToken(tok)
	s.mu.Lock()
	// The hint only orders the lookup; both kinds are always searched.
	if rec, ok := s.refresh[h]; ok && rec.clientID == clientID {
		// Revoking a refresh token ends the whole grant (RFC 7009 2.1).
		if g := s.grants[rec.grantID]; g != nil && !g.revoked {
			s.revokeGrantLocked(rec.grantID)
			s.stats.Revocations++
		}
	} else if at, ok := s.access[h]; ok && at.clientID == clientID && !at.revoked {
		at.revoked = true
		s.stats.Revocations++
	}
	s.mu.Unlock()
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// handleUserinfo answers a Bearer access token (RFC 6750 2.1) with the one
// sandbox user.
func (s *Server) handleUserinfo(w http.ResponseWriter, r *http.Request) {
	tok, ok := bearer(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="`+realm+`"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_request",
			"error_description": "An access token is required."})
		return
	}
	s.mu.Lock()
	_, valid := s.validAccessLocked(tok)
	s.mu.Unlock()
	if !valid {
		w.Header().Set("WWW-Authenticate", `Bearer realm="`+realm+
			`", error="invalid_token", error_description="The access token is invalid or expired."`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token",
			"error_description": "The access token is invalid or expired."})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"sub": subject, "name": subjectName})
}

// bearer extracts the token of an Authorization: Bearer header; the scheme
// is case-insensitive (RFC 9110 11.1).
func bearer(r *http.Request) (string, bool) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

type metadata struct {
	Issuer                            string   `json:"issuer"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	RevocationEndpoint                string   `json:"revocation_endpoint"`
	UserinfoEndpoint                  string   `json:"userinfo_endpoint"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	ResponseModesSupported            []string `json:"response_modes_supported"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	RevocationEndpointAuthMethods     []string `json:"revocation_endpoint_auth_methods_supported"`
	CodeChallengeMethodsSupported     []string `json:"code_challenge_methods_supported"`
	AuthorizationResponseIssSupported bool     `json:"authorization_response_iss_parameter_supported"`
}

// handleMetadata serves RFC 8414 authorization server metadata.
func (s *Server) handleMetadata(w http.ResponseWriter, r *http.Request) {
	methods := []string{string(AuthBasic), string(AuthPost), string(AuthNone)}
	writeJSON(w, http.StatusOK, metadata{
		Issuer:                            s.issuer,
		AuthorizationEndpoint:             s.issuer + "/authorize",
		TokenEndpoint:                     s.issuer + "/token",
		RevocationEndpoint:                s.issuer + "/revoke",
		UserinfoEndpoint:                  s.issuer + "/userinfo",
		ResponseTypesSupported:            []string{"code"},
		ResponseModesSupported:            []string{"query"},
		GrantTypesSupported:               []string{"authorization_code", "refresh_token"},
		TokenEndpointAuthMethodsSupported: methods,
		RevocationEndpointAuthMethods:     methods,
		CodeChallengeMethodsSupported:     []string{"S256"},
		AuthorizationResponseIssSupported: s.sendIss,
	})
}

// duration reads a JSON duration as a Go duration string ("2s") or a number
// of seconds.
type duration time.Duration

func (d *duration) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var str string
		if err := json.Unmarshal(b, &str); err != nil {
			return err
		}
		v, err := time.ParseDuration(str)
		if err != nil {
			return fmt.Errorf("sandbox: duration %q: %w", str, err)
		}
		*d = duration(v)
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("sandbox: duration must be a string like \"2s\" or seconds: %w", err)
	}
	*d = duration(f * float64(time.Second))
	return nil
}

type controlRequest struct {
	FailNextRefresh     *Failure  `json:"failNextRefresh"`
	TimeoutDelay        *duration `json:"timeoutDelay"`
	AccessTokenTTL      *duration `json:"accessTokenTTL"`
	RotateRefreshTokens *bool     `json:"rotateRefreshTokens"`
	OmitRefreshToken    *bool     `json:"omitRefreshToken"`
}

type controlState struct {
	FailNextRefresh     Failure `json:"failNextRefresh"`
	TimeoutDelay        string  `json:"timeoutDelay"`
	AccessTokenTTL      string  `json:"accessTokenTTL"`
	RotateRefreshTokens bool    `json:"rotateRefreshTokens"`
	OmitRefreshToken    bool    `json:"omitRefreshToken"`
	Grants              int     `json:"grants"`
	Stats               Stats   `json:"stats"`
}

// handleControl shows (GET) or changes (POST, JSON) the test and demo
// switches. Only fields present in the body change.
func (s *Server) handleControl(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		if err := s.applyControl(w, r); err != nil {
			s.writeError(w, err)
			return
		}
	}
	s.mu.Lock()
	st := controlState{
		FailNextRefresh:     s.failNext,
		TimeoutDelay:        s.timeoutDelay.String(),
		AccessTokenTTL:      s.accessTTL.String(),
		RotateRefreshTokens: s.rotate,
		OmitRefreshToken:    s.omitRefresh,
		Grants:              s.activeGrantsLocked(),
		Stats:               s.stats,
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) applyControl(w http.ResponseWriter, r *http.Request) *oauthError {
	if err := s.csrf.Check(r); err != nil {
		return &oauthError{status: http.StatusForbidden, code: "access_denied", desc: "Cross-origin requests are refused."}
	}
	// JSON only: a cross-site page cannot send it without a CORS preflight.
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return &oauthError{status: http.StatusUnsupportedMediaType, code: "invalid_request", desc: "The body must be application/json."}
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, 16<<10)); err != nil {
		return errInvalidRequest("The body cannot be read.")
	}
	dec := json.NewDecoder(&buf)
	dec.DisallowUnknownFields()
	var req controlRequest
	if err := dec.Decode(&req); err != nil {
		return errInvalidRequest("The body is not a valid control request.")
	}
	if req.FailNextRefresh != nil {
		switch *req.FailNextRefresh {
		case FailNone, FailTransient, FailTimeout, FailPermanent, FailInvalidClient:
		default:
			return errInvalidRequest("failNextRefresh must be transient, timeout, permanent, invalid_client or empty.")
		}
	}
	if req.TimeoutDelay != nil && (*req.TimeoutDelay < 0 || time.Duration(*req.TimeoutDelay) > 10*time.Minute) {
		return errInvalidRequest("timeoutDelay must be between 0 and 10m.")
	}
	if req.AccessTokenTTL != nil && (*req.AccessTokenTTL <= 0 || time.Duration(*req.AccessTokenTTL) > 24*time.Hour) {
		return errInvalidRequest("accessTokenTTL must be above 0 and at most 24h.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if req.FailNextRefresh != nil {
		s.failNext = *req.FailNextRefresh
	}
	if req.TimeoutDelay != nil {
		s.timeoutDelay = time.Duration(*req.TimeoutDelay)
	}
	if req.AccessTokenTTL != nil {
		s.accessTTL = time.Duration(*req.AccessTokenTTL)
	}
	if req.RotateRefreshTokens != nil {
		s.rotate = *req.RotateRefreshTokens
	}
	if req.OmitRefreshToken != nil {
		s.omitRefresh = *req.OmitRefreshToken
	}
	return nil
}
