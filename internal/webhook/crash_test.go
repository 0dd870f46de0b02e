package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/hitchdev/hitch/internal/events"
	"github.com/hitchdev/hitch/internal/secrets"
	"github.com/hitchdev/hitch/internal/store"
	"github.com/hitchdev/hitch/internal/store/storetest"
	"github.com/hitchdev/hitch/internal/webhook"
)

// Environment of the dispatcher child process the crash test starts (this test binary, re-executed).
const (
	envChild     = "HITCH_WEBHOOK_TEST_CHILD"
	envChildDB   = "HITCH_WEBHOOK_TEST_DB"
	envChildKeys = "HITCH_WEBHOOK_TEST_KEYS"
	// envLong turns on the long crash variant: more events and several kills.
	envLong = "HITCH_WEBHOOK_LONG"
)

func TestMain(m *testing.M) {
	if os.Getenv(envChild) == "1" {
		os.Exit(runChild())
	}
	os.Exit(m.Run())
}

// runChild is the dispatcher process: what `hitch serve` runs, with a short lease so the test need not
// wait long for a killed process's leases to lapse. It stops on SIGTERM or SIGINT.
func runChild() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	s, err := store.Open(ctx, os.Getenv(envChildDB))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer s.Close()
	keys, err := secrets.Parse(os.Getenv(envChildKeys))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	d := webhook.NewDispatcher(webhook.Options{
		Store: s, Keys: keys, Log: quietLog(), Timeout: time.Second, Lease: 2 * time.Second,
		BatchSize: 50, Concurrency: 16, PollInterval: 50 * time.Millisecond,
	})
	if err := d.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// TestCrashRecovery kill -9s a dispatcher process in the middle of delivering 1,000 events, starts
// another, and checks that every event arrives at least once, each connection's events in order, and
// every copy of an event with the same webhook-id.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	events, kills := 1000, 1
	if os.Getenv(envLong) != "" {
		events, kills = 10000, 5
	}
	for _, flavor := range []string{store.FlavorSQLite, store.FlavorPostgres} {
		t.Run(flavor, func(t *testing.T) { crashRecovery(t, flavor, events, kills) })
	}
}

// arrival is one request the receiver got: which event (connection and its index) under which id.
type arrival struct {
	conn      string
	index     int
	webhookID string
}

func crashRecovery(t *testing.T, flavor string, total, kills int) {
	dbURL := storetest.URL(t, flavor)
	ctx := context.Background()
	s := storetest.OpenURL(t, dbURL)
	keys, spec := newKeys(t)
	svc := webhook.NewService(webhook.Options{Store: s, Keys: keys, Log: quietLog()})

	var (
		mu       sync.Mutex
		arrivals []arrival
		verifier *standardwebhooks.Webhook
		forged   int
	)
	rc := newReceiver(t, nil, func(_ int, w http.ResponseWriter, r *http.Request, body []byte) {
		var p struct {
			Data struct {
				Connection struct {
					ID    string `json:"id"`
					Index int    `json:"index"`
				} `json:"connection"`
			} `json:"data"`
		}
		if err := json.Unmarshal(body, &p); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		mu.Lock()
		if verifier.VerifyIgnoringTimestamp(body, r.Header) != nil {
			forged++
		}
		arrivals = append(arrivals, arrival{p.Data.Connection.ID, p.Data.Connection.Index, r.Header.Get("webhook-id")})
		mu.Unlock()
		time.Sleep(2 * time.Millisecond) // keep requests in flight when the kill comes
		w.WriteHeader(http.StatusOK)
	})
	_, secret := createEndpoint(t, svc, rc.URL())
	mu.Lock()
	verifier, _ = standardwebhooks.NewWebhook(secret)
	mu.Unlock()

	const perConn = 10
	conns := total / perConn
	err := s.InTx(ctx, func(q *store.Queries) error {
		for i := range perConn {
			for c := range conns {
				id := fmt.Sprintf("con_%04d", c)
				if _, err := events.Record(ctx, q, events.Types[i%len(events.Types)], "acme", id,
					map[string]any{"id": id, "index": i}, time.Now()); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	received := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(arrivals)
	}
	start := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), envChild+"=1", envChildDB+"="+dbURL, envChildKeys+"="+spec)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	waitFor := func(what string, cond func() bool, limit time.Duration) {
		t.Helper()
		deadline := time.Now().Add(limit)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s (%d requests received)", what, received())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	for k := 1; k <= kills; k++ {
		child := start()
		target := received() + total/(3*kills)
		waitFor("deliveries before the kill", func() bool { return received() >= target }, time.Minute)
		if err := child.Process.Kill(); err != nil { // SIGKILL: no chance to clean up
			t.Fatal(err)
		}
		_ = child.Wait()
		t.Logf("kill %d: %d requests received so far", k, received())
	}
	child := start()
	distinct := func() int {
		mu.Lock()
		defer mu.Unlock()
		seen := map[string]bool{}
		for _, a := range arrivals {
			seen[a.conn+"/"+strconv.Itoa(a.index)] = true
		}
		return len(seen)
	}
	waitFor("every event", func() bool { return distinct() == total }, 2*time.Minute)
	// The database agrees before the survivor stops: nothing pending, everything delivered.
	waitFor("every delivery recorded", func() bool {
		var n int
		_ = s.DB().Get(&n, "SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'delivered'")
		return n == total
	}, time.Minute)
	if err := child.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := child.Wait(); err != nil {
		t.Fatalf("the surviving dispatcher did not stop cleanly: %v", err)
	}

	mu.Lock()
	defer mu.Unlock()
	idOf := map[string]string{}
	last := map[string]int{}
	dups := 0
	if forged > 0 {
		t.Fatalf("%d requests failed signature verification", forged)
	}
	for i, a := range arrivals {
		key := a.conn + "/" + strconv.Itoa(a.index)
		if prev, ok := idOf[key]; ok {
			dups++
			if prev != a.webhookID {
				t.Fatalf("event %s arrived under webhook-ids %s and %s", key, prev, a.webhookID)
			}
		}
		idOf[key] = a.webhookID
		// Per connection, arrivals never go back: a repeat of the event just before is the only thing
		// allowed besides the next one.
		if p, ok := last[a.conn]; ok && a.index < p {
			t.Fatalf("arrival %d: %s event %d after event %d", i, a.conn, a.index, p)
		}
		if p, ok := last[a.conn]; (ok && a.index > p+1) || (!ok && a.index != 0) {
			t.Fatalf("arrival %d: %s event %d skipped ahead (last was %d, seen %v)", i, a.conn, a.index, p, ok)
		}
		last[a.conn] = a.index
	}
	if len(idOf) != total {
		t.Fatalf("%d distinct events arrived, want %d", len(idOf), total)
	}
	t.Logf("%s: %d events, %d requests, %d duplicates after %d kill(s)", flavor, total, len(arrivals), dups, kills)
}
