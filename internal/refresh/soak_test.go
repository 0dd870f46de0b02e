package refresh_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hitchdev/hitch/internal/refresh"
	"github.com/hitchdev/hitch/internal/store"
	"github.com/hitchdev/hitch/internal/store/storetest"
)

// soakSize is the soak test's scale: a short run by default (CI has two cores), the full
// 1,000 connections for 60 s with HITCH_SOAK=1; HITCH_SOAK_CONNECTIONS and HITCH_SOAK_DURATION
// override either.
func soakSize(t *testing.T) (int, time.Duration) {
	n, d := 100, 8*time.Second
	if os.Getenv("HITCH_SOAK") == "1" {
		n, d = 1000, 60*time.Second
	}
	if v := os.Getenv("HITCH_SOAK_CONNECTIONS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			t.Fatalf("HITCH_SOAK_CONNECTIONS=%q", v)
		}
	}
	if v := os.Getenv("HITCH_SOAK_DURATION"); v != "" {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			t.Fatalf("HITCH_SOAK_DURATION=%q", v)
		}
	}
	return n, d
}

// openPool opens another, independent connection pool on the database at url, as another replica would.
func openPool(t testing.TB, url string) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestSoak: three independent worker instances (each with its own database pool, as three replicas)
// and 50 concurrent credentials callers over many connections whose tokens live two seconds, against
// the sandbox with refresh-token rotation on. No refresh token may ever be redeemed twice (the sandbox
// would revoke the grant), no caller may get an invalid token, and no connection may end disconnected.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("soak test skipped in -short mode")
	}
	n, duration := soakSize(t)
	url := storetest.URL(t, store.FlavorPostgres)
	primary := openPool(t, url)
	if err := primary.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, primary, envOptions{ttl: 2 * time.Second})

	start := time.Now()
	conns := make([]store.Connection, n)
	var wg sync.WaitGroup
	var setupErr atomic.Value
	next := atomic.Int64{}
	for range 8 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || setupErr.Load() != nil {
					return
				}
				c, err := e.connectOAuth(context.Background(), fmt.Sprintf("tenant-%d", i%25))
				if err != nil {
					setupErr.Store(err)
					return
				}
				conns[i] = c
			}
		})
	}
	wg.Wait()
	if err := setupErr.Load(); err != nil {
		t.Fatalf("connecting: %v", err)
	}
	t.Logf("%d connections made through the sandbox in %s", n, time.Since(start).Round(time.Millisecond))

	// Three replicas: their own pools, their own services, one worker each.
	var replicas []*refresh.Service
	for range 3 {
		pool := openPool(t, url)
		replicas = append(replicas, refresh.New(refresh.Options{
			Store: pool, Catalog: e.catalog, Keys: e.keys, Resolve: e.resolve, Log: e.log,
			Lease: 10 * time.Second, WaitPoll: 20 * time.Millisecond,
		}))
	}
	ctx, cancel := context.WithTimeout(t.Context(), duration)
	defer cancel()
	var workers sync.WaitGroup
	for _, r := range replicas {
		w := r.Worker(refresh.WorkerOptions{Poll: 100 * time.Millisecond, Concurrency: 8})
		workers.Go(func() { _ = w.Run(ctx) })
	}
	var calls, failures atomic.Int64
	var firstFailure sync.Once
	var callers sync.WaitGroup
	for i := range 50 {
		r := replicas[i%len(replicas)]
		callers.Go(func() {
			for j := i; ctx.Err() == nil; j += 50 {
				c := conns[(j*7919)%n]
				cr, err := r.Credentials(ctx, c.ID)
				if ctx.Err() != nil {
					return
				}
				calls.Add(1)
				switch {
				case err != nil:
				case !e.sandbox.Validate(cr.AccessToken) && time.Now().Before(cr.ExpiresAt.Add(-100*time.Millisecond)):
					err = errors.New("an invalid access token was handed out")
				}
				if err != nil {
					failures.Add(1)
					firstFailure.Do(func() { t.Errorf("credentials of %s: %v", c.ID, err) })
				}
				time.Sleep(2 * time.Millisecond)
			}
		})
	}
	callers.Wait()
	workers.Wait()

	st := e.sandbox.Stats()
	t.Logf("%s: %d credentials calls (%d failed), %d refreshes (%.0f/s), max uses of one refresh token %d, reuse %d",
		duration, calls.Load(), failures.Load(), st.Refreshes, float64(st.Refreshes)/duration.Seconds(), e.sandbox.MaxRefreshTokenUses(), st.RefreshReuse)
	if max := e.sandbox.MaxRefreshTokenUses(); max > 1 || st.RefreshReuse != 0 {
		t.Fatalf("a refresh token was redeemed twice (max uses %d, reuse %d)", max, st.RefreshReuse)
	}
	if st.TokenErrors != 0 {
		t.Errorf("the token endpoint answered %d errors", st.TokenErrors)
	}
	if st.Refreshes < n {
		t.Errorf("only %d refreshes for %d connections", st.Refreshes, n)
	}
	// Every connection ends connected, without an error, and still refreshable.
	rows, _, err := primary.ListConnections(t.Context(), store.ConnectionFilter{Limit: store.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	if disconnected, _ := primary.CountConnections(t.Context(), store.ConnectionFilter{Disconnected: ptrBool(true)}); disconnected != 0 {
		t.Fatalf("%d connections ended disconnected", disconnected)
	}
	for _, c := range rows {
		if as, _ := primary.ListRefreshAttempts(t.Context(), c.ID, 100); len(as) > 0 {
			for _, a := range as {
				if a.Outcome != store.OutcomeSuccess {
					t.Errorf("%s: %s attempt at %s: %s %s", c.ID, a.Outcome, a.AttemptedAt.Format(time.RFC3339Nano), a.ErrorCode, a.ErrorMessage)
				}
			}
		}
		if c.ErrorCode != "" || c.RetryAttempts != 0 {
			t.Errorf("%s ended with error %q after %d attempts", c.ID, c.ErrorCode, c.RetryAttempts)
		}
	}
	for _, c := range conns[:min(n, 20)] {
		cr, err := replicas[0].Credentials(t.Context(), c.ID)
		if err != nil || !e.sandbox.Validate(cr.AccessToken) {
			t.Errorf("%s after the soak: %v", c.ID, err)
		}
	}
}

func ptrBool(b bool) *bool { return &b }
