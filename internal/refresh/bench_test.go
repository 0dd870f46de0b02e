package refresh_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hitchdev/hitch/internal/catalog"
	"github.com/hitchdev/hitch/internal/connect"
	"github.com/hitchdev/hitch/internal/refresh"
	"github.com/hitchdev/hitch/internal/secrets"
	"github.com/hitchdev/hitch/internal/store"
	"github.com/hitchdev/hitch/internal/store/storetest"
)

// BenchmarkRefresh measures the worker's throughput, refreshes per second, on each database: b.N
// connections all due at once, one worker (HITCH_BENCH_CONCURRENCY refreshes in flight, default 32),
// against a local token endpoint that answers at once with rotated tokens. Each refresh is the whole
// path: lease claim, token request, sealing, and the transaction storing tokens, schedule and attempt.
//
//	go test ./internal/refresh -run '^$' -bench Refresh -benchtime 5000x
func BenchmarkRefresh(b *testing.B) {
	for _, flavor := range []string{store.FlavorSQLite, store.FlavorPostgres} {
		b.Run(flavor, func(b *testing.B) { benchRefresh(b, flavor) })
	}
}

func benchRefresh(b *testing.B, flavor string) {
	concurrency := 32
	if v, err := strconv.Atoi(os.Getenv("HITCH_BENCH_CONCURRENCY")); err == nil && v > 0 {
		concurrency = v
	}
	var issued atomic.Int64
	endpoint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.FormValue("grant_type") != "refresh_token" || r.FormValue("refresh_token") == "" {
			http.Error(w, `{"error":"invalid_request"}`, http.StatusBadRequest)
			return
		}
		n := issued.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"at-%d","token_type":"Bearer","expires_in":3600,"refresh_token":"rt-%d","scope":"read write"}`, n, n)
	}))
	defer endpoint.Close()

	ctx := context.Background()
	s := storetest.Open(b, flavor)
	spec, _ := secrets.Generate("k1")
	keys, _ := secrets.Parse(spec)
	cat, err := catalog.New([]*catalog.App{testApp(endpoint.URL + "/token")})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.UpsertTenant(ctx, "bench", "", time.Now()); err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC()
	expiry := now.Add(time.Hour)
	for done := 0; done < b.N; {
		err := s.InTx(ctx, func(q *store.Queries) error {
			for i := 0; i < 500 && done+i < b.N; i++ {
				c := store.Connection{ID: store.NewID(store.PrefixConnection), TenantKey: "bench", AppKey: appKey, Name: "bench",
					AuthType: catalog.AuthOAuth2, CreatedAt: now, UpdatedAt: now, AccessExpiresAt: &expiry, NextRefreshAt: &now}
				creds := connect.Credentials{Type: catalog.AuthOAuth2, AccessToken: "at", RefreshToken: "rt", TokenType: "Bearer", Expiry: &expiry}
				if c.Credentials, err = keys.SealJSON(creds, []byte(c.ID)); err != nil {
					return err
				}
				c.KeyID = keys.CurrentID()
				if err := q.InsertConnection(ctx, &c); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		done += 500
	}
	if err := s.Analyze(ctx); err != nil {
		b.Fatal(err)
	}
	svc := refresh.New(refresh.Options{Store: s, Catalog: cat, Keys: keys, Log: testLogger()})
	wctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup

	b.ResetTimer()
	start := time.Now()
	w := svc.Worker(refresh.WorkerOptions{Concurrency: concurrency, Poll: 10 * time.Millisecond})
	wg.Go(func() { _ = w.Run(wctx) })
	for {
		var left int
		if err := s.DB().GetContext(ctx, &left, "SELECT COUNT(*) FROM connections WHERE last_refresh_at IS NULL"); err != nil {
			b.Fatal(err)
		}
		if left == 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	cancel()
	wg.Wait()
	if got := issued.Load(); got != int64(b.N) {
		b.Fatalf("%d token requests for %d connections", got, b.N)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "refreshes/s")
}
