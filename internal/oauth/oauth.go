// Package oauth speaks OAuth 2.0 to providers for Hitch: the authorization
// URL (PKCE S256, state), the code exchange, refresh and revocation (RFC
// 7009), over golang.org/x/oauth2, and classifies provider errors as
// permanent or transient. It holds no state and knows nothing of storage.
package oauth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/hitchdev/hitch/internal/catalog"
)

// Client talks to providers on Hitch's behalf.
type Client struct {
	HTTP        *http.Client        // with timeouts; nil: a 30 s client
	RedirectURL string              // {HITCH_PUBLIC_URL}/oauth/callback, exact
	Resolve     func(string) string // makes catalog URLs absolute (sandbox apps use paths); nil: identity
}

// Provider is one app's OAuth endpoints filled for one account.
type Provider struct {
	App          *catalog.App
	Input        map[string]string // account fields ({subdomain}, {shop}); validated by App.Expand
	ClientID     string
	ClientSecret string
}

// Token is a validated token response.
type Token struct {
	AccessToken  string
	RefreshToken string
	TokenType    string
	Expiry       time.Time // zero when the provider gave no expires_in
	Scopes       []string  // granted scopes, when the provider says
}

// Error is a provider's refusal or a failure to reach it.
type Error struct {
	Code        string // RFC 6749 section 5.2 code, or network_error / server_error / invalid_response
	Description string // the provider's error_description, trimmed; safe to show
	Status      int    // HTTP status, 0 for network errors
	Permanent   bool   // invalid_grant, invalid_client, unauthorized_client: retrying cannot help
	RetryAfter  time.Duration
	Err         error
}

func (e *Error) Error() string {
	msg := "oauth: " + e.Code
	if e.Description != "" {
		msg += ": " + e.Description
	}
	if e.Status != 0 {
		msg += fmt.Sprintf(" (HTTP %d)", e.Status)
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// permanentCodes are the token endpoint answers that end a grant (spec section 7).
var permanentCodes = map[string]bool{"invalid_grant": true, "invalid_client": true, "unauthorized_client": true}

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{Timeout: 30 * time.Second}
}

func (c *Client) resolve(u string) string {
	if c.Resolve == nil {
		return u
	}
	return c.Resolve(u)
}

// config builds the x/oauth2 configuration for p, filling account fields.
func (c *Client) config(p Provider) (*oauth2.Config, error) {
	a := p.App.Auth
	authURL, err := p.App.Expand(a.AuthorizeURL, p.Input)
	if err != nil {
		return nil, err
	}
	tokenURL, err := p.App.Expand(a.TokenURL, p.Input)
	if err != nil {
		return nil, err
	}
	style := oauth2.AuthStyleInHeader
	switch a.TokenAuthMethod {
	case "client_secret_post", "none":
		style = oauth2.AuthStyleInParams
	}
	return &oauth2.Config{
		ClientID:     p.ClientID,
		ClientSecret: p.ClientSecret,
		RedirectURL:  c.RedirectURL,
		Endpoint:     oauth2.Endpoint{AuthURL: c.resolve(authURL), TokenURL: c.resolve(tokenURL), AuthStyle: style},
	}, nil
}

// AuthCodeURL returns where to send the browser: the provider's authorize
// endpoint with state, the exact redirect URI, scopes and, where the app
// allows it, the PKCE S256 challenge of verifier.
func (c *Client) AuthCodeURL(p Provider, state, verifier string) (string, error) {
	cfg, err := c.config(p)
	if err != nil {
		return "", err
	}
	a := p.App.Auth
	opts := []oauth2.AuthCodeOption{}
	if len(a.Scopes) > 0 {
		sep := a.ScopeSeparator
		if sep == "" {
			sep = " "
		}
		opts = append(opts, oauth2.SetAuthURLParam("scope", strings.Join(a.Scopes, sep)))
	}
	if p.App.UsesPKCE() {
		opts = append(opts, oauth2.S256ChallengeOption(verifier))
	}
	for k, v := range a.AuthParams {
		switch k {
		case "client_id", "redirect_uri", "state", "response_type", "code_challenge", "code_challenge_method":
			continue // never let the catalog override the security parameters
		}
		opts = append(opts, oauth2.SetAuthURLParam(k, v))
	}
	return cfg.AuthCodeURL(state, opts...), nil
}

// Exchange swaps an authorization code for tokens (with the PKCE verifier
// when the app uses PKCE) and validates the response.
func (c *Client) Exchange(ctx context.Context, p Provider, code, verifier string) (Token, error) {
	cfg, err := c.config(p)
	if err != nil {
		return Token{}, err
	}
	var opts []oauth2.AuthCodeOption
	if p.App.UsesPKCE() {
		opts = append(opts, oauth2.VerifierOption(verifier))
	}
	tok, err := cfg.Exchange(c.ctx(ctx), code, opts...)
	if err != nil {
		return Token{}, classify(err)
	}
	return validate(tok, "")
}

// Refresh uses a refresh token. A response without a new refresh token
// keeps the old one (RFC 6749 section 6).
func (c *Client) Refresh(ctx context.Context, p Provider, refreshToken string) (Token, error) {
	cfg, err := c.config(p)
	if err != nil {
		return Token{}, err
	}
	tok, err := cfg.TokenSource(c.ctx(ctx), &oauth2.Token{RefreshToken: refreshToken}).Token()
	if err != nil {
		return Token{}, classify(err)
	}
	return validate(tok, refreshToken)
}

// Revoke asks the provider to revoke token (RFC 7009). Apps without a
// revocation endpoint return nil at once.
func (c *Client) Revoke(ctx context.Context, p Provider, token, hint string) error {
	if p.App.Auth.RevokeURL == "" || token == "" {
		return nil
	}
	u, err := p.App.Expand(p.App.Auth.RevokeURL, p.Input)
	if err != nil {
		return err
	}
	form := url.Values{"token": {token}}
	if hint != "" {
		form.Set("token_type_hint", hint)
	}
	basic := p.App.Auth.TokenAuthMethod == "" || p.App.Auth.TokenAuthMethod == "client_secret_basic"
	if !basic {
		form.Set("client_id", p.ClientID)
		if p.App.Auth.TokenAuthMethod == "client_secret_post" {
			form.Set("client_secret", p.ClientSecret)
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.resolve(u), strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if basic {
		req.SetBasicAuth(url.QueryEscape(p.ClientID), url.QueryEscape(p.ClientSecret))
	}
	res, err := c.httpClient().Do(req)
	if err != nil {
		return &Error{Code: "network_error", Description: "The provider could not be reached.", Err: err}
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	if res.StatusCode != http.StatusOK {
		return &Error{Code: "revocation_failed", Status: res.StatusCode, Description: "The provider refused to revoke the token."}
	}
	return nil
}

func (c *Client) ctx(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, c.httpClient())
}

// validate checks a token response is usable: an access token, a bearer type.
func validate(tok *oauth2.Token, oldRefresh string) (Token, error) {
	if tok == nil || tok.AccessToken == "" {
		return Token{}, &Error{Code: "invalid_response", Description: "The provider's token response has no access_token."}
	}
	typ := tok.TokenType
	if typ != "" && !strings.EqualFold(typ, "bearer") {
		return Token{}, &Error{Code: "invalid_response", Description: fmt.Sprintf("The provider issued a %q token; only bearer tokens are supported.", typ)}
	}
	out := Token{AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, TokenType: "Bearer", Expiry: tok.Expiry}
	if out.RefreshToken == "" {
		out.RefreshToken = oldRefresh
	}
	if s, ok := tok.Extra("scope").(string); ok && s != "" {
		out.Scopes = strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' })
	}
	return out, nil
}

// classify turns an x/oauth2 or transport error into an *Error.
func classify(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		e := &Error{Code: re.ErrorCode, Description: trimDesc(re.ErrorDescription), Err: err}
		if re.Response != nil {
			e.Status = re.Response.StatusCode
			e.RetryAfter = retryAfter(re.Response.Header.Get("Retry-After"))
		}
		if e.Code == "" {
			switch {
			case e.Status == http.StatusTooManyRequests:
				e.Code = "rate_limited"
			case e.Status >= 500:
				e.Code = "server_error"
			default:
				e.Code = "invalid_response"
			}
		}
		e.Permanent = permanentCodes[e.Code]
		return e
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) {
		return &Error{Code: "network_error", Description: "The provider did not answer in time.", Err: err}
	}
	return &Error{Code: "network_error", Description: "The provider could not be reached.", Err: err}
}

func trimDesc(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	var secs int
	if _, err := fmt.Sscanf(v, "%d", &secs); err == nil && secs > 0 && secs < 86400 {
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}
