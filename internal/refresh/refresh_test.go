package refresh_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hitchdev/hitch/internal/catalog"
	"github.com/hitchdev/hitch/internal/connect"
	"github.com/hitchdev/hitch/internal/fault"
	"github.com/hitchdev/hitch/internal/oauth"
	"github.com/hitchdev/hitch/internal/refresh"
	"github.com/hitchdev/hitch/internal/sandbox"
	"github.com/hitchdev/hitch/internal/store"
	"github.com/hitchdev/hitch/internal/store/storetest"
)

func TestBackoff(t *testing.T) {
	cases := []struct {
		attempt    int
		retryAfter time.Duration
		want       time.Duration // with the largest jitter
	}{
		{0, 0, 30 * time.Second},
		{1, 0, 30 * time.Second},
		{2, 0, time.Minute},
		{3, 0, 2 * time.Minute},
		{7, 0, 32 * time.Minute},
		{8, 0, time.Hour},
		{9, 0, time.Hour},
		{1000, 0, time.Hour},
		{1, 45 * time.Second, 45 * time.Second}, // Retry-After is a floor
		{2, 45 * time.Second, time.Minute},
	}
	for _, c := range cases {
		if got := refresh.Backoff(c.attempt, c.retryAfter, maxJitter); got != c.want {
			t.Errorf("Backoff(%d, %s) at the top of the jitter = %s, want %s", c.attempt, c.retryAfter, got, c.want)
		}
	}
	zero := func(int64) int64 { return 0 }
	if got := refresh.Backoff(5, 0, zero); got != 0 {
		t.Errorf("full jitter must reach zero: %s", got)
	}
	if got := refresh.Backoff(5, 2*time.Second, zero); got != 2*time.Second {
		t.Errorf("Retry-After floor at zero jitter: %s", got)
	}
	// The draw is over the whole window [0, ceiling]: asked for ceiling+1 values.
	var asked int64
	refresh.Backoff(3, 0, func(n int64) int64 { asked = n; return 0 })
	if asked != int64(2*time.Minute)+1 {
		t.Errorf("jitter drawn from [0, %d), want [0, %d]", asked, int64(2*time.Minute))
	}
}

// due returns the moment the connection's refresh is scheduled for.
func due(t *testing.T, c store.Connection) time.Time {
	t.Helper()
	if c.NextRefreshAt == nil {
		t.Fatalf("connection %s has no refresh scheduled", c.ID)
	}
	return *c.NextRefreshAt
}

func runOnce(t *testing.T, w *refresh.Worker, want int) {
	t.Helper()
	n, err := w.RunOnce(t.Context())
	if err != nil || n != want {
		t.Fatalf("RunOnce claimed %d (%v), want %d", n, err, want)
	}
}

func TestRefreshAheadOfExpiry(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		e := newEnv(t, s, envOptions{})
		c := e.mustConnect("acme")
		old := e.creds(c)
		w := e.svc.Worker(refresh.WorkerOptions{Concurrency: 4})

		// Just before the scheduled time nothing is due.
		e.clock.Set(due(t, c).Add(-time.Second))
		runOnce(t, w, 0)
		// At it, the worker refreshes, well before the token expires.
		at := due(t, c)
		if !at.Before(*old.Expiry) || old.Expiry.Sub(at).Round(time.Millisecond) != 5*time.Minute {
			t.Fatalf("refresh scheduled at %v for a token expiring %v; want five minutes ahead", at, old.Expiry)
		}
		e.clock.Set(at)
		// A process whose catalog lacks the app leaves the connection to one that has it.
		blindCat, err := catalog.New([]*catalog.App{apiKeyApp()})
		if err != nil {
			t.Fatal(err)
		}
		blind := refresh.New(refresh.Options{Store: s, Catalog: blindCat, Keys: e.keys, Now: e.clock.Now})
		runOnce(t, blind.Worker(refresh.WorkerOptions{}), 0)
		runOnce(t, w, 1)

		got := e.get(c.ID)
		cr := e.creds(got)
		if cr.AccessToken == old.AccessToken || !e.sandbox.Validate(cr.AccessToken) {
			t.Fatal("the stored access token is not a new, valid one")
		}
		// Rotation: the new refresh token replaced the old, which was redeemed exactly once.
		if cr.RefreshToken == old.RefreshToken || e.sandbox.RefreshTokenUses(old.RefreshToken) != 1 {
			t.Fatalf("rotation not stored: same=%v uses(old)=%d", cr.RefreshToken == old.RefreshToken, e.sandbox.RefreshTokenUses(old.RefreshToken))
		}
		now := e.clock.Now()
		if got.LastRefreshAt == nil || now.Sub(*got.LastRefreshAt) > time.Second || got.RetryAttempts != 0 || got.Disconnected ||
			got.ErrorCode != "" || got.LeaseOwner != "" || got.LeaseUntil != nil {
			t.Fatalf("state after refresh: %+v", got)
		}
		// The new expiry is dated on Hitch's clock, and the next refresh five minutes before it.
		if d := cr.Expiry.Sub(now); d < 59*time.Minute || d > time.Hour {
			t.Fatalf("new expiry %v is %s from now", cr.Expiry, d)
		}
		if !got.AccessExpiresAt.Equal(*cr.Expiry) || !got.NextRefreshAt.Equal(cr.Expiry.Add(-5*time.Minute)) {
			t.Fatalf("schedule %v / %v for expiry %v", got.AccessExpiresAt, got.NextRefreshAt, cr.Expiry)
		}
		if slices.Compare(cr.Scopes, []string{"read", "write"}) != 0 || cr.TokenType != "Bearer" {
			t.Fatalf("scopes %v type %q", cr.Scopes, cr.TokenType)
		}
		attempts, _ := s.ListRefreshAttempts(t.Context(), c.ID, 10)
		if len(attempts) != 1 || attempts[0].Outcome != store.OutcomeSuccess {
			t.Fatalf("attempts %+v", attempts)
		}
		if evs := e.eventTypes(c.ID); slices.Compare(evs, []string{"connection.created"}) != 0 {
			t.Fatalf("events %v: a plain refresh records none", evs)
		}

		// A provider that sends no new refresh token: the old one is kept and keeps working.
		e.sandbox.SetOmitRefreshToken(true)
		e.clock.Set(due(t, got))
		runOnce(t, w, 1)
		kept := e.creds(e.get(c.ID))
		if kept.RefreshToken != cr.RefreshToken || kept.AccessToken == cr.AccessToken || !e.sandbox.Validate(kept.AccessToken) {
			t.Fatal("a response without refresh_token must keep the previous one")
		}
		e.clock.Set(due(t, e.get(c.ID)))
		runOnce(t, w, 1)
		again := e.creds(e.get(c.ID))
		if again.RefreshToken != cr.RefreshToken || !e.sandbox.Validate(again.AccessToken) || e.get(c.ID).RetryAttempts != 0 {
			t.Fatal("the kept refresh token stopped working")
		}
		if st := e.sandbox.Stats(); st.Refreshes != 3 || st.RefreshReuse != 0 {
			t.Fatalf("sandbox stats %+v", st)
		}
	})
}

// failingService returns a refresh service whose token requests fail the named way.
func failingService(t *testing.T, e *env, kind string) *refresh.Service {
	switch kind {
	case "503":
		if err := e.sandbox.FailNextRefresh(sandbox.FailTransient); err != nil {
			t.Fatal(err)
		}
	case "timeout":
		e.sandbox.SetTimeoutDelay(3 * time.Second)
		if err := e.sandbox.FailNextRefresh(sandbox.FailTimeout); err != nil {
			t.Fatal(err)
		}
		return e.service(envOptions{call: 300 * time.Millisecond})
	case "refused":
		return e.service(envOptions{tokenURL: "http://" + closedPort(t) + "/token"})
	}
	return e.svc
}

func TestTransientFailures(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		for _, tc := range []struct{ kind, code string }{
			{"503", "temporarily_unavailable"},
			{"timeout", "network_error"},
			{"refused", "network_error"},
		} {
			t.Run(tc.kind, func(t *testing.T) {
				e := newEnv(t, s, envOptions{})
				c := e.mustConnect("t-" + tc.kind)
				old := e.creds(c)

				// First failure, ahead of expiry: back off up to 30 s, stay connected.
				now := due(t, c)
				e.clock.Set(now)
				runOnce(t, failingService(t, e, tc.kind).Worker(refresh.WorkerOptions{}), 1)
				got := e.get(c.ID)
				if got.Disconnected || got.RetryAttempts != 1 || got.ErrorCode != tc.code || got.ErrorMessage == "" {
					t.Fatalf("after one %s failure: disconnected=%v attempts=%d error=%q %q", tc.kind, got.Disconnected, got.RetryAttempts, got.ErrorCode, got.ErrorMessage)
				}
				if d := got.NextRefreshAt.Sub(now); d < 30*time.Second || d > 31*time.Second+5*time.Second {
					t.Fatalf("first retry in %s, want the 30 s ceiling", d)
				}
				if e.creds(got).RefreshToken != old.RefreshToken || got.LeaseOwner != "" {
					t.Fatal("a failure changed the credentials or kept the lease")
				}
				attempts, _ := s.ListRefreshAttempts(t.Context(), c.ID, 10)
				if len(attempts) != 1 || attempts[0].Outcome != store.OutcomeTransient || attempts[0].ErrorCode != tc.code {
					t.Fatalf("attempts %+v", attempts)
				}
				// Still within the token's life: credentials are served, no second try before the backoff.
				cr, err := e.svc.Credentials(t.Context(), c.ID)
				if err != nil || cr.AccessToken != old.AccessToken {
					t.Fatalf("credentials during backoff: %v", err)
				}

				// Second failure, still before expiry: the window doubles.
				now = due(t, got)
				e.clock.Set(now)
				runOnce(t, failingService(t, e, tc.kind).Worker(refresh.WorkerOptions{}), 1)
				got = e.get(c.ID)
				if got.Disconnected || got.RetryAttempts != 2 || got.NextRefreshAt.Sub(now) < time.Minute-time.Second {
					t.Fatalf("second failure: disconnected=%v attempts=%d next in %s", got.Disconnected, got.RetryAttempts, got.NextRefreshAt.Sub(now))
				}

				// A failure once the token has expired disconnects, with its event.
				e.clock.Set(old.Expiry.Add(time.Second))
				runOnce(t, failingService(t, e, tc.kind).Worker(refresh.WorkerOptions{}), 1)
				got = e.get(c.ID)
				if !got.Disconnected || got.RetryAttempts != 3 || got.NextRefreshAt == nil {
					t.Fatalf("after expiry: disconnected=%v attempts=%d next=%v", got.Disconnected, got.RetryAttempts, got.NextRefreshAt)
				}
				if _, err := e.svc.Credentials(t.Context(), c.ID); !isFault(err, "connection_disconnected") {
					t.Fatalf("credentials of a disconnected connection: %v", err)
				}

				// Retries go on while disconnected; the first success reconnects.
				e.clock.Set(due(t, got))
				runOnce(t, e.svc.Worker(refresh.WorkerOptions{}), 1)
				got = e.get(c.ID)
				if got.Disconnected || got.RetryAttempts != 0 || got.ErrorCode != "" || got.ErrorMessage != "" || !e.sandbox.Validate(e.creds(got).AccessToken) {
					t.Fatalf("after recovery: %+v", got)
				}
				want := []string{"connection.created", "connection.disconnected", "connection.reconnected"}
				if evs := e.eventTypes(c.ID); slices.Compare(evs, want) != 0 {
					t.Fatalf("events %v, want %v", evs, want)
				}
				if st := e.sandbox.Stats(); st.RefreshReuse != 0 || e.sandbox.MaxRefreshTokenUses() > 1 {
					t.Fatalf("stats %+v", st)
				}
			})
		}
	})
}

func isFault(err error, code string) bool {
	fe, ok := fault.As(err)
	return ok && fe.Code == code
}

func TestPermanentFailureDisconnectsAtOnce(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		for _, tc := range []struct {
			fail sandbox.Failure
			code string
		}{{sandbox.FailPermanent, "invalid_grant"}, {sandbox.FailInvalidClient, "invalid_client"}} {
			t.Run(tc.code, func(t *testing.T) {
				e := newEnv(t, s, envOptions{})
				c := e.mustConnect("p-" + tc.code)
				if err := e.sandbox.FailNextRefresh(tc.fail); err != nil {
					t.Fatal(err)
				}
				now := due(t, c) // the token is still valid for five minutes
				e.clock.Set(now)
				runOnce(t, e.svc.Worker(refresh.WorkerOptions{}), 1)
				got := e.get(c.ID)
				if !got.Disconnected || got.ErrorCode != tc.code || got.RetryAttempts != 1 || got.NextRefreshAt == nil || !got.NextRefreshAt.After(now) {
					t.Fatalf("after %s: %+v", tc.code, got)
				}
				if evs := e.eventTypes(c.ID); slices.Compare(evs, []string{"connection.created", "connection.disconnected"}) != 0 {
					t.Fatalf("events %v", evs)
				}
				attempts, _ := s.ListRefreshAttempts(t.Context(), c.ID, 10)
				if len(attempts) != 1 || attempts[0].Outcome != store.OutcomePermanent {
					t.Fatalf("attempts %+v", attempts)
				}
				if _, err := e.svc.Credentials(t.Context(), c.ID); !isFault(err, "connection_disconnected") {
					t.Fatalf("credentials: %v", err)
				}
				// A manual reconnect clears the failure state and records connection.reconnected.
				sess, code, err := e.connect.Start(t.Context(), connect.StartInput{TenantKey: c.TenantKey, ConnectionID: c.ID})
				if err != nil {
					t.Fatal(err)
				}
				if sess, err = e.connect.Claim(t.Context(), code, "b"); err != nil {
					t.Fatal(err)
				}
				app, _ := e.catalog.Get(appKey)
				authURL, err := e.connect.BeginOAuth(t.Context(), sess, app, nil)
				if err != nil {
					t.Fatal(err)
				}
				cb, err := approve(authURL)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := e.connect.CompleteOAuth(t.Context(), connect.Callback{State: cb.Get("state"), Code: cb.Get("code"), BrowserHash: "b"}); err != nil {
					t.Fatal(err)
				}
				got = e.get(c.ID)
				if got.Disconnected || got.RetryAttempts != 0 || got.ErrorCode != "" {
					t.Fatalf("after reconnect: %+v", got)
				}
				if cr, err := e.svc.Credentials(t.Context(), c.ID); err != nil || !e.sandbox.Validate(cr.AccessToken) {
					t.Fatalf("credentials after reconnect: %v", err)
				}
				want := []string{"connection.created", "connection.disconnected", "connection.reconnected"}
				if evs := e.eventTypes(c.ID); slices.Compare(evs, want) != 0 {
					t.Fatalf("events %v", evs)
				}
			})
		}
	})
}

func TestCredentials(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		e := newEnv(t, s, envOptions{})
		c := e.mustConnect("acme")
		old := e.creds(c)

		// A token that is not due is returned as it is.
		cr, err := e.svc.Credentials(t.Context(), c.ID)
		if err != nil || cr.Type != "oauth2" || cr.AccessToken != old.AccessToken || !cr.ExpiresAt.Equal(*old.Expiry) ||
			slices.Compare(cr.Scopes, []string{"read", "write"}) != 0 {
			t.Fatalf("fresh credentials: %+v %v", cr, err)
		}
		if st := e.sandbox.Stats(); st.Refreshes != 0 {
			t.Fatal("a fresh token was refreshed")
		}
		// Once due (or expired), the call refreshes first.
		for i, at := range []time.Time{due(t, c), old.Expiry.Add(time.Hour)} {
			e.clock.Set(at)
			prev := e.creds(e.get(c.ID))
			cr, err = e.svc.Credentials(t.Context(), c.ID)
			if err != nil || cr.AccessToken == prev.AccessToken || !e.sandbox.Validate(cr.AccessToken) || !cr.ExpiresAt.After(e.clock.Now().Add(50*time.Minute)) {
				t.Fatalf("credentials when due (%d): %+v %v", i, cr, err)
			}
			if stored := e.creds(e.get(c.ID)); stored.AccessToken != cr.AccessToken {
				t.Fatal("the refreshed token was not stored")
			}
		}
		if st := e.sandbox.Stats(); st.Refreshes != 2 || st.RefreshReuse != 0 {
			t.Fatalf("stats %+v", st)
		}

		// API-key connections answer with their fields.
		key, err := e.connect.Create(t.Context(), connect.CreateInput{TenantKey: "acme", AppKey: "sandbox-apikey", Credentials: map[string]string{"apiKey": sandbox.APIKey}})
		if err != nil {
			t.Fatal(err)
		}
		cr, err = e.svc.Credentials(t.Context(), key.ID)
		if err != nil || cr.Type != "apiKey" || cr.Fields["apiKey"] != sandbox.APIKey {
			t.Fatalf("api key credentials: %+v %v", cr, err)
		}

		if _, err := e.svc.Credentials(t.Context(), "con_missing"); !isFault(err, "connection_not_found") {
			t.Fatalf("unknown: %v", err)
		}
		// Archiving revokes at the provider, erases, stops refreshing, and the credentials are gone.
		e.clock.Set(time.Now())
		last := e.creds(e.get(c.ID))
		if _, err := e.connect.Archive(t.Context(), "", c.ID); err != nil {
			t.Fatal(err)
		}
		if st := e.sandbox.Stats(); st.Revocations != 1 || e.sandbox.Validate(last.AccessToken) || e.sandbox.Grants() != 0 {
			t.Fatalf("archive did not revoke the grant: %+v valid=%v", st, e.sandbox.Validate(last.AccessToken))
		}
		if _, err := e.svc.Credentials(t.Context(), c.ID); !isFault(err, "connection_archived") {
			t.Fatalf("archived: %v", err)
		}
		e.clock.Set(last.Expiry.Add(time.Hour))
		runOnce(t, e.svc.Worker(refresh.WorkerOptions{}), 0)
		if archived := e.get(c.ID); archived.Credentials != nil || archived.NextRefreshAt != nil {
			t.Fatal("archive left credentials or a schedule")
		}
	})
}

// TestArchiveRevocationFailure: a provider that cannot be reached does not stop the archive.
func TestArchiveRevocationFailure(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		e := newEnv(t, s, envOptions{})
		c := e.mustConnect("acme")
		e.ts.Close()
		got, err := e.connect.Archive(t.Context(), "acme", c.ID)
		if err != nil || got.ArchivedAt == nil || got.Credentials != nil {
			t.Fatalf("archive with the provider down: %v", err)
		}
		if evs := e.eventTypes(c.ID); slices.Compare(evs, []string{"connection.created", "connection.deleted"}) != 0 {
			t.Fatalf("events %v", evs)
		}
	})
}

// holdLease claims c as another process would, at the env's clock.
func holdLease(t *testing.T, e *env, id, owner string, d time.Duration) store.Connection {
	t.Helper()
	now := e.clock.Now()
	c, ok, err := e.store.ClaimConnection(t.Context(), id, owner, now, now.Add(d))
	if err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	return c
}

// finishAs completes a refresh of c the way another process holding the lease would: a real refresh at
// the provider, stored with FinishRefresh under owner.
func finishAs(t *testing.T, e *env, c store.Connection, owner string) connect.Credentials {
	t.Helper()
	cr := e.creds(c)
	app, _ := e.catalog.Get(appKey)
	cl := &oauth.Client{Resolve: e.resolve}
	tok, err := cl.Refresh(t.Context(), oauth.Provider{App: app, ClientID: clientID, ClientSecret: clientSecret}, cr.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	exp := tok.Expiry.UTC()
	cr.AccessToken, cr.RefreshToken, cr.Expiry = tok.AccessToken, tok.RefreshToken, &exp
	sealed, _ := e.keys.SealJSON(cr, []byte(c.ID))
	now := e.clock.Now()
	c.Credentials, c.AccessExpiresAt, c.LastRefreshAt, c.NextRefreshAt, c.UpdatedAt = sealed, &exp, &now, connect.NextRefresh(now, cr), now
	if err := e.store.FinishRefresh(t.Context(), &c, owner); err != nil {
		t.Fatal(err)
	}
	return cr
}

func TestCredentialsWaitForTheLeaseHolder(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		t.Run("holder succeeds", func(t *testing.T) {
			e := newEnv(t, s, envOptions{})
			c := e.mustConnect("w1")
			e.clock.Set(due(t, c))
			held := holdLease(t, e, c.ID, "other-process", time.Minute)

			type result struct {
				cr  refresh.Credentials
				err error
			}
			const callers = 5
			results := make(chan result, callers)
			for range callers {
				go func() {
					cr, err := e.svc.Credentials(t.Context(), c.ID)
					results <- result{cr, err}
				}()
			}
			time.Sleep(300 * time.Millisecond)
			if len(results) != 0 || e.sandbox.Stats().Refreshes != 0 {
				t.Fatal("a caller answered or refreshed while another process held the lease")
			}
			want := finishAs(t, e, held, "other-process")
			for range callers {
				r := <-results
				if r.err != nil || r.cr.AccessToken != want.AccessToken {
					t.Fatalf("caller got %v, want the holder's token", r.err)
				}
			}
			if st := e.sandbox.Stats(); st.Refreshes != 1 || e.sandbox.MaxRefreshTokenUses() != 1 {
				t.Fatalf("refreshes %d, max uses %d: callers must not refresh themselves", st.Refreshes, e.sandbox.MaxRefreshTokenUses())
			}
		})
		t.Run("holder fails", func(t *testing.T) {
			e := newEnv(t, s, envOptions{})
			c := e.mustConnect("w2")
			old := e.creds(c)
			e.clock.Set(old.Expiry.Add(time.Second))
			held := holdLease(t, e, c.ID, "other-process", time.Minute)
			done := make(chan error, 1)
			go func() { _, err := e.svc.Credentials(t.Context(), c.ID); done <- err }()
			time.Sleep(100 * time.Millisecond)
			// The holder's refresh failed after expiry: it disconnected the connection.
			now := e.clock.Now()
			next := now.Add(time.Minute)
			held.Disconnected, held.RetryAttempts, held.NextRefreshAt, held.ErrorCode, held.UpdatedAt = true, 1, &next, "server_error", now
			if err := s.FinishRefresh(t.Context(), &held, "other-process"); err != nil {
				t.Fatal(err)
			}
			if err := <-done; !isFault(err, "connection_disconnected") {
				t.Fatalf("after the holder failed: %v", err)
			}
			if st := e.sandbox.Stats(); st.Refreshes != 0 {
				t.Fatal("the waiting caller refreshed after the holder failed")
			}
		})
		t.Run("holder died", func(t *testing.T) {
			e := newEnv(t, s, envOptions{})
			c := e.mustConnect("w3")
			e.clock.Set(due(t, c))
			holdLease(t, e, c.ID, "dead-process", 500*time.Millisecond)
			start := time.Now()
			cr, err := e.svc.Credentials(t.Context(), c.ID)
			if err != nil || !e.sandbox.Validate(cr.AccessToken) || time.Since(start) < 400*time.Millisecond {
				t.Fatalf("takeover after the lease expired: %v after %s", err, time.Since(start))
			}
			if st := e.sandbox.Stats(); st.Refreshes != 1 || st.RefreshReuse != 0 {
				t.Fatalf("stats %+v", st)
			}
		})
	})
}

// TestWorkerStopsGracefully cancels a running worker while a refresh is in flight and the next batch
// is claimed: the refresh is still stored, and the leases it had not started are given back.
func TestWorkerStopsGracefully(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		inFlight := make(chan struct{}, 1)
		slow := func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/sandbox/oauth/token" && r.FormValue("grant_type") == "refresh_token" {
					select {
					case inFlight <- struct{}{}:
					default:
					}
					time.Sleep(400 * time.Millisecond)
				}
				next.ServeHTTP(w, r)
			})
		}
		e := newEnv(t, s, envOptions{handler: slow})
		var conns []store.Connection
		for range 3 {
			conns = append(conns, e.mustConnect("g"))
		}
		e.clock.Set(due(t, conns[2]))
		ctx, cancel := context.WithCancel(t.Context())
		stopped := make(chan error, 1)
		w := e.svc.Worker(refresh.WorkerOptions{Poll: 20 * time.Millisecond, Concurrency: 1})
		go func() { stopped <- w.Run(ctx) }()
		select {
		case <-inFlight:
		case <-time.After(5 * time.Second):
			t.Fatal("the worker never refreshed")
		}
		time.Sleep(50 * time.Millisecond) // the next batch is claimed meanwhile
		cancel()
		if err := <-stopped; err != nil {
			t.Fatal(err)
		}
		refreshed := 0
		for _, c := range conns {
			got := e.get(c.ID)
			if got.LeaseOwner != "" {
				t.Errorf("%s still leased after the worker stopped", c.ID)
			}
			if got.LastRefreshAt != nil {
				refreshed++
				if !e.sandbox.Validate(e.creds(got).AccessToken) {
					t.Errorf("%s: refreshed token not stored", c.ID)
				}
			}
		}
		if refreshed != 1 || e.sandbox.Stats().Refreshes != 1 {
			t.Fatalf("%d refreshed (sandbox %d), want exactly the one in flight", refreshed, e.sandbox.Stats().Refreshes)
		}
	})
}

// TestConcurrentCallersAndWorkers is a short version of the soak test that runs on both databases.
func TestConcurrentCallersAndWorkers(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		e := newEnv(t, s, envOptions{ttl: 2 * time.Second})
		var conns []store.Connection
		for i := range 10 {
			conns = append(conns, e.mustConnect(fmt.Sprintf("c%d", i%3)))
		}
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		defer cancel()
		var wg sync.WaitGroup
		for range 2 {
			w := e.svc.Worker(refresh.WorkerOptions{Poll: 50 * time.Millisecond, Concurrency: 4})
			wg.Go(func() { _ = w.Run(ctx) })
		}
		var bad sync.Map
		for i := range 10 {
			wg.Go(func() {
				for ctx.Err() == nil {
					c := conns[(i*7+int(time.Now().UnixNano()))%len(conns)]
					cr, err := e.svc.Credentials(ctx, c.ID)
					if err != nil {
						if ctx.Err() == nil {
							bad.Store(c.ID, err)
						}
						continue
					}
					if !e.sandbox.Validate(cr.AccessToken) && time.Now().Before(cr.ExpiresAt.Add(-100*time.Millisecond)) {
						bad.Store(c.ID, errors.New("an invalid token was handed out"))
					}
					time.Sleep(5 * time.Millisecond)
				}
			})
		}
		wg.Wait()
		bad.Range(func(k, v any) bool { t.Errorf("%s: %v", k, v); return true })
		if st := e.sandbox.Stats(); st.RefreshReuse != 0 || e.sandbox.MaxRefreshTokenUses() > 1 || st.Refreshes < len(conns) {
			t.Fatalf("stats %+v max uses %d", st, e.sandbox.MaxRefreshTokenUses())
		}
	})
}

// TestStoredErrorsHoldNoSecrets: a provider that echoes the refresh token in its error description
// does not get it into the connection's error or the attempt history.
func TestStoredErrorsHoldNoSecrets(t *testing.T) {
	s := storetest.Open(t, store.FlavorSQLite)
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"error":"invalid_grant","error_description":"refresh token %s is unknown"}`, r.FormValue("refresh_token"))
	}))
	defer echo.Close()
	e := newEnv(t, s, envOptions{})
	c := e.mustConnect("acme")
	secret := e.creds(c).RefreshToken
	e.clock.Set(due(t, c))
	runOnce(t, e.service(envOptions{tokenURL: echo.URL + "/token"}).Worker(refresh.WorkerOptions{}), 1)
	got := e.get(c.ID)
	attempts, _ := s.ListRefreshAttempts(t.Context(), c.ID, 1)
	if got.ErrorCode != "invalid_grant" || !strings.Contains(got.ErrorMessage, "[redacted]") || strings.Contains(got.ErrorMessage, secret) ||
		len(attempts) != 1 || strings.Contains(attempts[0].ErrorMessage, secret) {
		t.Fatalf("stored error %q / %q", got.ErrorMessage, attempts)
	}
}
