package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/hitchdev/hitch/internal/store"
	"github.com/hitchdev/hitch/internal/store/storetest"
)

// BenchmarkListConnections reads pages of 100 from one tenant holding 10,000 connections (plus another
// tenant's rows to skip): the first page, and a page deep in the keyset.
func BenchmarkListConnections(b *testing.B) {
	for _, flavor := range []string{store.FlavorSQLite, store.FlavorPostgres} {
		b.Run(flavor, func(b *testing.B) {
			ctx := context.Background()
			s := storetest.Open(b, flavor)
			for _, key := range []string{"acme", "other"} {
				if err := s.UpsertTenant(ctx, key, key, t0); err != nil {
					b.Fatal(err)
				}
			}
			err := s.InTx(ctx, func(q *store.Queries) error {
				for i := range 12000 {
					tenant := "acme"
					if i%6 == 5 {
						tenant = "other"
					}
					c := newConnection(tenant, fmt.Sprintf("app%d", i%40))
					if err := q.InsertConnection(ctx, c); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			if n, err := s.CountConnections(ctx, store.ConnectionFilter{TenantKey: "acme"}); err != nil || n != 10000 {
				b.Fatalf("acme has %d connections, %v", n, err)
			}
			if flavor == store.FlavorPostgres {
				if _, err := s.DB().ExecContext(ctx, "ANALYZE connections"); err != nil {
					b.Fatal(err)
				}
			}
			// A cursor about half way down.
			cursor := ""
			for range 50 {
				_, next, err := s.ListConnections(ctx, store.ConnectionFilter{TenantKey: "acme", Cursor: cursor})
				if err != nil {
					b.Fatal(err)
				}
				cursor = next
			}

			for _, page := range []struct{ name, cursor string }{{"first", ""}, {"deep", cursor}} {
				b.Run(page.name, func(b *testing.B) {
					for b.Loop() {
						list, _, err := s.ListConnections(ctx, store.ConnectionFilter{TenantKey: "acme", Limit: 100, Cursor: page.cursor})
						if err != nil || len(list) != 100 {
							b.Fatalf("page of %d, %v", len(list), err)
						}
					}
				})
				// The API's list path: the summary projection.
				b.Run(page.name+"-summaries", func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						list, _, err := s.ListConnectionSummaries(ctx, store.ConnectionFilter{TenantKey: "acme", Limit: 100, Cursor: page.cursor})
						if err != nil || len(list) != 100 {
							b.Fatalf("page of %d, %v", len(list), err)
						}
					}
				})
			}
		})
	}
}
