package connect_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hitchdev/hitch/internal/connect"
	"github.com/hitchdev/hitch/internal/store"
	"github.com/hitchdev/hitch/internal/store/storetest"
)

// replicas opens two stores on one fresh database, as two Hitch processes would, each with its own
// Lister.
func replicas(t *testing.T, flavor string, budget int64) (a, b *store.Store, la, lb *connect.Lister) {
	t.Helper()
	url := storetest.URL(t, flavor)
	a, b = storetest.OpenURL(t, url), storetest.OpenURL(t, url)
	return a, b, connect.NewLister(a, budget), connect.NewLister(b, budget)
}

// fresh renders what a query made now returns for f: the page every Lister must serve.
func fresh(t *testing.T, s *store.Store, f store.ConnectionFilter) []byte {
	t.Helper()
	rows, next, err := s.ListConnectionSummaries(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	return connect.AppendPageJSON(nil, rows, next)
}

type fixture struct {
	t   *testing.T
	s   *store.Store
	now time.Time
	ids map[string][]string // tenant → connection ids
}

func (fx *fixture) tick() time.Time { fx.now = fx.now.Add(time.Second); return fx.now }

func (fx *fixture) insert(s *store.Store, tenant, name string) {
	fx.t.Helper()
	c := store.Connection{ID: store.NewID(store.PrefixConnection), TenantKey: tenant, AppKey: "hubspot", Name: name,
		AuthType: "oauth2", Credentials: []byte("sealed"), KeyID: "k1", CreatedAt: fx.tick(), UpdatedAt: fx.now}
	if err := s.InsertConnection(context.Background(), &c); err != nil {
		fx.t.Fatal(err)
	}
	fx.ids[tenant] = append(fx.ids[tenant], c.ID)
}

func (fx *fixture) update(s *store.Store, tenant, id string, change func(c *store.Connection)) {
	fx.t.Helper()
	ctx := context.Background()
	c, err := s.GetConnection(ctx, id, tenant)
	if err != nil {
		fx.t.Fatal(err)
	}
	change(&c)
	if err := s.UpdateConnection(ctx, &c); err != nil {
		fx.t.Fatal(err)
	}
}

// TestListerServesWhatAQueryWould drives two replicas through a random mix of writes, each made on either
// of them, and after every write compares each replica's page for several filters with a fresh query:
// a cached page may be served only while nothing it lists has changed, on any replica.
func TestListerServesWhatAQueryWould(t *testing.T) {
	for _, flavor := range []string{store.FlavorSQLite, store.FlavorPostgres} {
		t.Run(flavor, func(t *testing.T) {
			ctx := context.Background()
			a, b, la, lb := replicas(t, flavor, 4<<20)
			fx := &fixture{t: t, now: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), ids: map[string][]string{}}
			for _, tenant := range []string{"acme", "globex"} {
				if err := a.UpsertTenant(ctx, tenant, tenant, fx.now); err != nil {
					t.Fatal(err)
				}
				for i := range 8 {
					fx.insert(a, tenant, fmt.Sprintf("%s %d", tenant, i))
				}
			}
			yes, no := true, false
			filters := []store.ConnectionFilter{
				{TenantKey: "acme"},
				{TenantKey: "acme", Limit: 3},
				{TenantKey: "acme", Disconnected: &yes},
				{TenantKey: "acme", Disconnected: &no, IncludeArchived: true},
				{TenantKey: "acme", Search: "renamed"},
				{TenantKey: "globex", IncludeArchived: true},
			}
			stores := []*store.Store{a, b}
			listers := []*connect.Lister{la, lb}
			rng := rand.New(rand.NewPCG(1, 2))
			check := func(step int, what string) {
				t.Helper()
				for i, f := range filters {
					want := fresh(t, a, f)
					for r, l := range listers {
						p, err := l.Page(ctx, f)
						if err != nil {
							t.Fatal(err)
						}
						if !bytes.Equal(p.Body, want) {
							t.Fatalf("step %d (%s), filter %d, replica %d: stale page\n got %s\nwant %s", step, what, i, r, p.Body, want)
						}
					}
				}
				// The second page of a paged list, by the cursor the first one gave.
				_, next, err := a.ListConnectionSummaries(ctx, filters[1])
				if err != nil {
					t.Fatal(err)
				}
				if next != "" {
					f := filters[1]
					f.Cursor = next
					p, err := listers[rng.IntN(2)].Page(ctx, f)
					if err != nil {
						t.Fatal(err)
					}
					if want := fresh(t, a, f); !bytes.Equal(p.Body, want) {
						t.Fatalf("step %d (%s): stale second page", step, what)
					}
				}
			}
			check(0, "start")
			for step := 1; step <= 120; step++ {
				s := stores[rng.IntN(2)]
				tenant := []string{"acme", "globex"}[rng.IntN(2)]
				ids := fx.ids[tenant]
				id := ids[rng.IntN(len(ids))]
				var what string
				switch rng.IntN(7) {
				case 0:
					what = "insert"
					fx.insert(s, tenant, fmt.Sprintf("new %d", step))
				case 1:
					what = "rename"
					fx.update(s, tenant, id, func(c *store.Connection) { c.Name = fmt.Sprintf("renamed %d", step); c.UpdatedAt = fx.tick() })
				case 2:
					what = "disconnect"
					fx.update(s, tenant, id, func(c *store.Connection) {
						c.Disconnected, c.ErrorCode, c.ErrorMessage, c.UpdatedAt = true, "invalid_grant", "revoked", fx.tick()
					})
				case 3:
					what = "reconnect"
					fx.update(s, tenant, id, func(c *store.Connection) {
						c.Disconnected, c.ErrorCode, c.ErrorMessage, c.UpdatedAt = false, "", "", fx.tick()
					})
				case 4:
					what = "archive"
					if _, _, err := s.ArchiveConnection(ctx, id, tenant, fx.tick()); err != nil {
						t.Fatal(err)
					}
				case 5:
					// Nothing listed changes (credentials only): the version must not move, and pages stay right.
					what = "reseal"
					fx.update(s, tenant, id, func(c *store.Connection) { c.Credentials = []byte(fmt.Sprint("sealed ", step)) })
				case 6:
					what = "refresh schedule"
					fx.update(s, tenant, id, func(c *store.Connection) {
						next := fx.tick().Add(time.Hour)
						c.LastRefreshAt, c.NextRefreshAt, c.RetryAttempts, c.UpdatedAt = &fx.now, &next, rng.IntN(3), fx.now
					})
				}
				check(step, what)
			}
			for r, l := range listers {
				st := l.Stats()
				// Each step reads 7 pages per replica; most steps change one tenant, so the other's pages hit.
				if st.Hits == 0 || st.Misses == 0 || st.Uncached != 0 {
					t.Errorf("replica %d: %+v, want hits and misses and nothing uncached", r, st)
				}
			}
		})
	}
}

// TestListerHitsUntilAListedColumnChanges checks the cache is used at all, and that writes outside the
// listed columns (a refresh lease) keep it.
func TestListerHitsUntilAListedColumnChanges(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		fx := &fixture{t: t, s: s, now: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), ids: map[string][]string{}}
		if err := s.UpsertTenant(ctx, "acme", "Acme", fx.now); err != nil {
			t.Fatal(err)
		}
		fx.insert(s, "acme", "one")
		fx.insert(s, "acme", "two")
		l := connect.NewLister(s, 1<<20)
		f := store.ConnectionFilter{TenantKey: "acme"}
		first, err := l.Page(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		again, _ := l.Page(ctx, f)
		if again != nil && &again.Body[0] != &first.Body[0] {
			t.Error("an unchanged list was rendered again instead of served from the cache")
		}
		id := fx.ids["acme"][0]
		if _, claimed, err := s.ClaimConnection(ctx, id, "worker-1", fx.now, fx.now.Add(time.Minute)); err != nil || !claimed {
			t.Fatalf("claim: %v %v", claimed, err)
		}
		if _, err := s.ReleaseLease(ctx, id, "worker-1"); err != nil {
			t.Fatal(err)
		}
		leased, _ := l.Page(ctx, f)
		if st := l.Stats(); st.Hits != 2 || st.Misses != 1 {
			t.Errorf("after a lease: %+v, want 2 hits and 1 miss", st)
		}
		if !bytes.Equal(leased.Body, first.Body) || leased.ETag != first.ETag {
			t.Error("a lease changed the page")
		}
		fx.update(s, "acme", id, func(c *store.Connection) { c.Name = "renamed"; c.UpdatedAt = fx.tick() })
		renamed, _ := l.Page(ctx, f)
		if !bytes.Contains(renamed.Body, []byte(`"renamed"`)) || renamed.ETag == first.ETag {
			t.Errorf("after a rename: %s (etag %s, was %s)", renamed.Body, renamed.ETag, first.ETag)
		}
	})
}

func TestListerBudgetAndBypass(t *testing.T) {
	s := storetest.Open(t, store.FlavorSQLite)
	ctx := context.Background()
	fx := &fixture{t: t, s: s, now: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), ids: map[string][]string{}}
	if err := s.UpsertTenant(ctx, "acme", "Acme", fx.now); err != nil {
		t.Fatal(err)
	}
	for i := range 40 {
		fx.insert(s, "acme", fmt.Sprint("connection ", i))
	}
	// A page of one connection is about 700 bytes with its bookkeeping; 8 KiB holds a handful.
	const budget = 8 << 10
	l := connect.NewLister(s, budget)
	for i := 1; i <= 40; i++ {
		if _, err := l.Page(ctx, store.ConnectionFilter{TenantKey: "acme", Limit: i % 3}); err != nil {
			t.Fatal(err)
		}
		if st := l.Stats(); st.Bytes > budget {
			t.Fatalf("cache holds %d bytes, budget %d", st.Bytes, budget)
		}
	}
	// A page bigger than an eighth of the budget is served but not kept.
	big, err := l.Page(ctx, store.ConnectionFilter{TenantKey: "acme", Limit: 40})
	if err != nil || bytes.Count(big.Body, []byte(`"id"`)) != 40 {
		t.Fatalf("big page: %v", err)
	}
	before := l.Stats()
	if _, err := l.Page(ctx, store.ConnectionFilter{TenantKey: "acme", Limit: 40}); err != nil {
		t.Fatal(err)
	}
	if after := l.Stats(); after.Misses != before.Misses+1 {
		t.Errorf("a page over an eighth of the budget was kept: %+v then %+v", before, after)
	}

	// Every tenant at once (an admin list) and a Lister without a budget bypass the cache.
	all, err := l.Page(ctx, store.ConnectionFilter{Limit: 5})
	if err != nil || !bytes.Equal(all.Body, fresh(t, s, store.ConnectionFilter{Limit: 5})) {
		t.Fatalf("admin page: %v", err)
	}
	off := connect.NewLister(s, 0)
	for range 2 {
		if _, err := off.Page(ctx, store.ConnectionFilter{TenantKey: "acme"}); err != nil {
			t.Fatal(err)
		}
	}
	if st := off.Stats(); st.Uncached != 2 || st.Hits+st.Misses+st.Pages != 0 {
		t.Errorf("cache off: %+v", st)
	}
	if st := l.Stats(); st.Uncached != 1 {
		t.Errorf("admin list: %+v, want one uncached", st)
	}

	// A forged cursor is the store's error, and nothing is cached for it.
	if _, err := l.Page(ctx, store.ConnectionFilter{TenantKey: "acme", Cursor: "nope"}); !errors.Is(err, store.ErrInvalidCursor) {
		t.Errorf("forged cursor: %v", err)
	}
}

// TestListerUnderConcurrentWrites reads pages while writers change the list, then checks that once the
// writers stop every reader is served the final list (run with -race).
func TestListerUnderConcurrentWrites(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		fx := &fixture{t: t, s: s, now: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), ids: map[string][]string{}}
		if err := s.UpsertTenant(ctx, "acme", "Acme", fx.now); err != nil {
			t.Fatal(err)
		}
		for i := range 20 {
			fx.insert(s, "acme", fmt.Sprint("connection ", i))
		}
		ids := fx.ids["acme"]
		l := connect.NewLister(s, 1<<20)
		f := store.ConnectionFilter{TenantKey: "acme", Limit: 10}
		stop := make(chan struct{})
		var readers, writers sync.WaitGroup
		for range 4 {
			readers.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					if _, err := l.Page(ctx, f); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		for w := range 2 {
			writers.Go(func() {
				for i := range 30 {
					id := ids[(w*7+i)%len(ids)]
					c, err := s.GetConnection(ctx, id, "acme")
					if err != nil {
						t.Error(err)
						return
					}
					c.Name = fmt.Sprintf("writer %d step %d", w, i)
					c.UpdatedAt = c.UpdatedAt.Add(time.Duration(i+1) * time.Millisecond)
					if err := s.UpdateConnection(ctx, &c); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		writers.Wait()
		close(stop)
		readers.Wait()
		p, err := l.Page(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		if want := fresh(t, s, f); !bytes.Equal(p.Body, want) {
			t.Fatalf("after the writers stopped the cache served a stale page\n got %s\nwant %s", p.Body, want)
		}
	})
}

func TestETagMatches(t *testing.T) {
	const tag = `"abc"`
	for _, tt := range []struct {
		header string
		want   bool
	}{
		{``, false},
		{`"abc"`, true},
		{`W/"abc"`, true}, // If-None-Match compares weakly
		{`"xyz", "abc"`, true},
		{`"xyz",W/"abc"`, true},
		{` , "abc"`, true},
		{`*`, true},
		{`"xyz"`, false},
		{`abc`, false},
		{`"abc`, false},
		{`"ab"c"`, false},
		{`"xyz", garbage, "abc"`, false}, // unreadable after the first tag: no match, a full response
		{`W/`, false},
		{`"ABC"`, false},
	} {
		if got := connect.ETagMatches(tt.header, tag); got != tt.want {
			t.Errorf("ETagMatches(%q) = %v, want %v", tt.header, got, tt.want)
		}
	}
}

func FuzzETagMatches(f *testing.F) {
	for _, s := range []string{`"a"`, `W/"a", "b"`, `*`, `"`, `W/`, `,,,`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		// Never panics, and matches only a header that names the tag or any tag.
		if connect.ETagMatches(header, `"tag"`) && !strings.Contains(header, `"tag"`) && !strings.Contains(header, "*") {
			t.Errorf("%q matches \"tag\"", header)
		}
	})
}

// TestListerRendersAMissOnce has many callers ask for the same uncached page at once: one renders it, the
// others wait for that render (or find it kept) instead of each querying the database.
func TestListerRendersAMissOnce(t *testing.T) {
	s := storetest.Open(t, store.FlavorPostgres) // a pool of connections: the callers' queries overlap
	ctx := context.Background()
	fx := &fixture{t: t, s: s, now: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), ids: map[string][]string{}}
	if err := s.UpsertTenant(ctx, "acme", "Acme", fx.now); err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		fx.insert(s, "acme", fmt.Sprint("connection ", i))
	}
	l := connect.NewLister(s, 1<<20)
	const callers = 32
	start := make(chan struct{})
	var wg sync.WaitGroup
	bodies := make([][]byte, callers)
	for i := range callers {
		wg.Go(func() {
			<-start
			p, err := l.Page(ctx, store.ConnectionFilter{TenantKey: "acme"})
			if err != nil {
				t.Error(err)
				return
			}
			bodies[i] = p.Body
		})
	}
	close(start)
	wg.Wait()
	st := l.Stats()
	// A caller can miss between one render's end and its page being found, so a few renders are fine;
	// without the shared render every caller would query.
	if st.Misses > 4 || st.Hits+st.Misses+st.Shared != callers {
		t.Errorf("%d callers at once: %+v", callers, st)
	}
	want := fresh(t, s, store.ConnectionFilter{TenantKey: "acme"})
	for i, b := range bodies {
		if !bytes.Equal(b, want) {
			t.Fatalf("caller %d got another page", i)
		}
	}
}

// TestListerAfterVersionsMoveBack simulates a database restored from a backup while Hitch runs: the list
// changes and its version drops below the one a kept page was rendered at. The page must not be served
// because its version is higher.
func TestListerAfterVersionsMoveBack(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		fx := &fixture{t: t, s: s, now: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), ids: map[string][]string{}}
		if err := s.UpsertTenant(ctx, "acme", "Acme", fx.now); err != nil {
			t.Fatal(err)
		}
		for i := range 5 {
			fx.insert(s, "acme", fmt.Sprint("connection ", i))
		}
		l := connect.NewLister(s, 1<<20)
		f := store.ConnectionFilter{TenantKey: "acme"}
		if _, err := l.Page(ctx, f); err != nil {
			t.Fatal(err)
		}
		fx.update(s, "acme", fx.ids["acme"][0], func(c *store.Connection) { c.Name = "restored"; c.UpdatedAt = fx.tick() })
		if _, err := s.DB().ExecContext(ctx, "UPDATE connection_list_versions SET version = 0"); err != nil {
			t.Fatal(err)
		}
		for range 2 { // the page rendered after the restore is then kept and served
			p, err := l.Page(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			if want := fresh(t, s, f); !bytes.Equal(p.Body, want) {
				t.Fatalf("after versions moved back the cache served\n%s\nwant\n%s", p.Body, want)
			}
		}
		if st := l.Stats(); st.Misses != 2 || st.Hits != 1 {
			t.Errorf("%+v, want the restored list rendered once and then served from the cache", st)
		}
	})
}
