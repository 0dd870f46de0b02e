package refresh_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hitchdev/hitch/internal/catalog"
	"github.com/hitchdev/hitch/internal/refresh"
	"github.com/hitchdev/hitch/internal/secrets"
	"github.com/hitchdev/hitch/internal/store"
	"github.com/hitchdev/hitch/internal/store/storetest"
)

// The crash test runs a worker as a separate OS process: the test binary itself, re-executed with
// these variables set, runs only the worker (see TestMain).
const (
	childEnv      = "HITCH_REFRESH_TEST_WORKER" // "1" in the child
	childDB       = "HITCH_REFRESH_TEST_DB"
	childKeys     = "HITCH_REFRESH_TEST_KEYS"
	childTokenURL = "HITCH_REFRESH_TEST_TOKEN_URL"
	childLease    = "HITCH_REFRESH_TEST_LEASE"
	childID       = "HITCH_REFRESH_TEST_ID"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		if err := runChildWorker(); err != nil {
			fmt.Fprintln(os.Stderr, "child worker:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runChildWorker is the whole child process: one worker on the given database and token endpoint,
// until it is killed.
func runChildWorker() error {
	ctx := context.Background()
	s, err := store.Open(ctx, os.Getenv(childDB))
	if err != nil {
		return err
	}
	keys, err := secrets.Parse(os.Getenv(childKeys))
	if err != nil {
		return err
	}
	cat, err := catalog.New([]*catalog.App{testApp(os.Getenv(childTokenURL)), apiKeyApp()})
	if err != nil {
		return err
	}
	lease, err := time.ParseDuration(os.Getenv(childLease))
	if err != nil {
		return err
	}
	svc := refresh.New(refresh.Options{Store: s, Catalog: cat, Keys: keys, Lease: lease, Log: testLogger()})
	return svc.Worker(refresh.WorkerOptions{ID: os.Getenv(childID), Concurrency: 8, Poll: 50 * time.Millisecond}).Run(ctx)
}

// gate stands in front of the token endpoint. Closed, it holds every request (the provider never
// sees it); open, it forwards. It lets the test kill a worker while its refreshes are in flight but
// before the provider has rotated anything: the one moment at which a crash can lose nothing.
type gate struct {
	open  atomic.Bool
	held  atomic.Int64
	proxy *httputil.ReverseProxy
	stop  chan struct{}
}

func (g *gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if g.open.Load() {
		g.proxy.ServeHTTP(w, r)
		return
	}
	g.held.Add(1)
	select {
	case <-r.Context().Done(): // the caller died
	case <-g.stop:
	}
	http.Error(w, "gate closed", http.StatusServiceUnavailable)
}

// TestCrashedWorkerIsTakenOver kills a worker process with SIGKILL in the middle of its refreshes. Its
// leases stay in the database until they expire; then another worker refreshes those connections.
// Nothing is lost: every connection ends with valid tokens and no refresh token is redeemed twice.
func TestCrashedWorkerIsTakenOver(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	const conns, lease = 20, 4 * time.Second
	dbURL := storetest.URL(t, store.FlavorPostgres)
	primary := openPool(t, dbURL)
	if err := primary.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, primary, envOptions{})
	var made []store.Connection
	for i := range conns {
		made = append(made, e.mustConnect(fmt.Sprintf("crash-%d", i%4)))
	}
	original := map[string]string{}
	for _, c := range made {
		original[c.ID] = e.creds(c).RefreshToken
	}
	// Everything is due now.
	if _, err := primary.DB().ExecContext(t.Context(), "UPDATE connections SET next_refresh_at = $1", time.Now().Add(-time.Second).UnixMicro()); err != nil {
		t.Fatal(err)
	}

	target, err := url.Parse(e.ts.URL + "/sandbox/oauth")
	if err != nil {
		t.Fatal(err)
	}
	g := &gate{proxy: httputil.NewSingleHostReverseProxy(target), stop: make(chan struct{})}
	gts := httptest.NewServer(g)
	t.Cleanup(func() { close(g.stop); gts.Close() })

	const child = "wrk_child"
	var out bytes.Buffer
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1", childDB+"="+dbURL, childKeys+"="+e.keySpec,
		childTokenURL+"="+gts.URL+"/token", childLease+"="+lease.String(), childID+"="+child)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	t.Cleanup(func() {
		if !killed {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for g.held.Load() < 8 {
		if time.Now().After(deadline) {
			t.Fatalf("the child worker never had 8 refreshes in flight (%d); its output:\n%s", g.held.Load(), out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL: no cleanup of any kind
		t.Fatal(err)
	}
	_ = cmd.Wait()
	killed = true
	killedAt := time.Now()

	var orphaned []store.Connection
	for _, c := range made {
		if got := e.get(c.ID); got.LeaseOwner == child {
			orphaned = append(orphaned, got)
		}
	}
	// Eight in flight, and the next batch it had claimed while they ran.
	if len(orphaned) < 8 || len(orphaned) > 16 {
		t.Fatalf("%d connections leased by the killed worker, want 8 to 16", len(orphaned))
	}
	if st := e.sandbox.Stats(); st.Refreshes != 0 {
		t.Fatalf("the provider saw %d refreshes through a closed gate", st.Refreshes)
	}

	// A second worker, its own pool, takes over once the leases run out.
	g.open.Store(true)
	svc := refresh.New(refresh.Options{Store: openPool(t, dbURL), Catalog: e.catalog, Keys: e.keys, Resolve: e.resolve, Lease: lease, Log: e.log})
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() { _ = svc.Worker(refresh.WorkerOptions{Poll: 50 * time.Millisecond}).Run(ctx) })
	defer func() { cancel(); wg.Wait() }()

	deadline = time.Now().Add(lease + 15*time.Second)
	for {
		n, err := primary.CountConnections(t.Context(), store.ConnectionFilter{})
		if err != nil || n != conns {
			t.Fatal(n, err)
		}
		pending := 0
		for _, c := range made {
			if e.get(c.ID).LastRefreshAt == nil {
				pending++
			}
		}
		if pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connections still not refreshed", pending)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, o := range orphaned {
		got := e.get(o.ID)
		if got.LastRefreshAt.Before(*o.LeaseUntil) {
			t.Errorf("%s refreshed at %v, before the dead worker's lease ran out at %v", o.ID, got.LastRefreshAt, o.LeaseUntil)
		}
	}
	for _, c := range made {
		got := e.get(c.ID)
		cr := e.creds(got)
		if got.Disconnected || got.RetryAttempts != 0 || got.LeaseOwner != "" || !e.sandbox.Validate(cr.AccessToken) ||
			cr.RefreshToken == original[c.ID] || e.sandbox.RefreshTokenUses(original[c.ID]) != 1 {
			t.Errorf("%s after takeover: disconnected=%v attempts=%d lease=%q valid=%v uses(original)=%d",
				c.ID, got.Disconnected, got.RetryAttempts, got.LeaseOwner, e.sandbox.Validate(cr.AccessToken), e.sandbox.RefreshTokenUses(original[c.ID]))
		}
	}
	if st := e.sandbox.Stats(); st.RefreshReuse != 0 || e.sandbox.MaxRefreshTokenUses() != 1 || st.Refreshes != conns {
		t.Fatalf("stats %+v, max uses %d", st, e.sandbox.MaxRefreshTokenUses())
	}
	t.Logf("worker killed with 8 refreshes in flight and %d leases held; all taken over %s after the kill", len(orphaned), time.Since(killedAt).Round(10*time.Millisecond))
}
