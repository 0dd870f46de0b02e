package webhook_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hitchdev/hitch/internal/events"
	"github.com/hitchdev/hitch/internal/store"
	"github.com/hitchdev/hitch/internal/store/storetest"
	"github.com/hitchdev/hitch/internal/webhook"
)

// BenchmarkDeliveryPostgres measures events delivered per second by one dispatcher (as in `hitch serve`)
// to a local receiver on PostgreSQL: b.N events over 1,000 connections are recorded first, then the clock
// runs from the dispatcher's start until the database shows every delivery delivered. Fan-out, claims,
// signing, the HTTP round trips and the attempt log are all inside the measurement.
//
//	go test -run '^$' -bench DeliveryPostgres -benchtime 20000x ./internal/webhook/
func BenchmarkDeliveryPostgres(b *testing.B) {
	benchDelivery(b, store.FlavorPostgres)
}

// BenchmarkDeliverySQLite is the same on the embedded database.
func BenchmarkDeliverySQLite(b *testing.B) {
	benchDelivery(b, store.FlavorSQLite)
}

func benchDelivery(b *testing.B, flavor string) {
	ctx := context.Background()
	s := storetest.Open(b, flavor)
	keys, _ := newKeys(b)
	var got atomic.Int64
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer rcv.Close()
	svc := webhook.NewService(webhook.Options{Store: s, Keys: keys, Log: quietLog()})
	createEndpoint(b, svc, rcv.URL)

	const conns = 1000
	for done := 0; done < b.N; {
		n := min(b.N-done, 5000)
		err := s.InTx(ctx, func(q *store.Queries) error {
			for i := range n {
				id := fmt.Sprintf("con_%04d", (done+i)%conns)
				if _, err := events.Record(ctx, q, events.ConnectionCreated, "acme", id, map[string]any{"id": id}, time.Now()); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		done += n
	}
	if err := s.Analyze(ctx); err != nil {
		b.Fatal(err)
	}

	d := webhook.NewDispatcher(webhook.Options{Store: s, Keys: keys, Log: quietLog()})
	runCtx, stop := context.WithCancel(ctx)
	stopped := make(chan struct{})
	b.ResetTimer()
	start := time.Now()
	go func() { defer close(stopped); _ = d.Run(runCtx) }()
	deadline := start.Add(10 * time.Minute)
	for {
		var n int
		if err := s.DB().Get(&n, "SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'delivered'"); err != nil {
			b.Fatal(err)
		}
		if n == b.N {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("only %d of %d delivered", n, b.N)
		}
		time.Sleep(20 * time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	stop()
	<-stopped
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(got.Load()), "requests")
}
