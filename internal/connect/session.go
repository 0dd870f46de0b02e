package connect

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/oauth2"

	"github.com/hitchdev/hitch/internal/catalog"
	"github.com/hitchdev/hitch/internal/events"
	"github.com/hitchdev/hitch/internal/fault"
	"github.com/hitchdev/hitch/internal/oauth"
	"github.com/hitchdev/hitch/internal/secrets"
	"github.com/hitchdev/hitch/internal/store"
)

// SessionTTL is how long a connect session stays open (spec section 1).
const SessionTTL = 30 * time.Minute

// StartInput asks for a connect session.
type StartInput struct {
	TenantKey, TenantName string
	Intent                string
	AppKey                string
	ConnectionID          string // reconnect this connection
	Name                  string
	HostOrigin            string // the browser origin that asked, "" for server-side callers
}

// Start opens a connect session and returns it with its one-time link code.
// Only the code's hash is stored.
func (s *Service) Start(ctx context.Context, in StartInput) (store.Session, string, error) {
	in.Intent = strings.TrimSpace(in.Intent)
	if utf8.RuneCountInString(in.Intent) > 255 || !printable(in.Intent) {
		return store.Session{}, "", fault.New(fault.Invalid, "invalid_intent", "The intent must be at most 255 printable characters.")
	}
	name, err := checkName(in.Name)
	if err != nil {
		return store.Session{}, "", err
	}
	if in.ConnectionID != "" {
		c, err := s.Get(ctx, in.TenantKey, in.ConnectionID)
		if err != nil {
			return store.Session{}, "", err
		}
		if c.ArchivedAt != nil {
			return store.Session{}, "", fault.New(fault.Conflict, "connection_archived", "Connection %q is archived and cannot be reconnected.", c.ID)
		}
		if in.AppKey != "" && in.AppKey != c.AppKey {
			return store.Session{}, "", fault.New(fault.Invalid, "invalid_request", "Connection %q belongs to app %q, not %q.", c.ID, c.AppKey, in.AppKey)
		}
		in.AppKey = c.AppKey
	}
	if in.AppKey != "" {
		if _, err := s.App(ctx, in.AppKey); err != nil {
			return store.Session{}, "", err
		}
	}
	code := secrets.NewToken()
	now := s.Now().UTC()
	sess := store.Session{
		ID:           store.NewID("cs"),
		TenantKey:    in.TenantKey,
		TenantName:   in.TenantName,
		AppKey:       in.AppKey,
		Intent:       in.Intent,
		ConnectionID: in.ConnectionID,
		Name:         name,
		HostOrigin:   in.HostOrigin,
		CodeHash:     Digest(code),
		Status:       store.SessionPending,
		CreatedAt:    now,
		UpdatedAt:    now,
		ExpiresAt:    now.Add(SessionTTL),
	}
	err = s.Store.InTx(ctx, func(q *store.Queries) error {
		if err := q.UpsertTenant(ctx, in.TenantKey, in.TenantName, now); err != nil {
			return err
		}
		return q.InsertSession(ctx, &sess)
	})
	if err != nil {
		return store.Session{}, "", fmt.Errorf("connect: start session: %w", err)
	}
	return sess, code, nil
}

// App returns a catalog app that can be connected now: known, enabled in
// the console, and with an OAuth client when it needs one.
func (s *Service) App(ctx context.Context, key string) (*catalog.App, error) {
	app, enabled, err := s.Lookup(ctx, key)
	if err != nil {
		return nil, err
	}
	if !enabled {
		return nil, fault.New(fault.Conflict, "app_disabled", "%s is turned off on this Hitch server.", app.Name)
	}
	if !app.Sandbox && !app.Configured() {
		return nil, fault.New(fault.Conflict, "app_not_configured",
			"%s has no OAuth client configured on this Hitch server; add one in the console or set HITCH_APP_%s_CLIENT_ID and _CLIENT_SECRET.",
			app.Name, strings.ToUpper(strings.ReplaceAll(app.Key, "-", "_")))
	}
	return app, nil
}

// Lookup returns an app with the console's OAuth client applied and whether
// it is enabled. Refresh and revoke use it: turning an app off stops new
// connections, not existing ones.
func (s *Service) Lookup(ctx context.Context, key string) (*catalog.App, bool, error) {
	if s.Apps != nil {
		return s.Apps.Resolve(ctx, key)
	}
	app, ok := s.Catalog.Get(key)
	if !ok {
		return nil, false, fault.New(fault.NotFound, "app_not_found", "No app with key %q exists in the catalog.", key)
	}
	return app, true, nil
}

// Session returns a session of tenantKey ("" for any), expiring it first
// when its time is up.
func (s *Service) Session(ctx context.Context, tenantKey, id string) (store.Session, error) {
	sess, err := s.Store.GetSession(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && tenantKey != "" && sess.TenantKey != tenantKey) {
		return store.Session{}, fault.New(fault.NotFound, "session_not_found", "No connect session with id %q exists.", id)
	}
	if err != nil {
		return store.Session{}, err
	}
	return s.expireIfDue(ctx, sess)
}

// Wait returns the session as soon as it leaves pending, or after d.
// Polling the database keeps it correct across replicas.
func (s *Service) Wait(ctx context.Context, tenantKey, id string, d time.Duration) (store.Session, error) {
	deadline := time.Now().Add(d)
	for {
		sess, err := s.Session(ctx, tenantKey, id)
		if err != nil || sess.Status != store.SessionPending || !time.Now().Before(deadline) {
			return sess, err
		}
		select {
		case <-ctx.Done():
			return sess, nil
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// Outcome is what a session ended with, as the API and the popup report it.
type Outcome struct {
	Connection *Connection // set when completed
	Error      *ErrorInfo  // set when failed, cancelled or expired
}

// Outcome reads a session's result: the connection it wrote, or its error.
func (s *Service) Outcome(ctx context.Context, sess store.Session) (Outcome, error) {
	switch sess.Status {
	case store.SessionPending:
		return Outcome{}, nil
	case store.SessionCompleted:
		c, err := s.Get(ctx, sess.TenantKey, sess.ResultConnectionID)
		if err != nil {
			return Outcome{}, err
		}
		v := View(c)
		return Outcome{Connection: &v}, nil
	}
	return Outcome{Error: &ErrorInfo{Code: sess.ErrorCode, Message: sess.ErrorMessage}}, nil
}

// Cancel ends a pending session as cancelled; a finished one is returned
// unchanged.
func (s *Service) Cancel(ctx context.Context, tenantKey, id string) (store.Session, error) {
	if _, err := s.Session(ctx, tenantKey, id); err != nil {
		return store.Session{}, err
	}
	return s.end(ctx, id, store.SessionCancelled, "cancelled", "The user closed the connect window.")
}

// Claim swaps a connect-link code for the session, binding it to the
// browser whose cookie hashes to browserHash. The same browser may load the
// link again; any other gets a friendly refusal.
func (s *Service) Claim(ctx context.Context, code, browserHash string) (store.Session, error) {
	if code == "" || len(code) > 128 {
		return store.Session{}, linkNotFound()
	}
	sess, err := s.Store.ClaimSessionCode(ctx, Digest(code), browserHash, s.Now().UTC())
	switch {
	case err == nil:
		return sess, nil
	case errors.Is(err, store.ErrNotFound):
		return store.Session{}, linkNotFound()
	case errors.Is(err, store.ErrConflict):
		if sess.BrowserHash != "" && sess.BrowserHash == browserHash {
			return s.expireIfDue(ctx, sess)
		}
		if sess.Status == store.SessionPending && !s.Now().Before(sess.ExpiresAt) {
			return store.Session{}, fault.New(fault.Gone, "session_expired", "This connect link has expired. Go back to the app and start again.")
		}
		if sess.Status != store.SessionPending {
			return store.Session{}, fault.New(fault.Gone, "session_finished", "This connect link was already used to finish connecting.")
		}
		return store.Session{}, fault.New(fault.Gone, "link_used", "This connect link has already been opened in another browser. Go back to the app and start again.")
	}
	return store.Session{}, err
}

func linkNotFound() error {
	return fault.New(fault.NotFound, "link_not_found", "This connect link is not valid. Go back to the app and start again.")
}

// ForBrowser returns the session if it is bound to this browser.
func (s *Service) ForBrowser(ctx context.Context, id, browserHash string) (store.Session, error) {
	sess, err := s.Store.GetSession(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (browserHash == "" || sess.BrowserHash != browserHash)) {
		return store.Session{}, fault.New(fault.Forbidden, "session_not_in_browser",
			"This connect window belongs to another browser session. Go back to the app and start again.")
	}
	if err != nil {
		return store.Session{}, err
	}
	return s.expireIfDue(ctx, sess)
}

// MarkDetached records that the popup has no opener, so the SDK keeps
// waiting for the outcome instead of taking a closed window as a cancel.
func (s *Service) MarkDetached(ctx context.Context, sess store.Session) error {
	if sess.Detached || sess.Status != store.SessionPending {
		return nil
	}
	return s.Store.InTx(ctx, func(q *store.Queries) error {
		cur, err := q.GetSessionForUpdate(ctx, sess.ID)
		if err != nil {
			return err
		}
		cur.Detached, cur.UpdatedAt = true, s.Now().UTC()
		return q.UpdateSession(ctx, &cur)
	})
}

// oauthData is what a session keeps, sealed, between the redirect to the
// provider and the callback.
type oauthData struct {
	AppKey   string            `json:"appKey"`
	Verifier string            `json:"verifier"`
	Input    map[string]string `json:"input,omitempty"`
}

// BeginOAuth prepares the provider redirect for sess: a one-time state bound
// to the session (and through it to the browser), a PKCE verifier, and the
// account fields. It returns the authorization URL.
func (s *Service) BeginOAuth(ctx context.Context, sess store.Session, app *catalog.App, input map[string]string) (string, error) {
	if err := pending(sess, s.Now()); err != nil {
		return "", err
	}
	for k := range input {
		if _, ok := app.Field(k); !ok {
			return "", fault.New(fault.Invalid, "unknown_field", "App %q has no field %q.", app.Key, k)
		}
	}
	fields, err := app.ValidateInput(input)
	if err != nil {
		return "", fieldFault(app, err)
	}
	state, verifier := secrets.NewToken(), oauth2.GenerateVerifier()
	authURL, err := s.OAuth.AuthCodeURL(s.provider(app, fields), state, verifier)
	if err != nil {
		return "", fieldFault(app, err)
	}
	sealed, err := s.Keys.SealJSON(oauthData{AppKey: app.Key, Verifier: verifier, Input: fields}, []byte(sess.ID))
	if err != nil {
		return "", err
	}
	err = s.Store.InTx(ctx, func(q *store.Queries) error {
		cur, err := q.GetSessionForUpdate(ctx, sess.ID)
		if err != nil {
			return err
		}
		if err := pending(cur, s.Now()); err != nil {
			return err
		}
		cur.AppKey, cur.OAuthStateHash, cur.OAuthData, cur.UpdatedAt = app.Key, Digest(state), sealed, s.Now().UTC()
		return q.UpdateSession(ctx, &cur)
	})
	if err != nil {
		return "", err
	}
	return authURL, nil
}

// Callback is what the provider sent to the redirect URI.
type Callback struct {
	State, Code, Iss        string
	Error, ErrorDescription string
	BrowserHash             string
}

// CompleteOAuth finishes the session the callback's state names: it checks
// the state is unused and bound to this browser, checks iss (RFC 9207),
// exchanges the code with the PKCE verifier and writes the connection. A
// provider error ends the session as failed. It returns the session as it
// ended; errors that leave no session to end are faults.
func (s *Service) CompleteOAuth(ctx context.Context, cb Callback) (store.Session, error) {
	invalid := fault.New(fault.Invalid, "invalid_state",
		"This sign-in response is not valid or was already used. Go back to the app and start again.")
	if cb.State == "" || len(cb.State) > 512 {
		return store.Session{}, invalid
	}
	sess, err := s.Store.GetSessionByStateHash(ctx, Digest(cb.State))
	if errors.Is(err, store.ErrNotFound) {
		return store.Session{}, invalid
	}
	if err != nil {
		return store.Session{}, err
	}
	if cb.BrowserHash == "" || sess.BrowserHash != cb.BrowserHash {
		return store.Session{}, fault.New(fault.Forbidden, "state_mismatch",
			"This sign-in response was started in another browser, so it was not accepted.")
	}
	// Burn the state before anything else, so a replay finds nothing.
	var data oauthData
	err = s.Store.InTx(ctx, func(q *store.Queries) error {
		cur, err := q.GetSessionForUpdate(ctx, sess.ID)
		if err != nil {
			return err
		}
		if cur.OAuthStateHash != Digest(cb.State) {
			return invalid
		}
		if err := s.Keys.OpenJSON(cur.OAuthData, []byte(cur.ID), &data); err != nil {
			return fmt.Errorf("open oauth data: %w", err)
		}
		cur.OAuthStateHash, cur.OAuthData, cur.UpdatedAt = "", nil, s.Now().UTC()
		sess = cur
		return q.UpdateSession(ctx, &cur)
	})
	if err != nil {
		return store.Session{}, err
	}
	if sess, err = s.expireIfDue(ctx, sess); err != nil || sess.Status != store.SessionPending {
		return sess, err
	}
	app, err := s.App(ctx, data.AppKey)
	if err != nil {
		return s.end(ctx, sess.ID, store.SessionFailed, "provider_error", err.Error())
	}
	if cb.Error != "" {
		if cb.Error == "access_denied" {
			return s.end(ctx, sess.ID, store.SessionFailed, "access_denied", "You declined to give access to "+app.Name+".")
		}
		msg := app.Name + " refused the request (" + safeCode(cb.Error) + ")"
		if d := strings.TrimSpace(cb.ErrorDescription); d != "" && len(d) < 300 && printable(d) {
			msg += ": " + d
		}
		return s.end(ctx, sess.ID, store.SessionFailed, "provider_error", msg+".")
	}
	if cb.Iss != "" && !issuerMatches(cb.Iss, s.resolve(app.Auth.AuthorizeURL)) {
		return s.end(ctx, sess.ID, store.SessionFailed, "provider_error",
			"The sign-in response came from an unexpected issuer, so it was not accepted.")
	}
	if cb.Code == "" || len(cb.Code) > 4096 {
		return s.end(ctx, sess.ID, store.SessionFailed, "provider_error", app.Name+" sent no authorization code.")
	}
	tok, err := s.OAuth.Exchange(ctx, s.provider(app, data.Input), cb.Code, data.Verifier)
	if err != nil {
		s.Log.WarnContext(ctx, "code exchange failed", "session", sess.ID, "app", app.Key, "error", err)
		msg := app.Name + " did not issue tokens"
		var oe *oauth.Error
		if errors.As(err, &oe) {
			msg += " (" + oe.Code + ")"
		}
		return s.end(ctx, sess.ID, store.SessionFailed, "provider_error", msg+". Try again in a moment.")
	}
	creds := Credentials{Type: "oauth2", Fields: data.Input, AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, TokenType: tok.TokenType, Scopes: tok.Scopes}
	if !tok.Expiry.IsZero() {
		exp := tok.Expiry.UTC()
		creds.Expiry = &exp
	}
	return s.complete(ctx, sess, app, creds, app.PublicInput(data.Input))
}

// SubmitCredentials validates an API-key/basic form, runs the catalog's test
// request, and on success writes the connection and ends the session. A
// refused test is a *TestFailure and leaves the session pending.
func (s *Service) SubmitCredentials(ctx context.Context, sess store.Session, app *catalog.App, values map[string]string) (store.Session, error) {
	if err := pending(sess, s.Now()); err != nil {
		return sess, err
	}
	fields, public, err := CheckFields(app, values)
	if err != nil {
		return sess, err
	}
	if err := s.Tester.Test(ctx, app, fields); err != nil {
		return sess, err
	}
	return s.complete(ctx, sess, app, Credentials{Type: app.Auth.Type, Fields: fields}, public)
}

// complete writes the connection (new, or the reconnect target) and ends the
// session as completed, all in one transaction with the event.
func (s *Service) complete(ctx context.Context, sess store.Session, app *catalog.App, creds Credentials, public map[string]string) (store.Session, error) {
	var out store.Session
	err := s.Store.InTx(ctx, func(q *store.Queries) error {
		now := s.Now().UTC()
		cur, err := q.GetSessionForUpdate(ctx, sess.ID)
		if err != nil {
			return err
		}
		if err := pending(cur, now); err != nil {
			return err
		}
		var c store.Connection
		if cur.ConnectionID != "" {
			c, err = q.GetConnection(ctx, cur.ConnectionID, cur.TenantKey)
			if err != nil {
				return err
			}
			if c.ArchivedAt != nil {
				return fault.New(fault.Conflict, "connection_archived", "The connection was archived while you were connecting.")
			}
		} else {
			name := cur.Name
			if name == "" {
				name = app.Name
			}
			c = store.Connection{ID: store.NewID("con"), TenantKey: cur.TenantKey, AppKey: app.Key, Name: name, AuthType: app.Auth.Type, CreatedAt: now}
		}
		sealed, err := s.Keys.SealJSON(creds, []byte(c.ID))
		if err != nil {
			return err
		}
		c.Credentials, c.KeyID, c.Input, c.UpdatedAt = sealed, s.Keys.CurrentID(), public, now
		c.Disconnected, c.ErrorCode, c.ErrorMessage, c.RetryAttempts = false, "", "", 0
		c.AccessExpiresAt, c.NextRefreshAt = creds.Expiry, NextRefresh(now, creds)
		c.LeaseOwner, c.LeaseUntil = "", nil
		typ := events.ConnectionCreated
		if cur.ConnectionID != "" {
			typ = events.ConnectionReconnected
			if err := q.UpdateConnection(ctx, &c); err != nil {
				return err
			}
		} else if err := q.InsertConnection(ctx, &c); err != nil {
			return err
		}
		if _, err := events.Record(ctx, q, typ, c.TenantKey, c.ID, View(c), now); err != nil {
			return err
		}
		cur.Status, cur.ResultConnectionID, cur.AppKey, cur.UpdatedAt = store.SessionCompleted, c.ID, app.Key, now
		cur.OAuthStateHash, cur.OAuthData = "", nil
		if err := q.UpdateSession(ctx, &cur); err != nil {
			return err
		}
		out = cur
		return nil
	})
	if err != nil {
		return store.Session{}, err
	}
	s.Log.InfoContext(ctx, "connect session completed", "session", out.ID, "connection", out.ResultConnectionID, "app", app.Key, "reconnect", sess.ConnectionID != "")
	return out, nil
}

// NextRefresh schedules the first refresh of new tokens: ahead of expiry by
// a fifth of their lifetime, at most five minutes. Tokens without expiry or
// without a refresh token are not scheduled.
func NextRefresh(now time.Time, creds Credentials) *time.Time {
	if creds.Expiry == nil || creds.RefreshToken == "" {
		return nil
	}
	lead := creds.Expiry.Sub(now) / 5
	if lead > 5*time.Minute {
		lead = 5 * time.Minute
	}
	at := creds.Expiry.Add(-lead)
	return &at
}

// end moves a pending session to a final status with an error; a session
// already final is returned as it is.
func (s *Service) end(ctx context.Context, id, status, code, message string) (store.Session, error) {
	var out store.Session
	err := s.Store.InTx(ctx, func(q *store.Queries) error {
		cur, err := q.GetSessionForUpdate(ctx, id)
		if err != nil {
			return err
		}
		out = cur
		if cur.Status != store.SessionPending {
			return nil
		}
		cur.Status, cur.ErrorCode, cur.ErrorMessage, cur.UpdatedAt = status, code, message, s.Now().UTC()
		cur.OAuthStateHash, cur.OAuthData = "", nil
		out = cur
		return q.UpdateSession(ctx, &cur)
	})
	return out, err
}

func (s *Service) expireIfDue(ctx context.Context, sess store.Session) (store.Session, error) {
	if sess.Status != store.SessionPending || s.Now().Before(sess.ExpiresAt) {
		return sess, nil
	}
	return s.end(ctx, sess.ID, store.SessionExpired, "session_expired", "The connect session expired after 30 minutes.")
}

// pending refuses to act on a session that is over.
func pending(sess store.Session, now time.Time) error {
	if sess.Status != store.SessionPending {
		return fault.New(fault.Conflict, "session_finished", "This connect session has already ended (%s).", sess.Status)
	}
	if !now.Before(sess.ExpiresAt) {
		return fault.New(fault.Gone, "session_expired", "This connect session has expired. Go back to the app and start again.")
	}
	return nil
}

func (s *Service) provider(app *catalog.App, input map[string]string) oauth.Provider {
	return oauth.Provider{App: app, Input: input, ClientID: app.Auth.ClientID, ClientSecret: app.Auth.ClientSecret}
}

func (s *Service) resolve(u string) string {
	if s.Resolve == nil {
		return u
	}
	return s.Resolve(u)
}

// issuerMatches applies RFC 9207 where the catalog names no issuer: the iss
// sent back must be on the authorization endpoint's own origin, which is
// what a mix-up attack cannot fake.
func issuerMatches(iss, authorizeURL string) bool {
	a, err1 := url.Parse(iss)
	b, err2 := url.Parse(authorizeURL)
	return err1 == nil && err2 == nil && a.Scheme == b.Scheme && strings.EqualFold(a.Host, b.Host) &&
		strings.HasPrefix(b.Path, strings.TrimRight(a.Path, "/"))
}

// Digest is the stored form of a one-time secret (link code, OAuth state).
func Digest(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// safeCode keeps a provider's error code printable and short.
func safeCode(c string) string {
	out := make([]rune, 0, len(c))
	for _, r := range c {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-' {
			out = append(out, r)
		}
		if len(out) == 64 {
			break
		}
	}
	return string(out)
}
