package store_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/hitchdev/hitch/internal/store"
	"github.com/hitchdev/hitch/internal/store/storetest"
)

// dueConnection inserts a connection whose refresh is due at due (nil: never scheduled).
func dueConnection(t *testing.T, s *store.Store, due *time.Time, mutate func(*store.Connection)) store.Connection {
	t.Helper()
	c := newConnection("acme", "sandbox-oauth")
	c.NextRefreshAt = due
	if mutate != nil {
		mutate(c)
	}
	if err := s.InsertConnection(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	return *c
}

func connIDs(cs []store.Connection) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.ID
	}
	sort.Strings(out)
	return out
}

func TestClaimDueConnections(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		mustTenant(t, s, "acme")
		now := t0.Truncate(time.Microsecond)
		early := dueConnection(t, s, ptr(now.Add(-time.Minute)), nil)
		justDue := dueConnection(t, s, ptr(now), nil)
		dueConnection(t, s, ptr(now.Add(time.Second)), nil) // not yet
		dueConnection(t, s, nil, nil)                       // never scheduled
		dueConnection(t, s, ptr(now.Add(-time.Hour)), func(c *store.Connection) { c.ArchivedAt = ptr(now) })
		dueConnection(t, s, ptr(now.Add(-time.Hour)), func(c *store.Connection) {
			c.LeaseOwner, c.LeaseUntil = "someone", ptr(now.Add(time.Second)) // held
		})
		expired := dueConnection(t, s, ptr(now.Add(-time.Hour)), func(c *store.Connection) {
			c.LeaseOwner, c.LeaseUntil = "dead", ptr(now) // lease ran out
		})
		dueConnection(t, s, ptr(now.Add(-time.Hour)), func(c *store.Connection) { c.AppKey = "unknown-app" })
		apps := []string{"sandbox-oauth", "hubspot"}
		if none, err := s.ClaimDueConnections(ctx, "w0", now, now.Add(time.Minute), 10, nil); err != nil || len(none) != 0 {
			t.Fatalf("claim for no apps: %v %v", connIDs(none), err)
		}

		until := now.Add(time.Minute)
		got, err := s.ClaimDueConnections(ctx, "w1", now, until, 10, apps)
		if err != nil {
			t.Fatal(err)
		}
		want := connIDs([]store.Connection{early, justDue, expired})
		if fmt.Sprint(connIDs(got)) != fmt.Sprint(want) {
			t.Fatalf("claimed %v, want %v", connIDs(got), want)
		}
		for _, c := range got {
			if c.LeaseOwner != "w1" || c.LeaseUntil == nil || !c.LeaseUntil.Equal(until) {
				t.Errorf("%s returned with lease %q until %v", c.ID, c.LeaseOwner, c.LeaseUntil)
			}
		}
		// Held rows are not claimed again until their lease runs out.
		if again, err := s.ClaimDueConnections(ctx, "w2", now.Add(30*time.Second), until, 10, apps); err != nil || len(again) != 2 {
			t.Fatalf("second claim: %v %v (want the row whose lease ran out and the one now due)", connIDs(again), err)
		}
		later, err := s.ClaimDueConnections(ctx, "w2", until, until.Add(time.Minute), 10, apps)
		if err != nil || len(later) != 5 { // everything due by then, the row due a second late included
			t.Fatalf("after expiry: %v %v", connIDs(later), err)
		}
		// The limit is honoured, earliest due first.
		if _, err := s.DB().ExecContext(ctx, "UPDATE connections SET lease_owner = NULL, lease_until = NULL"); err != nil {
			t.Fatal(err)
		}
		one, err := s.ClaimDueConnections(ctx, "w3", now, until, 1, apps)
		if err != nil || len(one) != 1 || one[0].ID == justDue.ID || one[0].ID == early.ID {
			t.Fatalf("limit 1 claimed %v %v; want the row due an hour ago", connIDs(one), err)
		}
		if _, err := s.ClaimDueConnections(ctx, "", now, until, 1, apps); err == nil {
			t.Fatal("claim without an owner succeeded")
		}
	})
}

// TestClaimDueConnectionsConcurrently has several claimants race over many due rows, each with its own
// pool: every row is leased exactly once.
func TestClaimDueConnectionsConcurrently(t *testing.T) {
	for _, flavor := range []string{store.FlavorSQLite, store.FlavorPostgres} {
		t.Run(flavor, func(t *testing.T) {
			ctx := context.Background()
			url := storetest.URL(t, flavor)
			open := func() *store.Store {
				s, err := store.Open(ctx, url)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = s.Close() })
				return s
			}
			first := open()
			if err := first.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			mustTenant(t, first, "acme")
			const rows = 300
			now := t0
			err := first.InTx(ctx, func(q *store.Queries) error {
				for i := range rows {
					c := newConnection("acme", "app")
					c.NextRefreshAt = ptr(now.Add(-time.Duration(i) * time.Second))
					if err := q.InsertConnection(ctx, c); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			apps := []string{"app"}
			var mu sync.Mutex
			owner := map[string]string{}
			var wg sync.WaitGroup
			errs := make(chan error, 4)
			for w := range 4 {
				s := first
				if w > 0 {
					s = open()
				}
				name := fmt.Sprintf("w%d", w)
				wg.Go(func() {
					for {
						got, err := s.ClaimDueConnections(ctx, name, now, now.Add(time.Hour), 7, apps)
						if err != nil {
							errs <- err
							return
						}
						if len(got) == 0 {
							return
						}
						mu.Lock()
						for _, c := range got {
							if prev, dup := owner[c.ID]; dup {
								errs <- fmt.Errorf("%s claimed by %s and %s", c.ID, prev, name)
							}
							owner[c.ID] = name
						}
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			if len(owner) != rows {
				t.Fatalf("%d rows claimed, want %d", len(owner), rows)
			}
		})
	}
}

func TestClaimConnectionAndFinish(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		mustTenant(t, s, "acme")
		now := t0.Truncate(time.Microsecond)
		c := dueConnection(t, s, ptr(now), nil)

		got, ok, err := s.ClaimConnection(ctx, c.ID, "a", now, now.Add(time.Minute))
		if err != nil || !ok || got.LeaseOwner != "a" {
			t.Fatalf("free claim: %v %v %q", ok, err, got.LeaseOwner)
		}
		got, ok, err = s.ClaimConnection(ctx, c.ID, "b", now.Add(time.Second), now.Add(time.Minute))
		if err != nil || ok || got.LeaseOwner != "a" {
			t.Fatalf("held claim: %v %v %q", ok, err, got.LeaseOwner)
		}
		if _, _, err := s.ClaimConnection(ctx, "con_missing", "b", now, now); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown id: %v", err)
		}

		// Only the holder may finish; finishing releases the lease.
		upd := got
		upd.Credentials, upd.KeyID = []byte("new sealed"), "k2"
		upd.AccessExpiresAt, upd.LastRefreshAt, upd.NextRefreshAt = ptr(now.Add(time.Hour)), ptr(now), ptr(now.Add(55*time.Minute))
		upd.RetryAttempts, upd.ErrorCode, upd.ErrorMessage, upd.Disconnected = 2, "server_error", "down", true
		upd.UpdatedAt = now.Add(time.Second)
		if err := s.FinishRefresh(ctx, &upd, "b"); !errors.Is(err, store.ErrLeaseLost) {
			t.Fatalf("finish by a non-holder: %v", err)
		}
		if err := s.FinishRefresh(ctx, &upd, "a"); err != nil {
			t.Fatal(err)
		}
		stored, _ := s.GetConnection(ctx, c.ID, "")
		if string(stored.Credentials) != "new sealed" || stored.KeyID != "k2" || stored.LeaseOwner != "" || stored.LeaseUntil != nil ||
			stored.RetryAttempts != 2 || !stored.Disconnected || stored.ErrorCode != "server_error" ||
			!stored.NextRefreshAt.Equal(now.Add(55*time.Minute)) || !stored.UpdatedAt.Equal(upd.UpdatedAt) {
			t.Fatalf("stored %+v", stored)
		}
		if err := s.FinishRefresh(ctx, &upd, "a"); !errors.Is(err, store.ErrLeaseLost) {
			t.Fatalf("second finish: %v", err)
		}

		// An expired lease passes to the next claimant; an archive clears any lease for good.
		if _, ok, _ := s.ClaimConnection(ctx, c.ID, "c", now, now.Add(time.Second)); !ok {
			t.Fatal("claim after finish failed")
		}
		if _, ok, _ := s.ClaimConnection(ctx, c.ID, "d", now.Add(time.Second), now.Add(time.Minute)); !ok {
			t.Fatal("expired lease was not taken over")
		}
		if released, err := s.ReleaseLease(ctx, c.ID, "c"); err != nil || released {
			t.Fatalf("stale owner released: %v %v", released, err)
		}
		if _, _, err := s.ArchiveConnection(ctx, c.ID, "", now); err != nil {
			t.Fatal(err)
		}
		if err := s.FinishRefresh(ctx, &upd, "d"); !errors.Is(err, store.ErrLeaseLost) {
			t.Fatalf("finish after archive: %v", err)
		}
		if got, ok, err := s.ClaimConnection(ctx, c.ID, "e", now.Add(time.Hour), now.Add(2*time.Hour)); err != nil || ok || got.ArchivedAt == nil {
			t.Fatalf("claimed an archived connection: %v %v", ok, err)
		}
	})
}

func TestRefreshAttempts(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		mustTenant(t, s, "acme")
		c := dueConnection(t, s, nil, nil)
		for i := range 5 {
			a := &store.RefreshAttempt{ConnectionID: c.ID, AttemptedAt: t0.Add(time.Duration(i) * time.Hour),
				Outcome: store.OutcomeTransient, ErrorCode: "server_error", ErrorMessage: "down", Duration: 1500 * time.Millisecond}
			if i == 4 {
				a.Outcome, a.ErrorCode, a.ErrorMessage = store.OutcomeSuccess, "", ""
			}
			if err := s.InsertRefreshAttempt(ctx, a); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.ListRefreshAttempts(ctx, c.ID, 3)
		if err != nil || len(got) != 3 {
			t.Fatalf("list: %d %v", len(got), err)
		}
		if got[0].Outcome != store.OutcomeSuccess || got[1].ErrorCode != "server_error" || got[1].Duration != 1500*time.Millisecond ||
			!got[0].AttemptedAt.After(got[1].AttemptedAt) {
			t.Fatalf("attempts %+v", got)
		}
		n, err := s.PruneRefreshAttempts(ctx, t0.Add(150*time.Minute), 100)
		if err != nil || n != 3 {
			t.Fatalf("pruned %d %v", n, err)
		}
		if left, _ := s.ListRefreshAttempts(ctx, c.ID, 10); len(left) != 2 {
			t.Fatalf("%d left", len(left))
		}
	})
}

func TestSealedColumns(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		mustTenant(t, s, "acme")
		col := store.SealedColumns()[0]
		var conns []store.Connection
		for i := range 5 {
			conns = append(conns, dueConnection(t, s, nil, func(c *store.Connection) {
				c.Credentials, c.KeyID = []byte(fmt.Sprintf("sealed-%d", i)), "old"
				if i == 2 {
					c.KeyID = "new"
				}
				if i == 3 {
					c.Credentials, c.KeyID = nil, ""
				}
			}))
		}
		var want []string // rows not yet under "new", in id order
		for _, c := range conns {
			if c.KeyID == "old" {
				want = append(want, c.ID)
			}
		}
		sort.Strings(want)
		got, err := s.ListSealed(ctx, col, "new", "", 2)
		if err != nil || len(got) != 2 || got[0].ID != want[0] || got[1].ID != want[1] {
			t.Fatalf("first page %+v %v, want %v", got, err, want[:2])
		}
		rest, err := s.ListSealed(ctx, col, "new", got[1].ID, 10)
		if err != nil || len(rest) != 1 || rest[0].ID != want[2] {
			t.Fatalf("rest %+v %v (want only the unrotated, non-null row)", rest, err)
		}
		if ok, err := s.ReplaceSealed(ctx, col, conns[0].ID, []byte("stale"), []byte("x"), "new"); err != nil || ok {
			t.Fatalf("replace of a changed value: %v %v", ok, err)
		}
		if ok, err := s.ReplaceSealed(ctx, col, conns[0].ID, []byte("sealed-0"), []byte("resealed"), "new"); err != nil || !ok {
			t.Fatalf("replace: %v %v", ok, err)
		}
		if c, _ := s.GetConnection(ctx, conns[0].ID, ""); string(c.Credentials) != "resealed" || c.KeyID != "new" {
			t.Fatalf("after replace: %q %q", c.Credentials, c.KeyID)
		}
		bogus := store.SealedColumn{Table: "tenants", IDColumn: "key", Column: "name"}
		if _, err := s.ListSealed(ctx, bogus, "", "", 1); err == nil {
			t.Fatal("listed a column that is not sealed")
		}
	})
}

func TestFinishRefreshRecorded(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		mustTenant(t, s, "acme")
		now := t0.Truncate(time.Microsecond)
		c := dueConnection(t, s, ptr(now), nil)
		leased, ok, err := s.ClaimConnection(ctx, c.ID, "a", now, now.Add(time.Minute))
		if err != nil || !ok {
			t.Fatal(ok, err)
		}
		leased.Credentials, leased.RetryAttempts, leased.ErrorCode, leased.NextRefreshAt = []byte("fresh"), 0, "", ptr(now.Add(time.Hour))
		attempt := &store.RefreshAttempt{ConnectionID: c.ID, AttemptedAt: now, Outcome: store.OutcomeTransient,
			ErrorCode: "server_error", ErrorMessage: "down", Duration: 42 * time.Millisecond}
		if err := s.FinishRefreshRecorded(ctx, &leased, "b", attempt); !errors.Is(err, store.ErrLeaseLost) {
			t.Fatalf("finish by a non-holder: %v", err)
		}
		if as, _ := s.ListRefreshAttempts(ctx, c.ID, 10); len(as) != 0 {
			t.Fatal("a refused finish recorded its attempt")
		}
		attempt.ID = ""
		if err := s.FinishRefreshRecorded(ctx, &leased, "a", attempt); err != nil {
			t.Fatal(err)
		}
		got, _ := s.GetConnection(ctx, c.ID, "")
		as, _ := s.ListRefreshAttempts(ctx, c.ID, 10)
		if string(got.Credentials) != "fresh" || got.LeaseOwner != "" || !got.NextRefreshAt.Equal(now.Add(time.Hour)) ||
			len(as) != 1 || as[0].ErrorCode != "server_error" || as[0].ErrorMessage != "down" || as[0].Duration != 42*time.Millisecond ||
			!as[0].AttemptedAt.Equal(now) {
			t.Fatalf("after finish: %+v %+v", got, as)
		}
	})
}
