package store_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hitchdev/hitch/internal/store"
	"github.com/hitchdev/hitch/internal/store/storetest"
)

// These tests pin what a cache of rendered list pages relies on (migration 00005): a tenant's
// ConnectionListVersion grows by exactly one for every committed statement that changes a column a list
// shows on one of its connections, and by nothing else.

var errListVersionBoom = errors.New("boom")

// lvVersion reads a tenant's list version.
func lvVersion(t *testing.T, q *store.Queries, tenant string) int64 {
	t.Helper()
	v, err := q.ConnectionListVersion(context.Background(), tenant)
	if err != nil {
		t.Fatalf("ConnectionListVersion(%q): %v", tenant, err)
	}
	return v
}

// lvConnection inserts a connection of tenant, due for refresh at t0, whose id falls on the given stripe
// on PostgreSQL (hashtext(id) & 63, asked of the server), so tests can put connections on the same stripe
// or on different ones. SQLite keeps every tenant on stripe 0, whatever is asked.
func lvConnection(t *testing.T, s *store.Store, tenant string, stripe int) store.Connection {
	t.Helper()
	c := newConnection(tenant, "hubspot")
	for c.ID == "" {
		id := store.NewID(store.PrefixConnection)
		if s.Flavor() != store.FlavorPostgres {
			c.ID = id
			break
		}
		var got int
		if err := s.DB().Get(&got, "SELECT hashtext($1) & 63", id); err != nil {
			t.Fatal(err)
		}
		if got == stripe {
			c.ID = id
		}
	}
	c.NextRefreshAt = ptr(t0)
	if err := s.InsertConnection(context.Background(), c); err != nil {
		t.Fatalf("InsertConnection: %v", err)
	}
	return *c
}

// lvUpdate writes a copy of c changed by mutate.
func lvUpdate(ctx context.Context, q *store.Queries, c store.Connection, mutate func(*store.Connection)) error {
	mutate(&c)
	return q.UpdateConnection(ctx, &c)
}

// lvEnv is one write-path case's world: a fresh connection of tenant "a" (due for refresh) and one of "b".
type lvEnv struct {
	s    *store.Store
	a, b store.Connection
}

// lvClaimA leases e.a to "w1" until a minute after t0.
func lvClaimA(ctx context.Context, e *lvEnv) error {
	c, claimed, err := e.s.ClaimConnection(ctx, e.a.ID, "w1", t0, t0.Add(time.Minute))
	if err == nil && !claimed {
		err = errors.New("setup claim not claimed")
	}
	e.a = c
	return err
}

// TestListVersionWritePaths runs each write path once on fresh connections and checks the exact growth of
// both tenants' versions.
func TestListVersionWritePaths(t *testing.T) {
	later := t0.Add(time.Second)
	newName := func(c *store.Connection) { c.Name = "renamed" }
	tests := []struct {
		name         string
		prep         func(ctx context.Context, e *lvEnv) error // before the versions are read
		op           func(ctx context.Context, e *lvEnv) error
		wantErr      error // matched with errors.Is; nil means success
		wantA, wantB int64 // exact growth of each tenant's version
	}{
		// Writes that change listed columns: one bump per statement, however many listed columns it changes.
		{name: "insert", wantA: 1, op: func(ctx context.Context, e *lvEnv) error {
			return e.s.InsertConnection(ctx, newConnection("a", "gmail"))
		}},
		{name: "update name", wantA: 1, op: func(ctx context.Context, e *lvEnv) error {
			return lvUpdate(ctx, e.s.Queries, e.a, newName)
		}},
		{name: "update updated_at only", wantA: 1, op: func(ctx context.Context, e *lvEnv) error {
			return lvUpdate(ctx, e.s.Queries, e.a, func(c *store.Connection) { c.UpdatedAt = later })
		}},
		{name: "update input", wantA: 1, op: func(ctx context.Context, e *lvEnv) error {
			return lvUpdate(ctx, e.s.Queries, e.a, func(c *store.Connection) { c.Input = map[string]string{"subdomain": "other"} })
		}},
		{name: "update input to none", wantA: 1, op: func(ctx context.Context, e *lvEnv) error {
			return lvUpdate(ctx, e.s.Queries, e.a, func(c *store.Connection) { c.Input = nil })
		}},
		{name: "update disconnected, error and updated_at together", wantA: 1, op: func(ctx context.Context, e *lvEnv) error {
			return lvUpdate(ctx, e.s.Queries, e.a, func(c *store.Connection) {
				c.Disconnected, c.ErrorCode, c.ErrorMessage, c.UpdatedAt = true, "revoked", "Access was revoked.", later
			})
		}},
		{name: "update error message only", wantA: 1, op: func(ctx context.Context, e *lvEnv) error {
			return lvUpdate(ctx, e.s.Queries, e.a, func(c *store.Connection) { c.ErrorMessage = "x" })
		}},
		{name: "update retry_attempts", wantA: 1, op: func(ctx context.Context, e *lvEnv) error {
			return lvUpdate(ctx, e.s.Queries, e.a, func(c *store.Connection) { c.RetryAttempts = 3 })
		}},
		{name: "update next_refresh_at to none", wantA: 1, op: func(ctx context.Context, e *lvEnv) error {
			return lvUpdate(ctx, e.s.Queries, e.a, func(c *store.Connection) { c.NextRefreshAt = nil })
		}},
		{name: "update last_refresh_at", wantA: 1, op: func(ctx context.Context, e *lvEnv) error {
			return lvUpdate(ctx, e.s.Queries, e.a, func(c *store.Connection) { c.LastRefreshAt = ptr(later) })
		}},
		{name: "update archived_at", wantA: 1, op: func(ctx context.Context, e *lvEnv) error {
			return lvUpdate(ctx, e.s.Queries, e.a, func(c *store.Connection) { c.ArchivedAt = ptr(later) })
		}},
		{name: "archive", wantA: 1, op: func(ctx context.Context, e *lvEnv) error {
			_, changed, err := e.s.ArchiveConnection(ctx, e.a.ID, "a", later)
			if err == nil && !changed {
				err = errors.New("changed = false")
			}
			return err
		}},
		{name: "finish refresh", wantA: 1, prep: lvClaimA, op: func(ctx context.Context, e *lvEnv) error {
			c := e.a
			c.Credentials, c.UpdatedAt, c.LastRefreshAt, c.NextRefreshAt = []byte("fresh"), later, ptr(later), ptr(later.Add(time.Hour))
			return e.s.FinishRefresh(ctx, &c, "w1")
		}},
		{name: "finish refresh as a failure", wantA: 1, prep: lvClaimA, op: func(ctx context.Context, e *lvEnv) error {
			c := e.a
			c.Disconnected, c.ErrorCode, c.RetryAttempts, c.UpdatedAt = true, "invalid_grant", 1, later
			return e.s.FinishRefresh(ctx, &c, "w1")
		}},
		{name: "finish refresh recorded", wantA: 1, prep: lvClaimA, op: func(ctx context.Context, e *lvEnv) error {
			c := e.a
			c.Credentials, c.UpdatedAt, c.LastRefreshAt = []byte("fresh"), later, ptr(later)
			return e.s.FinishRefreshRecorded(ctx, &c, "w1", &store.RefreshAttempt{ConnectionID: c.ID, Outcome: store.OutcomeSuccess})
		}},
		{name: "transaction: insert then update", wantA: 2, op: func(ctx context.Context, e *lvEnv) error {
			return e.s.InTx(ctx, func(q *store.Queries) error {
				c := newConnection("a", "gmail")
				if err := q.InsertConnection(ctx, c); err != nil {
					return err
				}
				return lvUpdate(ctx, q, *c, newName)
			})
		}},
		{name: "write to the other tenant only", wantB: 1, op: func(ctx context.Context, e *lvEnv) error {
			return lvUpdate(ctx, e.s.Queries, e.b, newName)
		}},
		// No store method deletes a connection or moves it between tenants; the triggers still cover both,
		// so they are checked through raw SQL.
		{name: "raw delete", wantA: 1, op: func(ctx context.Context, e *lvEnv) error {
			_, err := e.s.DB().ExecContext(ctx, e.s.DB().Rebind("DELETE FROM connections WHERE id = ?"), e.a.ID)
			return err
		}},
		{name: "raw move to the other tenant", wantA: 1, wantB: 1, op: func(ctx context.Context, e *lvEnv) error {
			_, err := e.s.DB().ExecContext(ctx, e.s.DB().Rebind("UPDATE connections SET tenant_key = ? WHERE id = ?"), "b", e.a.ID)
			return err
		}},

		// Writes that leave every listed column as it was.
		{name: "update with identical values", op: func(ctx context.Context, e *lvEnv) error {
			return lvUpdate(ctx, e.s.Queries, e.a, func(*store.Connection) {})
		}},
		{name: "update credentials and key id only", op: func(ctx context.Context, e *lvEnv) error {
			return lvUpdate(ctx, e.s.Queries, e.a, func(c *store.Connection) { c.Credentials, c.KeyID = []byte("resealed"), "k2" })
		}},
		{name: "update access expiry only", op: func(ctx context.Context, e *lvEnv) error {
			return lvUpdate(ctx, e.s.Queries, e.a, func(c *store.Connection) { c.AccessExpiresAt = ptr(later) })
		}},
		{name: "update lease only", op: func(ctx context.Context, e *lvEnv) error {
			return lvUpdate(ctx, e.s.Queries, e.a, func(c *store.Connection) { c.LeaseOwner, c.LeaseUntil = "w9", ptr(later) })
		}},
		{name: "update unknown id", wantErr: store.ErrNotFound, op: func(ctx context.Context, e *lvEnv) error {
			return lvUpdate(ctx, e.s.Queries, e.a, func(c *store.Connection) { c.ID, c.Name = store.NewID(store.PrefixConnection), "x" })
		}},
		{name: "update as the other tenant", wantErr: store.ErrNotFound, op: func(ctx context.Context, e *lvEnv) error {
			return lvUpdate(ctx, e.s.Queries, e.a, func(c *store.Connection) { c.TenantKey, c.Name = "b", "x" })
		}},
		{name: "archive again", prep: func(ctx context.Context, e *lvEnv) error {
			_, _, err := e.s.ArchiveConnection(ctx, e.a.ID, "a", t0)
			return err
		}, op: func(ctx context.Context, e *lvEnv) error {
			_, changed, err := e.s.ArchiveConnection(ctx, e.a.ID, "a", later)
			if err == nil && changed {
				err = errors.New("changed = true")
			}
			return err
		}},
		{name: "archive as the other tenant", wantErr: store.ErrNotFound, op: func(ctx context.Context, e *lvEnv) error {
			_, _, err := e.s.ArchiveConnection(ctx, e.a.ID, "b", later)
			return err
		}},
		{name: "claim", op: func(ctx context.Context, e *lvEnv) error { return lvClaimA(ctx, e) }},
		{name: "claim of a held lease", prep: lvClaimA, op: func(ctx context.Context, e *lvEnv) error {
			_, claimed, err := e.s.ClaimConnection(ctx, e.a.ID, "w2", t0, later)
			if err == nil && claimed {
				err = errors.New("claimed a held lease")
			}
			return err
		}},
		{name: "claim due", op: func(ctx context.Context, e *lvEnv) error {
			got, err := e.s.ClaimDueConnections(ctx, "w1", t0, later, store.MaxLimit, []string{"hubspot"})
			if err == nil && !slices.Contains(connIDs(got), e.a.ID) {
				err = fmt.Errorf("claimed %v, not %s", connIDs(got), e.a.ID)
			}
			return err
		}},
		{name: "release lease", prep: lvClaimA, op: func(ctx context.Context, e *lvEnv) error {
			released, err := e.s.ReleaseLease(ctx, e.a.ID, "w1")
			if err == nil && !released {
				err = errors.New("released = false")
			}
			return err
		}},
		{name: "release of a lease not held", op: func(ctx context.Context, e *lvEnv) error {
			_, err := e.s.ReleaseLease(ctx, e.a.ID, "w1")
			return err
		}},
		{name: "finish refresh writing only unlisted columns", prep: lvClaimA, op: func(ctx context.Context, e *lvEnv) error {
			c := e.a
			c.Credentials, c.KeyID, c.AccessExpiresAt = []byte("fresh"), "k2", ptr(later)
			return e.s.FinishRefresh(ctx, &c, "w1")
		}},
		{name: "finish refresh without the lease", wantErr: store.ErrLeaseLost, op: func(ctx context.Context, e *lvEnv) error {
			c := e.a
			c.UpdatedAt = later
			return e.s.FinishRefresh(ctx, &c, "w1")
		}},
		{name: "finish refresh recorded without the lease", wantErr: store.ErrLeaseLost, op: func(ctx context.Context, e *lvEnv) error {
			c := e.a
			c.UpdatedAt = later
			return e.s.FinishRefreshRecorded(ctx, &c, "w1", &store.RefreshAttempt{ConnectionID: c.ID, Outcome: store.OutcomeSuccess})
		}},
		{name: "reseal credentials", op: func(ctx context.Context, e *lvEnv) error {
			ok, err := e.s.ReplaceSealed(ctx, store.SealedColumns()[0], e.a.ID, e.a.Credentials, []byte("resealed"), "k2")
			if err == nil && !ok {
				err = errors.New("replaced = false")
			}
			return err
		}},
		{name: "reseal of stale credentials", op: func(ctx context.Context, e *lvEnv) error {
			ok, err := e.s.ReplaceSealed(ctx, store.SealedColumns()[0], e.a.ID, []byte("stale"), []byte("resealed"), "k2")
			if err == nil && ok {
				err = errors.New("replaced = true")
			}
			return err
		}},
		{name: "rolled back transaction", wantErr: errListVersionBoom, op: func(ctx context.Context, e *lvEnv) error {
			return e.s.InTx(ctx, func(q *store.Queries) error {
				if err := q.InsertConnection(ctx, newConnection("a", "gmail")); err != nil {
					return err
				}
				if err := lvUpdate(ctx, q, e.a, newName); err != nil {
					return err
				}
				if err := lvUpdate(ctx, q, e.b, newName); err != nil {
					return err
				}
				if _, _, err := q.ArchiveConnection(ctx, e.a.ID, "a", later); err != nil {
					return err
				}
				// The bumps are visible inside the transaction, so the rollback is what takes them away.
				if v, err := q.ConnectionListVersion(ctx, "a"); err != nil || v < 3 {
					return fmt.Errorf("version inside the transaction = %d, %v; want at least 3", v, err)
				}
				return errListVersionBoom
			})
		}},
	}
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		mustTenant(t, s, "a")
		mustTenant(t, s, "b")
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				e := &lvEnv{s: s, a: lvConnection(t, s, "a", 0), b: lvConnection(t, s, "b", 0)}
				if tt.prep != nil {
					if err := tt.prep(ctx, e); err != nil {
						t.Fatalf("prep: %v", err)
					}
				}
				a0, b0 := lvVersion(t, s.Queries, "a"), lvVersion(t, s.Queries, "b")
				err := tt.op(ctx, e)
				if !errors.Is(err, tt.wantErr) { // errors.Is(nil, nil) holds
					t.Fatalf("op = %v, want %v", err, tt.wantErr)
				}
				if got := lvVersion(t, s.Queries, "a") - a0; got != tt.wantA {
					t.Errorf("tenant a's version grew by %d, want %d", got, tt.wantA)
				}
				if got := lvVersion(t, s.Queries, "b") - b0; got != tt.wantB {
					t.Errorf("tenant b's version grew by %d, want %d", got, tt.wantB)
				}
			})
		}
	})
}

// TestListVersionSumsStripes checks the starting point and that stripes add up: a tenant without
// connections is at 0, and each write counts once whether or not it shares a stripe with an earlier one.
func TestListVersionSumsStripes(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		mustTenant(t, s, "a")
		mustTenant(t, s, "empty")
		for _, tenant := range []string{"a", "empty", "unknown"} {
			if v := lvVersion(t, s.Queries, tenant); v != 0 {
				t.Errorf("version of %q before any connection = %d, want 0", tenant, v)
			}
		}
		c := lvConnection(t, s, "a", 0)
		lvConnection(t, s, "a", 0)
		lvConnection(t, s, "a", 1)
		if v := lvVersion(t, s.Queries, "a"); v != 3 {
			t.Errorf("version after three inserts = %d, want 3", v)
		}
		if _, _, err := s.ArchiveConnection(ctx, c.ID, "a", t0.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		if v := lvVersion(t, s.Queries, "a"); v != 4 {
			t.Errorf("version after archiving = %d, want 4", v)
		}
		if v := lvVersion(t, s.Queries, "empty"); v != 0 {
			t.Errorf("version of a tenant without connections after others' writes = %d, want 0", v)
		}
	})
}

// TestListVersionRandomWalk runs random writes over two tenants and checks, after each, that each tenant's
// version grew by exactly one when the write changed what a list of it shows (compared as summaries read
// back from the database) and by nothing otherwise.
func TestListVersionRandomWalk(t *testing.T) {
	const steps, perTenant = 300, 10
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		tenants := []string{"a", "b"}
		ids := map[string][]string{}
		want := map[string]int64{}
		for _, k := range tenants {
			mustTenant(t, s, k)
		}
		rng := rand.New(rand.NewPCG(0x5eed, 0x11)) // fixed: a failure replays the same way
		var bumps, quiet int
		for step := range steps {
			now := t0.Add(time.Duration(step+1) * time.Second) // later each step, so a listed write always differs
			tenant := tenants[rng.IntN(len(tenants))]
			kind := rng.IntN(10)
			if len(ids[tenant]) < 3 {
				kind = 0
			}
			if kind == 0 && len(ids[tenant]) >= perTenant {
				kind = 1
			}
			var (
				desc   string
				before *store.ConnectionSummary
				intent bool // whether the step means to change a listed column
				id     string
				err    error
			)
			if kind == 0 {
				c := newConnection(tenant, "hubspot")
				c.CreatedAt, c.UpdatedAt = now, now
				err = s.InsertConnection(ctx, c)
				id, desc, intent = c.ID, "insert", true
				ids[tenant] = append(ids[tenant], c.ID)
			} else {
				id = ids[tenant][rng.IntN(len(ids[tenant]))]
				c, gerr := s.GetConnection(ctx, id, "")
				if gerr != nil {
					t.Fatal(gerr)
				}
				sum := c.Summary()
				before = &sum
				desc, intent, err = lvWalkStep(ctx, s, rng, kind, c, step, now)
			}
			if err != nil {
				t.Fatalf("step %d (%s of %s): %v", step, desc, id, err)
			}
			after, err := s.GetConnection(ctx, id, "")
			if err != nil {
				t.Fatal(err)
			}
			changed := before == nil || !reflect.DeepEqual(*before, after.Summary())
			if changed != intent {
				t.Fatalf("step %d (%s of %s): listed columns changed = %v, but the step meant %v", step, desc, id, changed, intent)
			}
			if changed {
				want[tenant]++
				bumps++
			} else {
				quiet++
			}
			for _, k := range tenants {
				if got := lvVersion(t, s.Queries, k); got != want[k] {
					t.Fatalf("step %d (%s of %s in %s): version of %s = %d, want %d", step, desc, id, tenant, k, got, want[k])
				}
			}
		}
		t.Logf("%d listed and %d unlisted writes", bumps, quiet)
		// Both kinds of write must have happened often, or the walk proved little.
		if bumps < 50 || quiet < 50 {
			t.Errorf("walk made %d listed and %d unlisted writes; want at least 50 of each", bumps, quiet)
		}
	})
}

// lvWalkStep makes one random write to c (kind 1..9) and reports what it did and whether it means to
// change a listed column.
func lvWalkStep(ctx context.Context, s *store.Store, rng *rand.Rand, kind int, c store.Connection, step int, now time.Time) (string, bool, error) {
	q := s.Queries
	live := c.ArchivedAt == nil
	switch kind {
	case 1:
		fields := []func(*store.Connection){
			func(c *store.Connection) { c.Name = fmt.Sprintf("name %d", step) },
			func(c *store.Connection) { c.UpdatedAt = now },
			func(c *store.Connection) { c.Input = map[string]string{"step": fmt.Sprint(step)} },
			func(c *store.Connection) { c.Disconnected = !c.Disconnected },
			func(c *store.Connection) { c.ErrorCode, c.ErrorMessage = fmt.Sprintf("e%d", step), "failed" },
			func(c *store.Connection) { c.RetryAttempts++ },
			func(c *store.Connection) { c.NextRefreshAt = ptr(now.Add(time.Hour)) },
			func(c *store.Connection) { c.LastRefreshAt = ptr(now) },
		}
		f := rng.IntN(len(fields))
		return fmt.Sprintf("update of listed field %d", f), true, lvUpdate(ctx, q, c, fields[f])
	case 2:
		return "update of credentials, key id and expiry", false, lvUpdate(ctx, q, c, func(c *store.Connection) {
			c.Credentials, c.KeyID, c.AccessExpiresAt = fmt.Appendf(nil, "sealed %d", step), fmt.Sprintf("k%d", step), ptr(now)
		})
	case 3:
		return "identical update", false, lvUpdate(ctx, q, c, func(*store.Connection) {})
	case 4:
		_, _, err := s.ClaimConnection(ctx, c.ID, "walker", now, now.Add(30*time.Second))
		return "claim", false, err
	case 5:
		_, err := s.ReleaseLease(ctx, c.ID, "walker")
		return "release", false, err
	case 6:
		leased := live && c.LeaseOwner == "walker"
		c.Credentials, c.UpdatedAt, c.LastRefreshAt, c.NextRefreshAt = []byte("fresh"), now, ptr(now), ptr(now.Add(time.Hour))
		var err error
		desc := "finish refresh"
		if rng.IntN(2) == 0 {
			err = s.FinishRefresh(ctx, &c, "walker")
		} else {
			desc += " recorded"
			err = s.FinishRefreshRecorded(ctx, &c, "walker", &store.RefreshAttempt{ConnectionID: c.ID, Outcome: store.OutcomeSuccess})
		}
		if !leased && errors.Is(err, store.ErrLeaseLost) {
			err = nil
		} else if !leased && err == nil {
			err = errors.New("finished without the lease")
		}
		return desc, leased, err
	case 7:
		_, changed, err := s.ArchiveConnection(ctx, c.ID, c.TenantKey, now)
		if err == nil && changed != live {
			err = fmt.Errorf("changed = %v on a connection archived = %v", changed, !live)
		}
		return "archive", live, err
	case 8:
		ok, err := s.ReplaceSealed(ctx, store.SealedColumns()[0], c.ID, c.Credentials, fmt.Appendf(nil, "resealed %d", step), "k-new")
		if err == nil && ok != (c.Credentials != nil) {
			err = fmt.Errorf("replaced = %v with credentials %q", ok, c.Credentials)
		}
		return "reseal", false, err
	default:
		err := s.InTx(ctx, func(q *store.Queries) error {
			if err := lvUpdate(ctx, q, c, func(c *store.Connection) { c.Name, c.UpdatedAt = "rolled back", now }); err != nil {
				return err
			}
			return errListVersionBoom
		})
		if errors.Is(err, errListVersionBoom) {
			err = nil
		}
		return "rolled back update", false, err
	}
}

// TestListVersionConcurrentWriters has 8 goroutines write listed columns of one tenant at once, through the
// store's own pool, half of them in InTx. Their connections come in pairs sharing a stripe, and every other
// write goes to one shared connection, so writers wait on the same stripe and on the same row. Every
// committed write must count exactly once, and none may fail (a single-row statement locks one
// connection row, then one stripe row, so it cannot deadlock).
func TestListVersionConcurrentWriters(t *testing.T) {
	const writers, writes = 8, 25
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		mustTenant(t, s, "a")
		own := make([]store.Connection, writers)
		for i := range own { // stripes 0, 0, 1, 1, 2, 2, 3, 3
			own[i] = lvConnection(t, s, "a", i/2)
		}
		shared := lvConnection(t, s, "a", 10)
		start := lvVersion(t, s.Queries, "a")

		var committed, seq atomic.Int64
		errs := make(chan error, writers*writes)
		var wg sync.WaitGroup
		for g := range writers {
			wg.Go(func() {
				for i := range writes {
					c := own[g]
					if i%2 == 1 {
						c = shared
					}
					// A name no other write uses, so every write changes its row whatever wrote it last.
					n := seq.Add(1)
					c.Name, c.UpdatedAt = fmt.Sprintf("w%d", n), t0.Add(time.Duration(n)*time.Microsecond)
					var err error
					if g%2 == 0 {
						err = s.UpdateConnection(ctx, &c)
					} else {
						err = s.InTx(ctx, func(q *store.Queries) error { return q.UpdateConnection(ctx, &c) })
					}
					if err != nil {
						errs <- fmt.Errorf("writer %d, write %d: %w", g, i, err)
						continue
					}
					committed.Add(1)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if got := lvVersion(t, s.Queries, "a") - start; got != committed.Load() || got != writers*writes {
			t.Errorf("version grew by %d after %d committed writes, want %d", got, committed.Load(), writers*writes)
		}
	})
}

// TestListVersionCrossedTransactions has two transactions each update two connections of one tenant whose
// stripes cross: the first writes stripe 0 then 1, the second stripe 1 then 0, on four different
// connections. On PostgreSQL the stripe rows can deadlock them although they share no connection; InTx
// must retry the victim, and the rolled-back attempt must leave no bump behind.
func TestListVersionCrossedTransactions(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		mustTenant(t, s, "a")
		first := [2]store.Connection{lvConnection(t, s, "a", 0), lvConnection(t, s, "a", 1)}
		second := [2]store.Connection{lvConnection(t, s, "a", 1), lvConnection(t, s, "a", 0)}
		start := lvVersion(t, s.Queries, "a")

		locked := make(chan struct{}, 2)
		var mu sync.Mutex
		var attempts [2]int
		run := func(i int, conns [2]store.Connection) error {
			return s.InTx(ctx, func(q *store.Queries) error {
				mu.Lock()
				attempts[i]++
				try := attempts[i]
				mu.Unlock()
				rename := func(c *store.Connection) { c.Name = fmt.Sprintf("tx%d-%d", i, try) }
				if err := lvUpdate(ctx, q, conns[0], rename); err != nil {
					return err
				}
				if try == 1 {
					locked <- struct{}{}
					waitForBoth(locked)
				}
				return lvUpdate(ctx, q, conns[1], rename)
			})
		}
		var wg sync.WaitGroup
		var errs [2]error
		wg.Go(func() { errs[0] = run(0, first) })
		wg.Go(func() { errs[1] = run(1, second) })
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("transaction %d: %v", i, err)
			}
		}
		t.Logf("attempts per transaction: %v", attempts)
		if got := lvVersion(t, s.Queries, "a") - start; got != 4 {
			t.Errorf("version grew by %d after two committed transactions of two writes, want 4", got)
		}
	})
}
