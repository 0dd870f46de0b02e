package api_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hitchdev/hitch/internal/store"
	"github.com/hitchdev/hitch/internal/store/storetest"
)

// BenchmarkListConnectionsAPI measures GET /connections (page of 100 from
// 10,000 rows) through the whole router, in process.
func BenchmarkListConnectionsAPI(b *testing.B) {
	for _, flavor := range []string{store.FlavorSQLite, store.FlavorPostgres} {
		b.Run(flavor, func(b *testing.B) {
			s := storetest.Open(b, flavor)
			e := newEnv(b, s)
			ctx := b.Context()
			now := time.Now().UTC()
			_ = s.UpsertTenant(ctx, "bench", "", now)
			for start := 0; start < 10000; start += 1000 {
				_ = s.InTx(ctx, func(q *store.Queries) error {
					for i := start; i < start+1000; i++ {
						c := store.Connection{TenantKey: "bench", AppKey: "hubspot", Name: "HubSpot", AuthType: "oauth2",
							Credentials: []byte("sealed"), KeyID: "k", Input: map[string]string{}, CreatedAt: now, UpdatedAt: now}
						if err := q.InsertConnection(ctx, &c); err != nil {
							return err
						}
					}
					return nil
				})
			}
			_ = s.Analyze(ctx)
			tok := e.token("bench")
			h := e.srv.Config.Handler
			b.ResetTimer()
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				req := httptest.NewRequest(http.MethodGet, "/connections?limit=100", nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != 200 {
					b.Fatalf("status %d", rec.Code)
				}
			}
		})
	}
}
