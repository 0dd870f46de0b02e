package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/hitchdev/hitch/internal/events"
	"github.com/hitchdev/hitch/internal/store"
	"github.com/hitchdev/hitch/internal/store/storetest"
	"github.com/hitchdev/hitch/internal/webhook"
)

// TestReplicasShareTheWork runs three dispatchers on one database, as three replicas would, while events
// keep arriving: every event is delivered, each connection's in order, and (no process dying) none twice.
func TestReplicasShareTheWork(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		keys, _ := newKeys(t)
		var (
			mu   sync.Mutex
			seen = map[string]int{}
			last = map[string]int{}
			bad  []string
		)
		rc := newReceiver(t, nil, func(_ int, w http.ResponseWriter, _ *http.Request, body []byte) {
			var p struct {
				Data struct {
					Connection struct {
						ID    string `json:"id"`
						Index int    `json:"index"`
					} `json:"connection"`
				} `json:"data"`
			}
			_ = json.Unmarshal(body, &p)
			c := p.Data.Connection
			mu.Lock()
			key := fmt.Sprintf("%s/%d", c.ID, c.Index)
			seen[key]++
			if prev, ok := last[c.ID]; (ok && c.Index != prev+1) || (!ok && c.Index != 0) {
				bad = append(bad, fmt.Sprintf("%s: %d after %d", c.ID, c.Index, prev))
			}
			last[c.ID] = c.Index
			mu.Unlock()
			w.WriteHeader(http.StatusOK)
		})
		createEndpoint(t, webhook.NewService(webhook.Options{Store: s, Keys: keys, Log: quietLog()}), rc.URL())

		runCtx, stop := context.WithCancel(ctx)
		var wg sync.WaitGroup
		for range 3 {
			d := webhook.NewDispatcher(webhook.Options{Store: s, Keys: keys, Log: quietLog(), PollInterval: 20 * time.Millisecond, BatchSize: 20, Concurrency: 8})
			wg.Go(func() { _ = d.Run(runCtx) })
		}
		const conns, perConn = 40, 10
		for i := range perConn {
			err := s.InTx(ctx, func(q *store.Queries) error {
				for c := range conns {
					id := fmt.Sprintf("con_%02d", c)
					if _, err := events.Record(ctx, q, events.Types[i%len(events.Types)], "acme", id, map[string]any{"id": id, "index": i}, time.Now()); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(10 * time.Millisecond)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			mu.Lock()
			n := len(seen)
			mu.Unlock()
			if n == conns*perConn {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d events delivered", n, conns*perConn)
			}
			time.Sleep(10 * time.Millisecond)
		}
		stop()
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		if len(bad) > 0 {
			t.Fatalf("out of order: %v", bad[:min(len(bad), 5)])
		}
		for k, n := range seen {
			if n != 1 {
				t.Fatalf("%s delivered %d times", k, n)
			}
		}
	})
}
