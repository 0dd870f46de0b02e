// Package refresh keeps OAuth connections usable: a worker refreshes tokens ahead of expiry, the
// credentials call refreshes on demand, and both go through one lease per connection held in the
// database, so exactly one refresh of a connection runs at a time across every process and replica
// (spec section 7). Failures back off with full jitter; permanent refusals disconnect at once, transient
// ones only after the access token has expired. It knows nothing of HTTP.
package refresh

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/hitchdev/hitch/internal/appsettings"
	"github.com/hitchdev/hitch/internal/catalog"
	"github.com/hitchdev/hitch/internal/connect"
	"github.com/hitchdev/hitch/internal/events"
	"github.com/hitchdev/hitch/internal/oauth"
	"github.com/hitchdev/hitch/internal/secrets"
	"github.com/hitchdev/hitch/internal/store"
)

// Defaults of Options.
const (
	DefaultLease    = 60 * time.Second
	DefaultWaitPoll = 50 * time.Millisecond
)

// Options are what a Service needs; Store, Catalog and Keys are required.
type Options struct {
	Store   *store.Store
	Catalog *catalog.Catalog
	// Apps applies OAuth clients saved in the console; nil: the catalog alone.
	Apps *appsettings.Service
	Keys *secrets.KeyRing
	// OAuth talks to providers; nil builds one from HTTP and Resolve.
	OAuth *oauth.Client
	// HTTP is the outbound client when OAuth is nil; nil means NewHTTPClient.
	HTTP *http.Client
	// Resolve makes catalog paths absolute (sandbox apps name endpoints on Hitch itself); nil: identity.
	Resolve func(string) string
	// Now is the clock; nil: time.Now.
	Now func() time.Time
	// Int63n draws jitter uniformly from [0, n); nil: math/rand/v2's Int64N.
	Int63n func(n int64) int64
	Log    *slog.Logger
	// Lease is how long a claimed connection stays reserved to one refresher (DefaultLease). A refresh
	// call to the provider is cut off well inside it, so a lease only runs out when its holder died.
	Lease time.Duration
	// CallTimeout bounds one token request; 0 or more than Lease/2 means Lease/2.
	CallTimeout time.Duration
	// WaitPoll is how often a credentials call looks again while another process refreshes
	// (DefaultWaitPoll, jittered).
	WaitPoll time.Duration
}

// Service refreshes connections' tokens through leases.
type Service struct {
	store       *store.Store
	catalog     *catalog.Catalog
	apps        *appsettings.Service
	keys        *secrets.KeyRing
	oauth       *oauth.Client
	now         func() time.Time
	int63n      func(int64) int64
	log         *slog.Logger
	lease       time.Duration
	callTimeout time.Duration
	waitPoll    time.Duration
}

// New returns a Service for o, filling defaults.
func New(o Options) *Service {
	s := &Service{
		store: o.Store, catalog: o.Catalog, apps: o.Apps, keys: o.Keys, oauth: o.OAuth, now: o.Now, int63n: o.Int63n,
		log: o.Log, lease: o.Lease, callTimeout: o.CallTimeout, waitPoll: o.WaitPoll,
	}
	if s.oauth == nil {
		hc := o.HTTP
		if hc == nil {
			hc = NewHTTPClient()
		}
		s.oauth = &oauth.Client{HTTP: hc, Resolve: o.Resolve}
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.int63n == nil {
		s.int63n = mrand.Int64N
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.lease <= 0 {
		s.lease = DefaultLease
	}
	if s.callTimeout <= 0 || s.callTimeout > s.lease/2 {
		s.callTimeout = s.lease / 2
	}
	if s.waitPoll <= 0 {
		s.waitPoll = DefaultWaitPoll
	}
	return s
}

// NewHTTPClient is an outbound client for token endpoints: a 20 s timeout, no redirects followed, and
// enough idle connections per host that a worker's concurrent refreshes against one provider reuse
// their connections instead of opening new ones.
func NewHTTPClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	return &http.Client{
		Timeout:       20 * time.Second,
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// failure is why a refresh did not produce tokens, in the words stored on the connection.
type failure struct {
	code, message string
	permanent     bool
	retryAfter    time.Duration
}

// refreshLeased refreshes c, which owner has leased, and stores the outcome with the lease released.
// It runs to the end even when ctx is cancelled (shutdown, a caller hanging up): once the provider has
// rotated the refresh token, dropping its answer would break the connection. It returns the connection
// and credentials as stored; store.ErrLeaseLost means the outcome was dropped because the lease had
// passed to someone else.
func (s *Service) refreshLeased(ctx context.Context, c store.Connection, owner string) (store.Connection, connect.Credentials, error) {
	ctx = context.WithoutCancel(ctx)
	start := s.now()
	app, creds, f := s.prepare(ctx, c)
	if f == nil && (creds.RefreshToken == "" || creds.Expiry == nil) {
		// Nothing to refresh with (or nothing that expires): stop scheduling it.
		c.NextRefreshAt = nil
		err := s.finish(ctx, &c, owner, nil, "")
		return c, creds, err
	}
	var tok oauth.Token
	if f == nil {
		callCtx, cancel := context.WithTimeout(ctx, s.callTimeout)
		var err error
		tok, err = s.oauth.Refresh(callCtx, provider(app, creds.Fields), creds.RefreshToken)
		cancel()
		if err != nil {
			f = describe(app, err)
			// A provider could echo what it was sent; nothing secret may reach the stored error.
			for _, secret := range []string{creds.RefreshToken, creds.AccessToken, app.Auth.ClientSecret} {
				if len(secret) >= 4 {
					f.message = strings.ReplaceAll(f.message, secret, "[redacted]")
				}
			}
		}
	}
	now := s.now()
	attempt := &store.RefreshAttempt{ConnectionID: c.ID, AttemptedAt: now, Duration: now.Sub(start)}
	event := ""
	if f == nil {
		creds.AccessToken, creds.RefreshToken, creds.TokenType = tok.AccessToken, tok.RefreshToken, tok.TokenType
		creds.Expiry = nil
		if !tok.Expiry.IsZero() {
			// x/oauth2 dates expiry on the wall clock; re-date the lifetime on ours.
			exp := now.Add(time.Until(tok.Expiry)).UTC().Truncate(time.Microsecond) // as stored
			creds.Expiry = &exp
		}
		if len(tok.Scopes) > 0 {
			creds.Scopes = tok.Scopes
		}
		sealed, err := s.keys.SealJSON(creds, []byte(c.ID))
		if err != nil {
			// Without sealing the new tokens cannot be kept; the lease runs out and a later try starts over.
			return c, creds, fmt.Errorf("refresh: seal credentials of %s: %w", c.ID, err)
		}
		if c.Disconnected {
			event = events.ConnectionReconnected
		}
		c.Credentials, c.KeyID = sealed, s.keys.CurrentID()
		c.AccessExpiresAt, c.LastRefreshAt, c.NextRefreshAt = creds.Expiry, &now, connect.NextRefresh(now, creds)
		c.RetryAttempts, c.ErrorCode, c.ErrorMessage, c.Disconnected = 0, "", "", false
		attempt.Outcome = store.OutcomeSuccess
	} else {
		c.RetryAttempts++
		next := now.Add(Backoff(c.RetryAttempts, f.retryAfter, s.int63n))
		c.NextRefreshAt, c.ErrorCode, c.ErrorMessage = &next, f.code, f.message
		expired := c.AccessExpiresAt != nil && !now.Before(*c.AccessExpiresAt)
		if (f.permanent || expired) && !c.Disconnected {
			c.Disconnected, event = true, events.ConnectionDisconnected
		}
		attempt.Outcome, attempt.ErrorCode, attempt.ErrorMessage = store.OutcomeTransient, f.code, f.message
		if f.permanent {
			attempt.Outcome = store.OutcomePermanent
		}
	}
	c.UpdatedAt = now
	if err := s.finish(ctx, &c, owner, attempt, event); err != nil {
		return c, creds, err
	}
	s.logOutcome(ctx, c, attempt, event)
	return c, creds, nil
}

// finish stores c's refresh outcome, its attempt row and any event in one transaction, trying again a
// few times when the database fails: after a rotation, these tokens exist nowhere else.
func (s *Service) finish(ctx context.Context, c *store.Connection, owner string, attempt *store.RefreshAttempt, event string) error {
	var err error
	for try := 1; ; try++ {
		if attempt != nil && event == "" {
			a := *attempt
			err = s.store.FinishRefreshRecorded(ctx, c, owner, &a)
		} else {
			err = s.store.InTx(ctx, func(q *store.Queries) error {
				if err := q.FinishRefresh(ctx, c, owner); err != nil {
					return err
				}
				if attempt != nil {
					a := *attempt
					if err := q.InsertRefreshAttempt(ctx, &a); err != nil {
						return err
					}
				}
				if event != "" {
					if _, err := events.Record(ctx, q, event, c.TenantKey, c.ID, connect.View(*c), c.UpdatedAt); err != nil {
						return err
					}
				}
				return nil
			})
		}
		if err == nil || errors.Is(err, store.ErrLeaseLost) || try == 5 {
			break
		}
		s.log.WarnContext(ctx, "storing a refresh outcome failed; trying again", "connection", c.ID, "try", try, "error", err)
		time.Sleep(time.Duration(try) * 200 * time.Millisecond)
	}
	if errors.Is(err, store.ErrLeaseLost) {
		s.log.WarnContext(ctx, "refresh outcome dropped: the lease passed to another process", "connection", c.ID, "owner", owner)
	}
	return err
}

// prepare finds the connection's app and opens its credentials.
func (s *Service) prepare(ctx context.Context, c store.Connection) (*catalog.App, connect.Credentials, *failure) {
	var creds connect.Credentials
	app, ok := s.catalog.Get(c.AppKey)
	if !ok {
		return nil, creds, &failure{code: "app_not_found", message: fmt.Sprintf("The app %q is no longer in the catalog.", c.AppKey)}
	}
	if s.apps != nil {
		// A disabled app's connections keep refreshing: turning an app off stops new connections only.
		resolved, _, err := s.apps.Resolve(ctx, c.AppKey)
		if err != nil {
			s.log.Error("app settings cannot be read", "connection", c.ID, "app", c.AppKey, "error", err)
			return app, creds, &failure{code: "app_settings_unavailable", message: "The app's OAuth client settings could not be read; the refresh will be retried."}
		}
		app = resolved
	}
	if err := s.keys.OpenJSON(c.Credentials, []byte(c.ID), &creds); err != nil {
		s.log.Error("stored credentials cannot be opened", "connection", c.ID, "error", err)
		return app, creds, &failure{code: "credentials_unreadable", message: "The stored credentials cannot be decrypted with the configured encryption keys."}
	}
	if app.Auth.Type != catalog.AuthOAuth2 {
		creds.RefreshToken, creds.Expiry = "", nil
	}
	return app, creds, nil
}

// describe turns a token endpoint failure into the connection's error, never quoting a secret.
func describe(app *catalog.App, err error) *failure {
	var oe *oauth.Error
	if !errors.As(err, &oe) {
		// Catalog expansion of account fields, or a request that could not be built.
		return &failure{code: "refresh_failed", message: "The token request to " + app.Name + " could not be made."}
	}
	msg := app.Name + " refused to refresh the token (" + oe.Code + ")"
	switch {
	case oe.Code == "network_error":
		msg = app.Name + " could not be reached to refresh the token"
	case !oe.Permanent && oe.Status != 0:
		msg = fmt.Sprintf("%s failed to refresh the token (%s, HTTP %d)", app.Name, oe.Code, oe.Status)
	}
	if oe.Description != "" {
		msg += ": " + oe.Description
	} else {
		msg += "."
	}
	return &failure{code: oe.Code, message: msg, permanent: oe.Permanent, retryAfter: oe.RetryAfter}
}

func (s *Service) logOutcome(ctx context.Context, c store.Connection, a *store.RefreshAttempt, event string) {
	if a == nil {
		return
	}
	attrs := []any{"connection", c.ID, "app", c.AppKey, "outcome", a.Outcome, "duration", a.Duration}
	switch {
	case event != "":
		s.log.InfoContext(ctx, event, append(attrs, "error", a.ErrorCode, "retry_attempts", c.RetryAttempts)...)
	case a.Outcome != store.OutcomeSuccess:
		s.log.WarnContext(ctx, "token refresh failed", append(attrs, "error", a.ErrorCode, "retry_attempts", c.RetryAttempts, "next_refresh_at", c.NextRefreshAt)...)
	default:
		s.log.DebugContext(ctx, "token refreshed", attrs...)
	}
}

// provider fills an app's OAuth endpoints for one connection's account fields.
func provider(app *catalog.App, input map[string]string) oauth.Provider {
	return oauth.Provider{App: app, Input: input, ClientID: app.Auth.ClientID, ClientSecret: app.Auth.ClientSecret}
}

// newOwner names one lease holder: a worker, or one credentials call.
func newOwner(kind string) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return kind + "_" + hex.EncodeToString(b)
}
