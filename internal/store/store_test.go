package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hitchdev/hitch/internal/store"
	"github.com/hitchdev/hitch/internal/store/storetest"
)

// t0 has nanoseconds and a non-UTC zone on purpose: the store must hand back UTC microseconds.
var t0 = time.Date(2026, 3, 14, 15, 9, 26, 535897932, time.FixedZone("X", 3600))

func ptr[T any](v T) *T { return &v }

func mustTenant(t *testing.T, s *store.Store, key string) {
	t.Helper()
	if err := s.UpsertTenant(context.Background(), key, "Tenant "+key, t0); err != nil {
		t.Fatalf("UpsertTenant(%q): %v", key, err)
	}
}

func newConnection(tenant, app string) *store.Connection {
	return &store.Connection{
		TenantKey: tenant, AppKey: app, Name: app + " account", AuthType: "oauth2",
		Credentials: []byte("sealed"), KeyID: "k1", Input: map[string]string{"subdomain": "acme"},
		CreatedAt: t0, UpdatedAt: t0,
	}
}

func mustConnection(t *testing.T, s *store.Store, tenant, app string) store.Connection {
	t.Helper()
	c := newConnection(tenant, app)
	if err := s.InsertConnection(context.Background(), c); err != nil {
		t.Fatalf("InsertConnection: %v", err)
	}
	return *c
}

func TestOpenRejectsBadURLs(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name, url, wantInErr string
	}{
		{"unknown scheme", "mysql://u:hunter2@localhost/db", "unsupported"},
		{"no scheme", "./data/hitch.db", "no scheme"},
		{"credentials before scheme", "u:hunter2@db://x", "unsupported"},
		{"empty sqlite path", "sqlite://", "no file path"},
		{"sqlite query", "sqlite://./x.db?mode=ro", "must not contain"},
		{"postgres unreachable", "postgres://u:hunter2@127.0.0.1:1/db?sslmode=disable&connect_timeout=2", "open"},
		{"postgres password param", "postgres://u@127.0.0.1:1/db?sslmode=disable&password=hunter2&connect_timeout=2", "open"},
		{"postgres malformed", "postgres://u:hunter2@127.0.0.1:notaport/db", "malformed"},
		{"postgres prepared switch", "postgres://u:hunter2@127.0.0.1:1/db?hitch_prepared_statements=maybe", "want on or off"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := store.Open(ctx, tt.url)
			if err == nil {
				_ = s.Close()
				t.Fatalf("Open(%q) succeeded, want error", tt.url)
			}
			if !strings.Contains(err.Error(), tt.wantInErr) {
				t.Errorf("Open error %q does not mention %q", err, tt.wantInErr)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("Open error leaks the password: %q", err)
			}
		})
	}
}

func TestOpenSQLiteCreatesPrivateDirectory(t *testing.T) {
	t.Chdir(t.TempDir())
	s, err := store.Open(context.Background(), "sqlite://./data/nested/hitch.db")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := s.Flavor(); got != store.FlavorSQLite {
		t.Errorf("Flavor() = %q, want sqlite", got)
	}
	for _, dir := range []string{"data", "data/nested"} {
		fi, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			t.Errorf("%s has mode %v, want no group/other access", dir, perm)
		}
	}
	if err := s.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().Exec("CREATE TABLE canary (x INTEGER)"); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"hitch.db", "hitch.db-wal", "hitch.db-shm"} {
		fi, err := os.Stat(filepath.Join("data", "nested", name))
		if err != nil {
			t.Errorf("%s not created: %v", name, err)
			continue
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			t.Errorf("%s has mode %v, want no group/other access", name, perm)
		}
	}
}

func TestPragmas(t *testing.T) {
	s := storetest.Open(t, store.FlavorSQLite)
	var mode string
	var fk, timeout int
	db := s.DB()
	if err := db.Get(&mode, "PRAGMA journal_mode"); err != nil {
		t.Fatal(err)
	}
	if err := db.Get(&fk, "PRAGMA foreign_keys"); err != nil {
		t.Fatal(err)
	}
	if err := db.Get(&timeout, "PRAGMA busy_timeout"); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" || fk != 1 || timeout != 10000 {
		t.Errorf("journal_mode=%s foreign_keys=%d busy_timeout=%d, want wal 1 10000", mode, fk, timeout)
	}
}

func TestMigrate(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("second Migrate: %v", err)
		}
		v, err := s.MigrationVersion(ctx)
		if err != nil || v != 5 {
			t.Fatalf("MigrationVersion() = %d, %v; want 5", v, err)
		}
		for _, table := range []string{"tenants", "connections", "connect_sessions", "events", "webhook_endpoints",
			"webhook_deliveries", "webhook_attempts", "app_settings", "admins", "refresh_attempts", "connection_list_versions"} {
			var n int
			if err := s.DB().Get(&n, "SELECT COUNT(*) FROM "+table); err != nil {
				t.Errorf("table %s: %v", table, err)
			}
		}
	})
}

func TestMigrateConcurrently(t *testing.T) {
	for _, flavor := range []string{store.FlavorSQLite, store.FlavorPostgres} {
		t.Run(flavor, func(t *testing.T) {
			ctx := context.Background()
			url := storetest.URL(t, flavor)
			stores := make([]*store.Store, 3)
			for i := range stores {
				s, err := store.Open(ctx, url)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = s.Close() })
				stores[i] = s
			}
			if v, err := stores[0].MigrationVersion(ctx); err != nil || v != 0 {
				t.Fatalf("MigrationVersion() before Migrate = %d, %v; want 0", v, err)
			}
			errs := make([]error, len(stores))
			var wg sync.WaitGroup
			for i, s := range stores {
				wg.Go(func() { errs[i] = s.Migrate(ctx) })
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("replica %d Migrate: %v", i, err)
				}
			}
			var applied int
			if err := stores[0].DB().Get(&applied, "SELECT COUNT(*) FROM schema_migrations WHERE version_id = 1"); err != nil {
				t.Fatal(err)
			}
			if applied != 1 {
				t.Errorf("migration 1 recorded %d times, want 1", applied)
			}
		})
	}
}

func TestNewIDIsUniqueAndTimeOrdered(t *testing.T) {
	seen := map[string]bool{}
	prev := store.NewID("con")
	for range 2000 {
		id := store.NewID("con")
		if len(id) != len("con_")+26 || !strings.HasPrefix(id, "con_") {
			t.Fatalf("NewID = %q, want con_ + 26 chars", id)
		}
		if strings.ContainsAny(id[4:], "ilouABCDEFGHIJKLMNOPQRSTUVWXYZ") {
			t.Fatalf("NewID = %q has characters outside lowercase Crockford base32", id)
		}
		if seen[id] {
			t.Fatalf("NewID repeated %q", id)
		}
		seen[id] = true
		prev = id
	}
	time.Sleep(2 * time.Millisecond)
	if later := store.NewID("con"); later <= prev {
		t.Errorf("id made later %q does not sort after %q", later, prev)
	}
}

func TestTenants(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		if _, err := s.GetTenant(ctx, "acme"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("GetTenant(unknown) = %v, want ErrNotFound", err)
		}
		steps := []struct {
			name, give string
			at         time.Time
			wantName   string
			wantUpdate time.Time
		}{
			{"created", "Acme", t0, "Acme", t0},
			{"empty name keeps", "", t0.Add(time.Hour), "Acme", t0},
			{"same name keeps timestamp", "Acme", t0.Add(2 * time.Hour), "Acme", t0},
			{"new name", "Acme Inc", t0.Add(3 * time.Hour), "Acme Inc", t0.Add(3 * time.Hour)},
		}
		for _, st := range steps {
			if err := s.UpsertTenant(ctx, "acme", st.give, st.at); err != nil {
				t.Fatalf("%s: UpsertTenant: %v", st.name, err)
			}
			got, err := s.GetTenant(ctx, "acme")
			if err != nil {
				t.Fatalf("%s: GetTenant: %v", st.name, err)
			}
			want := store.Tenant{Key: "acme", Name: st.wantName, CreatedAt: t0.UTC().Truncate(time.Microsecond),
				UpdatedAt: st.wantUpdate.UTC().Truncate(time.Microsecond)}
			if got != want {
				t.Errorf("%s: got %+v, want %+v", st.name, got, want)
			}
		}

		for i := range 7 {
			if err := s.UpsertTenant(ctx, fmt.Sprintf("t%02d", i), fmt.Sprintf("Team %d", i), t0); err != nil {
				t.Fatal(err)
			}
		}
		var keys []string
		cursor := ""
		for {
			page, next, err := s.ListTenants(ctx, store.TenantFilter{Limit: 3, Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			for _, tn := range page {
				keys = append(keys, tn.Key)
			}
			if next == "" {
				break
			}
			cursor = next
		}
		if got := strings.Join(keys, ","); got != "acme,t00,t01,t02,t03,t04,t05,t06" {
			t.Errorf("ListTenants pages = %s", got)
		}
		found, _, err := s.ListTenants(ctx, store.TenantFilter{Search: "TEAM 3"})
		if err != nil || len(found) != 1 || found[0].Key != "t03" {
			t.Errorf("ListTenants(search TEAM 3) = %+v, %v; want t03", found, err)
		}
	})
}

func TestConnectionCRUD(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		mustTenant(t, s, "acme")
		c := newConnection("acme", "hubspot")
		if err := s.InsertConnection(ctx, c); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(c.ID, "con_") {
			t.Errorf("InsertConnection assigned id %q, want con_ prefix", c.ID)
		}
		if !c.CreatedAt.Equal(t0.Truncate(time.Microsecond)) || c.CreatedAt.Location() != time.UTC {
			t.Errorf("CreatedAt = %v, want %v in UTC", c.CreatedAt, t0.Truncate(time.Microsecond))
		}
		got, err := s.GetConnection(ctx, c.ID, "acme")
		if err != nil {
			t.Fatal(err)
		}
		assertConnection(t, got, *c)

		dup := *c
		if err := s.InsertConnection(ctx, &dup); !errors.Is(err, store.ErrConflict) {
			t.Errorf("duplicate InsertConnection = %v, want ErrConflict", err)
		}
		orphan := newConnection("nobody", "hubspot")
		if err := s.InsertConnection(ctx, orphan); err == nil {
			t.Error("InsertConnection for a missing tenant succeeded")
		}

		later := t0.Add(time.Hour).UTC().Truncate(time.Microsecond)
		upd := got
		upd.Name = "Sales HubSpot"
		upd.Credentials = []byte("resealed")
		upd.KeyID = "k2"
		upd.Input = map[string]string{"region": "eu"}
		upd.Disconnected = true
		upd.ErrorCode, upd.ErrorMessage = "invalid_grant", "revoked by user"
		upd.UpdatedAt = later
		upd.AccessExpiresAt = ptr(later.Add(time.Hour))
		upd.LastRefreshAt = ptr(later)
		upd.NextRefreshAt = ptr(later.Add(50 * time.Minute))
		upd.RetryAttempts = 3
		upd.LeaseOwner, upd.LeaseUntil = "worker-1", ptr(later.Add(time.Minute))
		if err := s.UpdateConnection(ctx, &upd); err != nil {
			t.Fatal(err)
		}
		got, err = s.GetConnection(ctx, c.ID, "")
		if err != nil {
			t.Fatal(err)
		}
		assertConnection(t, got, upd)

		// Clearing optional fields must store NULLs that read back empty.
		upd.ErrorCode, upd.ErrorMessage, upd.LeaseOwner, upd.LeaseUntil, upd.NextRefreshAt = "", "", "", nil, nil
		upd.Credentials, upd.Input = nil, nil
		if err := s.UpdateConnection(ctx, &upd); err != nil {
			t.Fatal(err)
		}
		got, err = s.GetConnection(ctx, c.ID, "acme")
		if err != nil {
			t.Fatal(err)
		}
		upd.Input = map[string]string{}
		assertConnection(t, got, upd)

		missing := upd
		missing.ID = store.NewID("con")
		if err := s.UpdateConnection(ctx, &missing); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("UpdateConnection(unknown) = %v, want ErrNotFound", err)
		}
		if _, err := s.GetConnection(ctx, missing.ID, ""); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetConnection(unknown) = %v, want ErrNotFound", err)
		}
	})
}

func assertConnection(t *testing.T, got, want store.Connection) {
	t.Helper()
	g, w := fmt.Sprintf("%+v", flatten(got)), fmt.Sprintf("%+v", flatten(want))
	if g != w {
		t.Errorf("connection mismatch\n got %s\nwant %s", g, w)
	}
}

// flatten renders pointers and times by value so connections compare by content.
func flatten(c store.Connection) map[string]any {
	tm := func(p *time.Time) string {
		if p == nil {
			return "nil"
		}
		return p.UTC().Format(time.RFC3339Nano)
	}
	return map[string]any{
		"id": c.ID, "tenant": c.TenantKey, "app": c.AppKey, "name": c.Name, "auth": c.AuthType,
		"cred": string(c.Credentials), "credNil": c.Credentials == nil, "key": c.KeyID, "input": c.Input,
		"disc": c.Disconnected, "ecode": c.ErrorCode, "emsg": c.ErrorMessage,
		"created": tm(&c.CreatedAt), "updated": tm(&c.UpdatedAt), "archived": tm(c.ArchivedAt),
		"access": tm(c.AccessExpiresAt), "last": tm(c.LastRefreshAt), "next": tm(c.NextRefreshAt),
		"retry": c.RetryAttempts, "lease": c.LeaseOwner, "leaseUntil": tm(c.LeaseUntil),
	}
}

func TestTenantIsolation(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		mustTenant(t, s, "acme")
		mustTenant(t, s, "globex")
		mine := mustConnection(t, s, "acme", "hubspot")
		theirs := mustConnection(t, s, "globex", "hubspot")

		if _, err := s.GetConnection(ctx, theirs.ID, "acme"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetConnection(other tenant's id) = %v, want ErrNotFound", err)
		}
		if _, _, err := s.ArchiveConnection(ctx, theirs.ID, "acme", t0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("ArchiveConnection(other tenant's id) = %v, want ErrNotFound", err)
		}
		if c, err := s.GetConnection(ctx, theirs.ID, "globex"); err != nil || c.ArchivedAt != nil {
			t.Errorf("other tenant's connection after cross-tenant archive: %+v, %v", c, err)
		}
		spoof := theirs
		spoof.TenantKey = "acme"
		spoof.Name = "hijacked"
		if err := s.UpdateConnection(ctx, &spoof); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("UpdateConnection with the wrong tenant = %v, want ErrNotFound", err)
		}

		list, _, err := s.ListConnections(ctx, store.ConnectionFilter{TenantKey: "acme", Search: "hubspot"})
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 1 || list[0].ID != mine.ID {
			t.Errorf("tenant list = %v, want only %s", ids(list), mine.ID)
		}
		list, _, err = s.ListConnections(ctx, store.ConnectionFilter{TenantKey: "globex"})
		if err != nil || len(list) != 1 || list[0].ID != theirs.ID {
			t.Fatalf("globex list = %v, %v", ids(list), err)
		}
		all, _, err := s.ListConnections(ctx, store.ConnectionFilter{})
		if err != nil || len(all) != 2 {
			t.Errorf("admin list = %v, %v; want both tenants", ids(all), err)
		}
		if n, err := s.CountConnections(ctx, store.ConnectionFilter{TenantKey: "acme"}); err != nil || n != 1 {
			t.Errorf("CountConnections(acme) = %d, %v; want 1", n, err)
		}
	})
}

func ids(cs []store.Connection) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.ID
	}
	return out
}

func TestConnectionFilters(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		mustTenant(t, s, "acme")
		mustTenant(t, s, "Big_Corp")
		hub := mustConnection(t, s, "acme", "hubspot")
		gmail := mustConnection(t, s, "acme", "gmail")
		stripe := mustConnection(t, s, "acme", "stripe")
		pct := newConnection("acme", "notion")
		pct.Name = "100% Notion!"
		if err := s.InsertConnection(ctx, pct); err != nil {
			t.Fatal(err)
		}
		big := mustConnection(t, s, "Big_Corp", "slack")

		gmail.Disconnected = true
		gmail.ErrorCode, gmail.ErrorMessage = "invalid_grant", "The refresh token was revoked."
		gmail.LastRefreshAt, gmail.NextRefreshAt = ptr(t0.Add(time.Minute)), ptr(t0.Add(time.Hour))
		gmail.AccessExpiresAt, gmail.RetryAttempts = ptr(t0.Add(time.Hour)), 3
		gmail.LeaseOwner, gmail.LeaseUntil = "w1", ptr(t0.Add(time.Second))
		gmail.Input = map[string]string{}
		if err := s.UpdateConnection(ctx, &gmail); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.ArchiveConnection(ctx, stripe.ID, "acme", t0); err != nil {
			t.Fatal(err)
		}

		tests := []struct {
			name string
			f    store.ConnectionFilter
			want []string
		}{
			{"live only by default", store.ConnectionFilter{TenantKey: "acme"}, []string{hub.ID, gmail.ID, pct.ID}},
			{"include archived", store.ConnectionFilter{TenantKey: "acme", IncludeArchived: true}, []string{hub.ID, gmail.ID, stripe.ID, pct.ID}},
			{"app key", store.ConnectionFilter{TenantKey: "acme", AppKey: "gmail"}, []string{gmail.ID}},
			{"disconnected", store.ConnectionFilter{TenantKey: "acme", Disconnected: ptr(true)}, []string{gmail.ID}},
			{"connected", store.ConnectionFilter{TenantKey: "acme", Disconnected: ptr(false)}, []string{hub.ID, pct.ID}},
			{"search name any case", store.ConnectionFilter{TenantKey: "acme", Search: "HUBSPOT ACC"}, []string{hub.ID}},
			{"search app key", store.ConnectionFilter{Search: "slac"}, []string{big.ID}},
			{"search id", store.ConnectionFilter{Search: strings.ToUpper(hub.ID[4:])}, []string{hub.ID}},
			{"search tenant key", store.ConnectionFilter{Search: "big_corp"}, []string{big.ID}},
			{"percent is literal", store.ConnectionFilter{Search: "0%"}, []string{pct.ID}},
			{"escape character is literal", store.ConnectionFilter{Search: "n!"}, []string{pct.ID}},
			{"underscore is literal", store.ConnectionFilter{Search: "g_c"}, []string{big.ID}},
			{"wildcard matches nothing", store.ConnectionFilter{Search: "h%t"}, nil},
			{"no match", store.ConnectionFilter{TenantKey: "acme", Search: "salesforce"}, nil},
		}
		for _, tt := range tests {
			got, next, err := s.ListConnections(ctx, tt.f)
			if err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			if next != "" {
				t.Errorf("%s: next cursor %q on a single page", tt.name, next)
			}
			if !sameSet(ids(got), tt.want) {
				t.Errorf("%s: got %v, want %v", tt.name, ids(got), tt.want)
			}
			n, err := s.CountConnections(ctx, tt.f)
			if err != nil || n != len(tt.want) {
				t.Errorf("%s: CountConnections = %d, %v; want %d", tt.name, n, err, len(tt.want))
			}
			// The list projection selects the same rows and the same listed fields.
			sums, next, err := s.ListConnectionSummaries(ctx, tt.f)
			if err != nil || next != "" || len(sums) != len(got) {
				t.Fatalf("%s: ListConnectionSummaries = %d rows, next %q, %v; want %d rows", tt.name, len(sums), next, err, len(got))
			}
			for i := range got {
				want := got[i].Summary()
				if len(want.Input) == 0 {
					want.Input = nil
				}
				if !reflect.DeepEqual(sums[i], want) {
					t.Errorf("%s: summary %d\n got %+v\nwant %+v", tt.name, i, sums[i], want)
				}
			}
		}
	})
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]int{}
	for _, x := range a {
		m[x]++
	}
	for _, x := range b {
		m[x]--
	}
	for _, v := range m {
		if v != 0 {
			return false
		}
	}
	return true
}

func TestConnectionPagination(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		mustTenant(t, s, "acme")
		mustTenant(t, s, "other")
		original := map[string]bool{}
		err := s.InTx(ctx, func(q *store.Queries) error {
			for i := range 250 {
				c := newConnection("acme", fmt.Sprintf("app%d", i%7))
				if err := q.InsertConnection(ctx, c); err != nil {
					return err
				}
				original[c.ID] = true
				if i%10 == 0 {
					if err := q.InsertConnection(ctx, newConnection("other", "noise")); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}

		seen := map[string]bool{}
		var sizes []int
		prev := "\xff"
		cursor := ""
		for page := 0; ; page++ {
			if page > 10 {
				t.Fatal("pagination does not end")
			}
			list, next, err := s.ListConnections(ctx, store.ConnectionFilter{TenantKey: "acme", Limit: 100, Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			sums, sumNext, err := s.ListConnectionSummaries(ctx, store.ConnectionFilter{TenantKey: "acme", Limit: 100, Cursor: cursor})
			if err != nil || sumNext != next || len(sums) != len(list) || len(sums) > 0 && sums[0].ID != list[0].ID {
				t.Fatalf("page %d: summaries (%d rows, next %q, %v) differ from the full rows (%d, %q)", page, len(sums), sumNext, err, len(list), next)
			}
			sizes = append(sizes, len(list))
			for _, c := range list {
				if seen[c.ID] {
					t.Errorf("page %d repeats %s", page, c.ID)
				}
				if c.TenantKey != "acme" {
					t.Errorf("page %d has %s of tenant %s", page, c.ID, c.TenantKey)
				}
				if c.ID >= prev {
					t.Errorf("page %d: %s is not older than %s", page, c.ID, prev)
				}
				seen[c.ID], prev = true, c.ID
			}
			if page == 0 {
				// Rows added while a client pages must not shift the pages it has not read yet.
				for range 10 {
					mustConnection(t, s, "acme", "late")
				}
			}
			if next == "" {
				break
			}
			cursor = next
		}
		for id := range original {
			if !seen[id] {
				t.Errorf("connection %s never listed", id)
			}
		}
		if len(seen) == 250 && fmt.Sprint(sizes) != "[100 100 50]" {
			t.Errorf("page sizes %v, want [100 100 50]", sizes)
		}

		first, _, err := s.ListConnections(ctx, store.ConnectionFilter{TenantKey: "acme"})
		if err != nil || len(first) != store.DefaultLimit {
			t.Errorf("default page has %d rows, %v; want %d", len(first), err, store.DefaultLimit)
		}
		one, next, err := s.ListConnections(ctx, store.ConnectionFilter{TenantKey: "acme", Limit: -5})
		if err != nil || len(one) != store.DefaultLimit || next == "" {
			t.Errorf("negative limit page has %d rows, %v", len(one), err)
		}
	})
}

func TestInvalidCursor(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		for _, cursor := range []string{"!!!", "a b", "Zm9v=", "J29yICcxJz0nMSc" /* "'or '1'='1" */, "4oCU"} {
			if _, _, err := s.ListConnections(ctx, store.ConnectionFilter{Cursor: cursor}); !errors.Is(err, store.ErrInvalidCursor) {
				t.Errorf("ListConnections(cursor %q) = %v, want ErrInvalidCursor", cursor, err)
			}
			if _, _, err := s.ListConnectionSummaries(ctx, store.ConnectionFilter{Cursor: cursor}); !errors.Is(err, store.ErrInvalidCursor) {
				t.Errorf("ListConnectionSummaries(cursor %q) = %v, want ErrInvalidCursor", cursor, err)
			}
			if _, _, err := s.ListEvents(ctx, store.EventFilter{Cursor: cursor}); !errors.Is(err, store.ErrInvalidCursor) {
				t.Errorf("ListEvents(cursor %q) = %v, want ErrInvalidCursor", cursor, err)
			}
		}
		if _, _, err := s.ListTenants(ctx, store.TenantFilter{Cursor: "%%%"}); !errors.Is(err, store.ErrInvalidCursor) {
			t.Errorf("ListTenants(garbage) = %v, want ErrInvalidCursor", err)
		}
		if _, _, err := s.ListEvents(ctx, store.EventFilter{Cursor: "LTE"} /* "-1" */); !errors.Is(err, store.ErrInvalidCursor) {
			t.Errorf("ListEvents(negative seq) = %v, want ErrInvalidCursor", err)
		}
	})
}

func TestArchiveConnection(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		mustTenant(t, s, "acme")
		c := newConnection("acme", "hubspot")
		c.NextRefreshAt, c.LeaseOwner, c.LeaseUntil = ptr(t0.Add(time.Hour)), "w1", ptr(t0.Add(time.Minute))
		if err := s.InsertConnection(ctx, c); err != nil {
			t.Fatal(err)
		}
		at := t0.Add(2 * time.Hour)
		got, changed, err := s.ArchiveConnection(ctx, c.ID, "acme", at)
		if err != nil || !changed {
			t.Fatalf("ArchiveConnection = changed %v, %v; want true", changed, err)
		}
		want := at.UTC().Truncate(time.Microsecond)
		if got.ArchivedAt == nil || !got.ArchivedAt.Equal(want) || !got.UpdatedAt.Equal(want) {
			t.Errorf("archived_at %v updated_at %v, want %v", got.ArchivedAt, got.UpdatedAt, want)
		}
		if got.Credentials != nil || got.KeyID != "" || got.NextRefreshAt != nil || got.LeaseOwner != "" || got.LeaseUntil != nil {
			t.Errorf("archive kept secrets or schedule: %+v", got)
		}
		stored, err := s.GetConnection(ctx, c.ID, "acme")
		if err != nil || stored.Credentials != nil || stored.ArchivedAt == nil {
			t.Errorf("stored after archive: %+v, %v", stored, err)
		}

		again, changed, err := s.ArchiveConnection(ctx, c.ID, "", at.Add(time.Hour))
		if err != nil || changed {
			t.Fatalf("second ArchiveConnection = changed %v, %v; want false", changed, err)
		}
		if !again.ArchivedAt.Equal(want) {
			t.Errorf("second archive moved archived_at to %v", again.ArchivedAt)
		}
		if _, _, err := s.ArchiveConnection(ctx, store.NewID("con"), "", at); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("ArchiveConnection(unknown) = %v, want ErrNotFound", err)
		}

		// Of concurrent archivers exactly one reports the change (and would record the event).
		fresh := mustConnection(t, s, "acme", "gmail")
		var wins sync.WaitGroup
		results := make([]bool, 8)
		errs := make([]error, 8)
		for i := range results {
			wins.Go(func() { _, results[i], errs[i] = s.ArchiveConnection(ctx, fresh.ID, "acme", at) })
		}
		wins.Wait()
		n := 0
		for i := range results {
			if errs[i] != nil {
				t.Errorf("concurrent archive: %v", errs[i])
			}
			if results[i] {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d concurrent archivers saw changed=true, want 1", n)
		}
	})
}

func newSession(tenant, code string) *store.Session {
	return &store.Session{
		TenantKey: tenant, TenantName: "Acme", Intent: "crm", CodeHash: code, HostOrigin: "https://app.example",
		CreatedAt: t0, ExpiresAt: t0.Add(30 * time.Minute),
	}
}

func TestSessions(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		mustTenant(t, s, "acme")
		sess := newSession("acme", "hash-1")
		if err := s.InsertSession(ctx, sess); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(sess.ID, "cs_") || sess.Status != store.SessionPending {
			t.Errorf("InsertSession gave id %q status %q", sess.ID, sess.Status)
		}
		for name, get := range map[string]func() (store.Session, error){
			"by id":   func() (store.Session, error) { return s.GetSession(ctx, sess.ID) },
			"by code": func() (store.Session, error) { return s.GetSessionByCodeHash(ctx, "hash-1") },
		} {
			got, err := get()
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", *sess) {
				t.Errorf("%s:\n got %+v\nwant %+v", name, got, *sess)
			}
		}
		// Unset hashes are NULL, so any number of sessions may lack them.
		for range 2 {
			if err := s.InsertSession(ctx, newSession("acme", "")); err != nil {
				t.Fatalf("session without code: %v", err)
			}
		}
		if err := s.InsertSession(ctx, newSession("acme", "hash-1")); !errors.Is(err, store.ErrConflict) {
			t.Errorf("duplicate code hash = %v, want ErrConflict", err)
		}
		if _, err := s.GetSessionByCodeHash(ctx, ""); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetSessionByCodeHash(\"\") = %v, want ErrNotFound", err)
		}

		conn := mustConnection(t, s, "acme", "hubspot")
		upd := *sess
		upd.AppKey, upd.OAuthStateHash, upd.OAuthData = "hubspot", "state-1", []byte("sealed verifier")
		upd.Status, upd.ResultConnectionID = store.SessionCompleted, conn.ID
		upd.Detached, upd.UpdatedAt = true, t0.Add(time.Minute).UTC().Truncate(time.Microsecond)
		if err := s.UpdateSession(ctx, &upd); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetSessionByStateHash(ctx, "state-1")
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", upd) {
			t.Errorf("after update:\n got %+v\nwant %+v", got, upd)
		}
		bad := upd
		bad.Status = "exploded"
		if err := s.UpdateSession(ctx, &bad); err == nil {
			t.Error("UpdateSession accepted an unknown status")
		}
		bad = upd
		bad.ID = store.NewID("cs")
		if err := s.UpdateSession(ctx, &bad); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("UpdateSession(unknown) = %v, want ErrNotFound", err)
		}
		if _, err := s.GetSession(ctx, bad.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetSession(unknown) = %v, want ErrNotFound", err)
		}

		err = s.InTx(ctx, func(q *store.Queries) error {
			locked, err := q.GetSessionForUpdate(ctx, sess.ID)
			if err == nil && locked.Status != store.SessionCompleted {
				err = fmt.Errorf("locked session status %q", locked.Status)
			}
			return err
		})
		if err != nil {
			t.Errorf("GetSessionForUpdate: %v", err)
		}
	})
}

func TestClaimSessionCode(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		mustTenant(t, s, "acme")
		now := t0.Add(time.Minute)
		if err := s.InsertSession(ctx, newSession("acme", "race")); err != nil {
			t.Fatal(err)
		}
		const n = 20
		errs := make([]error, n)
		claimed := make([]store.Session, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				claimed[i], errs[i] = s.ClaimSessionCode(ctx, "race", fmt.Sprintf("browser-%d", i), now)
			})
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner == -1:
				winner = i
			case err == nil:
				t.Errorf("claims %d and %d both succeeded", winner, i)
			case !errors.Is(err, store.ErrConflict):
				t.Errorf("claim %d = %v, want ErrConflict", i, err)
			}
		}
		if winner == -1 {
			t.Fatal("no claim succeeded")
		}
		got, err := s.GetSessionByCodeHash(ctx, "race")
		if err != nil {
			t.Fatal(err)
		}
		if got.BrowserHash != fmt.Sprintf("browser-%d", winner) || got.CodeUsedAt == nil ||
			!got.CodeUsedAt.Equal(now.Truncate(time.Microsecond)) {
			t.Errorf("stored claim %q at %v, want browser-%d at %v", got.BrowserHash, got.CodeUsedAt, winner, now)
		}
		if claimed[winner].BrowserHash != got.BrowserHash {
			t.Errorf("winner got %+v", claimed[winner])
		}

		if _, err := s.ClaimSessionCode(ctx, "no-such-code", "b", now); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown code = %v, want ErrNotFound", err)
		}
		if err := s.InsertSession(ctx, newSession("acme", "stale")); err != nil {
			t.Fatal(err)
		}
		late, err := s.ClaimSessionCode(ctx, "stale", "b", t0.Add(31*time.Minute))
		if !errors.Is(err, store.ErrConflict) || late.CodeUsedAt != nil || late.ID == "" {
			t.Errorf("expired code = %+v, %v; want unclaimed session and ErrConflict", late, err)
		}
		cancelled := newSession("acme", "cancelled")
		cancelled.Status = store.SessionCancelled
		if err := s.InsertSession(ctx, cancelled); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ClaimSessionCode(ctx, "cancelled", "b", now); !errors.Is(err, store.ErrConflict) {
			t.Errorf("cancelled session code = %v, want ErrConflict", err)
		}
	})
}

func TestEvents(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		types := []string{"connection.created", "connection.disconnected", "connection.reconnected", "connection.deleted"}
		var all []store.Event
		for i := range 30 {
			e := store.Event{
				Type: types[i%4], TenantKey: []string{"acme", "globex"}[i%2], ConnectionID: fmt.Sprintf("con_%d", i%3),
				Payload: []byte(fmt.Sprintf(`{"n":%d}`, i)), CreatedAt: t0.Add(time.Duration(i) * time.Second),
			}
			if err := s.InsertEvent(ctx, &e); err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(e.ID, "evt_") || (len(all) > 0 && e.Seq <= all[len(all)-1].Seq) {
				t.Fatalf("event %d got id %q seq %d", i, e.ID, e.Seq)
			}
			all = append(all, e)
		}
		dup := all[0]
		if err := s.InsertEvent(ctx, &dup); !errors.Is(err, store.ErrConflict) {
			t.Errorf("duplicate event id = %v, want ErrConflict", err)
		}

		var got []store.Event
		cursor := ""
		for {
			page, next, err := s.ListEvents(ctx, store.EventFilter{Limit: 7, Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, page...)
			if next == "" {
				break
			}
			cursor = next
		}
		if len(got) != len(all) {
			t.Fatalf("listed %d events, want %d", len(got), len(all))
		}
		for i, e := range got {
			want := all[len(all)-1-i]
			if fmt.Sprintf("%+v", e) != fmt.Sprintf("%+v", want) {
				t.Errorf("event %d:\n got %+v\nwant %+v", i, e, want)
			}
		}

		filtered, _, err := s.ListEvents(ctx, store.EventFilter{
			TenantKey: "acme", ConnectionID: "con_0", Types: []string{"connection.created", "connection.deleted"},
		})
		if err != nil {
			t.Fatal(err)
		}
		var want []int64
		for i := len(all) - 1; i >= 0; i-- {
			e := all[i]
			if e.TenantKey == "acme" && e.ConnectionID == "con_0" && (e.Type == types[0] || e.Type == types[3]) {
				want = append(want, e.Seq)
			}
		}
		var gotSeqs []int64
		for _, e := range filtered {
			gotSeqs = append(gotSeqs, e.Seq)
		}
		if len(want) == 0 || fmt.Sprint(gotSeqs) != fmt.Sprint(want) {
			t.Errorf("filtered seqs %v, want %v", gotSeqs, want)
		}

		empty := store.Event{Type: "connection.created", TenantKey: "acme"}
		if err := s.InsertEvent(ctx, &empty); err != nil || string(empty.Payload) != "{}" {
			t.Errorf("event without payload: %q, %v", empty.Payload, err)
		}
	})
}

func TestInTx(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		boom := errors.New("boom")
		err := s.InTx(ctx, func(q *store.Queries) error {
			if err := q.UpsertTenant(ctx, "rolled-back", "", t0); err != nil {
				return err
			}
			if _, err := q.GetTenant(ctx, "rolled-back"); err != nil {
				return fmt.Errorf("own write not visible: %w", err)
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("InTx = %v, want the callback's error", err)
		}
		if _, err := s.GetTenant(ctx, "rolled-back"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("tenant after rollback: %v, want ErrNotFound", err)
		}

		func() {
			defer func() {
				if recover() == nil {
					t.Error("InTx swallowed the panic")
				}
			}()
			_ = s.InTx(ctx, func(q *store.Queries) error {
				if err := q.UpsertTenant(ctx, "panicked", "", t0); err != nil {
					return err
				}
				panic("kaboom")
			})
		}()
		if _, err := s.GetTenant(ctx, "panicked"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("tenant after panic: %v, want ErrNotFound", err)
		}

		err = s.InTx(ctx, func(q *store.Queries) error {
			if err := q.UpsertTenant(ctx, "kept", "", t0); err != nil {
				return err
			}
			c := newConnection("kept", "hubspot")
			if err := q.InsertConnection(ctx, c); err != nil {
				return err
			}
			return q.InsertEvent(ctx, &store.Event{Type: "connection.created", TenantKey: "kept", ConnectionID: c.ID})
		})
		if err != nil {
			t.Fatal(err)
		}
		if n, err := s.CountConnections(ctx, store.ConnectionFilter{TenantKey: "kept"}); err != nil || n != 1 {
			t.Errorf("committed connections = %d, %v; want 1", n, err)
		}
	})
}

// TestInTxRetriesDeadlock makes two transactions lock two rows in opposite orders. PostgreSQL aborts one
// with a deadlock error; InTx must run it again so both succeed. (SQLite's immediate transactions never
// interleave, so there it simply checks both commit.)
func TestInTxRetriesDeadlock(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		mustTenant(t, s, "a")
		mustTenant(t, s, "b")
		firstLocked := make(chan struct{}, 2)
		var attempts [2]int
		var mu sync.Mutex
		run := func(i int, first, second string) error {
			return s.InTx(ctx, func(q *store.Queries) error {
				mu.Lock()
				attempts[i]++
				try := attempts[i]
				mu.Unlock()
				if err := q.UpsertTenant(ctx, first, fmt.Sprintf("tx%d-%d", i, try), t0); err != nil {
					return err
				}
				if try == 1 {
					firstLocked <- struct{}{}
					waitForBoth(firstLocked)
				}
				return q.UpsertTenant(ctx, second, fmt.Sprintf("tx%d-%d", i, try), t0)
			})
		}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		wg.Go(func() { errs[0] = run(0, "a", "b") })
		wg.Go(func() { errs[1] = run(1, "b", "a") })
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("transaction %d: %v", i, err)
			}
		}
		if s.Flavor() == store.FlavorPostgres && attempts[0]+attempts[1] < 3 {
			t.Errorf("attempts %v: expected a deadlock and a retry", attempts)
		}
	})
}

// waitForBoth waits until both transactions hold their first row, or briefly: under SQLite the other
// one is still queued at BEGIN and never gets there.
func waitForBoth(locked chan struct{}) {
	deadline := time.Now().Add(300 * time.Millisecond)
	for len(locked) < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
}

func TestTimestampsAreUTCMicroseconds(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		mustTenant(t, s, "acme")
		c := newConnection("acme", "hubspot")
		far := time.Date(2262, 1, 1, 0, 0, 0, 999, time.FixedZone("Y", -7*3600))
		c.AccessExpiresAt = &far
		if err := s.InsertConnection(ctx, c); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetConnection(ctx, c.ID, "acme")
		if err != nil {
			t.Fatal(err)
		}
		if want := far.UTC().Truncate(time.Microsecond); !got.AccessExpiresAt.Equal(want) || got.AccessExpiresAt.Location() != time.UTC {
			t.Errorf("AccessExpiresAt = %v, want %v", got.AccessExpiresAt, want)
		}
		var raw int64
		if err := s.DB().Get(&raw, s.DB().Rebind("SELECT created_at FROM connections WHERE id = ?"), c.ID); err != nil {
			t.Fatal(err)
		}
		if raw != t0.UnixMicro() {
			t.Errorf("created_at stored as %d, want unix microseconds %d", raw, t0.UnixMicro())
		}
	})
}

// TestListSurvivesLostPreparedStatements: when the server no longer knows the list's prepared statement
// (what a transaction-mode pooler such as PgBouncer before 1.21 causes), the list still answers, unprepared.
func TestListSurvivesLostPreparedStatements(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		if s.Flavor() != store.FlavorPostgres {
			t.Skip("PostgreSQL only: SQLite has no server to lose a statement")
		}
		ctx := context.Background()
		mustTenant(t, s, "acme")
		c := mustConnection(t, s, "acme", "hubspot")
		s.DB().SetMaxOpenConns(1) // one server connection: the statement and DEALLOCATE meet there
		for round := range 3 {
			list, _, err := s.ListConnectionSummaries(ctx, store.ConnectionFilter{TenantKey: "acme"})
			if err != nil || len(list) != 1 || list[0].ID != c.ID {
				t.Fatalf("round %d: %d rows, %v", round, len(list), err)
			}
			if _, err := s.DB().ExecContext(ctx, "DEALLOCATE ALL"); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// TestPreparedStatementsOff: by default (and with hitch_prepared_statements=off) the list prepares nothing
// on the server (safe behind poolers that share server connections); with =on it does.
func TestPreparedStatementsOff(t *testing.T) {
	ctx := context.Background()
	base := storetest.URL(t, store.FlavorPostgres)
	for _, tt := range []struct {
		param string
		want  bool
	}{{"", false}, {"&hitch_prepared_statements=off", false}, {"&hitch_prepared_statements=on", true}} {
		s, err := store.Open(ctx, base+tt.param)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		s.DB().SetMaxOpenConns(1) // the list and the check share one server connection
		if _, _, err := s.ListConnectionSummaries(ctx, store.ConnectionFilter{TenantKey: "acme"}); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := s.DB().GetContext(ctx, &n, "SELECT COUNT(*) FROM pg_prepared_statements WHERE statement LIKE '%FROM connections%'"); err != nil {
			t.Fatal(err)
		}
		if got := n > 0; got != tt.want {
			t.Errorf("URL suffix %q: %d list statements prepared, want prepared=%v", tt.param, n, tt.want)
		}
		_ = s.Close()
	}
}
