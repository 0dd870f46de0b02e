package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hitchdev/hitch/internal/store"
	"github.com/hitchdev/hitch/internal/store/storetest"
)

// stored is t as the store hands it back: UTC, microseconds.
func stored(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func sameTime(a, b time.Time) bool {
	return a.Equal(b) && a.Location() == time.UTC && b.Location() == time.UTC
}

func fmtTime(p *time.Time) string {
	if p == nil {
		return "nil"
	}
	return p.Format(time.RFC3339Nano) + "@" + p.Location().String()
}

func assertAdmin(t *testing.T, got, want store.Admin) {
	t.Helper()
	render := func(a store.Admin) string {
		return fmt.Sprintf("id=%s email=%s hash=%s created=%s login=%s changed=%s", a.ID, a.Email, a.PasswordHash,
			fmtTime(&a.CreatedAt), fmtTime(a.LastLoginAt), fmtTime(&a.PasswordChangedAt))
	}
	if g, w := render(got), render(want); g != w {
		t.Errorf("admin mismatch\n got %s\nwant %s", g, w)
	}
}

func TestAdmins(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		if n, err := s.CountAdmins(ctx); err != nil || n != 0 {
			t.Fatalf("CountAdmins() on an empty table = %d, %v; want 0", n, err)
		}
		if list, err := s.ListAdmins(ctx); err != nil || len(list) != 0 {
			t.Fatalf("ListAdmins() on an empty table = %v, %v", list, err)
		}

		bob := &store.Admin{Email: "bob@example.com", PasswordHash: "hash-bob", CreatedAt: t0}
		if err := s.InsertAdmin(ctx, bob); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(bob.ID, "adm_") {
			t.Errorf("InsertAdmin gave id %q, want adm_ prefix", bob.ID)
		}
		assertAdmin(t, *bob, store.Admin{ID: bob.ID, Email: "bob@example.com", PasswordHash: "hash-bob",
			CreatedAt: stored(t0), PasswordChangedAt: stored(t0)})

		// "a.c" sorts before "ab" in byte order but after it in most linguistic collations.
		ac := &store.Admin{ID: "adm_fixed", Email: "a.c@example.com", PasswordHash: "hash-ac", CreatedAt: t0.Add(time.Minute)}
		ab := &store.Admin{Email: "ab@example.com", PasswordHash: "hash-ab", CreatedAt: t0.Add(2 * time.Minute)}
		for _, a := range []*store.Admin{ac, ab} {
			if err := s.InsertAdmin(ctx, a); err != nil {
				t.Fatal(err)
			}
		}
		if ac.ID != "adm_fixed" {
			t.Errorf("InsertAdmin replaced the given id with %q", ac.ID)
		}

		dup := &store.Admin{Email: "bob@example.com", PasswordHash: "other"}
		if err := s.InsertAdmin(ctx, dup); !errors.Is(err, store.ErrConflict) {
			t.Errorf("InsertAdmin(duplicate email) = %v, want ErrConflict", err)
		}

		got, err := s.GetAdmin(ctx, bob.ID)
		if err != nil {
			t.Fatal(err)
		}
		assertAdmin(t, got, *bob)
		got, err = s.GetAdminByEmail(ctx, "bob@example.com")
		if err != nil {
			t.Fatal(err)
		}
		assertAdmin(t, got, *bob)

		notFound := []struct {
			name string
			call func() error
		}{
			{"GetAdmin unknown id", func() error { _, err := s.GetAdmin(ctx, "adm_nope"); return err }},
			{"GetAdminByEmail unknown", func() error { _, err := s.GetAdminByEmail(ctx, "nobody@example.com"); return err }},
			{"GetAdminByEmail other case", func() error { _, err := s.GetAdminByEmail(ctx, "Bob@example.com"); return err }},
			{"SetAdminPassword unknown id", func() error { return s.SetAdminPassword(ctx, "adm_nope", "h", t0) }},
			{"RecordAdminLogin unknown id", func() error { return s.RecordAdminLogin(ctx, "adm_nope", t0) }},
		}
		for _, tt := range notFound {
			if err := tt.call(); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s = %v, want ErrNotFound", tt.name, err)
			}
		}

		changed := t0.Add(time.Hour + 123*time.Nanosecond)
		if err := s.SetAdminPassword(ctx, bob.ID, "hash-bob-2", changed); err != nil {
			t.Fatal(err)
		}
		login := t0.Add(2 * time.Hour)
		if err := s.RecordAdminLogin(ctx, bob.ID, login); err != nil {
			t.Fatal(err)
		}
		got, err = s.GetAdmin(ctx, bob.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := *bob
		want.PasswordHash, want.PasswordChangedAt, want.LastLoginAt = "hash-bob-2", stored(changed), ptr(stored(login))
		assertAdmin(t, got, want)
		if other, err := s.GetAdmin(ctx, ab.ID); err != nil || other.PasswordHash != "hash-ab" || other.LastLoginAt != nil {
			t.Errorf("another admin changed: %+v, %v", other, err)
		}

		list, err := s.ListAdmins(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var emails []string
		for _, a := range list {
			emails = append(emails, a.Email)
		}
		if w := []string{"a.c@example.com", "ab@example.com", "bob@example.com"}; !reflect.DeepEqual(emails, w) {
			t.Errorf("ListAdmins emails = %v, want %v", emails, w)
		}
		assertAdmin(t, list[2], want)
		if n, err := s.CountAdmins(ctx); err != nil || n != 3 {
			t.Errorf("CountAdmins() = %d, %v; want 3", n, err)
		}

		// A row from before migration 3 has password_changed_at 0: no change recorded.
		db := s.DB()
		if _, err := db.Exec(db.Rebind(`INSERT INTO admins (id, email, password_hash, created_at) VALUES (?, ?, ?, ?)`),
			"adm_legacy", "legacy@example.com", "h", t0.UnixMicro()); err != nil {
			t.Fatal(err)
		}
		if legacy, err := s.GetAdmin(ctx, "adm_legacy"); err != nil || !legacy.PasswordChangedAt.IsZero() {
			t.Errorf("legacy admin PasswordChangedAt = %v, %v; want zero", legacy.PasswordChangedAt, err)
		}
	})
}

func assertSetting(t *testing.T, got, want store.AppSetting) {
	t.Helper()
	if got.AppKey != want.AppKey || got.Enabled != want.Enabled || got.ClientID != want.ClientID ||
		!bytes.Equal(got.ClientSecret, want.ClientSecret) || (got.ClientSecret == nil) != (want.ClientSecret == nil) ||
		got.KeyID != want.KeyID || !sameTime(got.UpdatedAt, want.UpdatedAt) {
		t.Errorf("app setting mismatch\n got %+v\nwant %+v", got, want)
	}
}

func TestAppSettings(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		if _, err := s.GetAppSetting(ctx, "slack"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetAppSetting(missing) = %v, want ErrNotFound", err)
		}
		if list, err := s.ListAppSettings(ctx); err != nil || len(list) != 0 {
			t.Errorf("ListAppSettings() on an empty table = %v, %v", list, err)
		}

		sealed := []byte{0, 1, 2, 0xfe, 0xff, 0}
		first := &store.AppSetting{AppKey: "slack", Enabled: true, ClientID: "cid-1",
			ClientSecret: append([]byte(nil), sealed...), KeyID: "k1", UpdatedAt: t0}
		if err := s.PutAppSetting(ctx, first); err != nil {
			t.Fatal(err)
		}
		wantFirst := store.AppSetting{AppKey: "slack", Enabled: true, ClientID: "cid-1", ClientSecret: sealed,
			KeyID: "k1", UpdatedAt: stored(t0)}
		assertSetting(t, *first, wantFirst)
		got, err := s.GetAppSetting(ctx, "slack")
		if err != nil {
			t.Fatal(err)
		}
		assertSetting(t, got, wantFirst)

		// Replacing writes every column: the secret and key id go, Enabled turns false.
		second := &store.AppSetting{AppKey: "slack", ClientID: "cid-2", UpdatedAt: t0.Add(time.Hour)}
		if err := s.PutAppSetting(ctx, second); err != nil {
			t.Fatal(err)
		}
		wantSecond := store.AppSetting{AppKey: "slack", ClientID: "cid-2", UpdatedAt: stored(t0.Add(time.Hour))}
		got, err = s.GetAppSetting(ctx, "slack")
		if err != nil {
			t.Fatal(err)
		}
		assertSetting(t, got, wantSecond)
		var secretIsNull bool
		if err := s.DB().Get(&secretIsNull, "SELECT client_secret IS NULL FROM app_settings WHERE app_key = 'slack'"); err != nil || !secretIsNull {
			t.Errorf("client_secret IS NULL = %v, %v; want true", secretIsNull, err)
		}

		// An empty (non-nil) secret also means none.
		github := &store.AppSetting{AppKey: "github", Enabled: true, ClientSecret: []byte{}, UpdatedAt: t0}
		if err := s.PutAppSetting(ctx, github); err != nil {
			t.Fatal(err)
		}
		list, err := s.ListAppSettings(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 2 {
			t.Fatalf("ListAppSettings() returned %d rows, want 2", len(list))
		}
		assertSetting(t, list[0], store.AppSetting{AppKey: "github", Enabled: true, UpdatedAt: stored(t0)})
		assertSetting(t, list[1], wantSecond)
	})
}

// seedConnectionStates inserts connections in every state across two tenants and returns the expected
// newest created_at per tenant.
//
//	tenant app   state                    created
//	acme   crm   active ×2                t0+1m, t0+2m
//	acme   crm   disconnected             t0+3m
//	acme   mail  active                   t0+4m
//	acme   mail  disconnected             t0+5m
//	acme   crm   archived                 t0+6m
//	acme   zzz   archived and disconnected t0+10m (archived only: absent from the app counts)
//	other  chat  active                   t0+7m
//	other  chat  disconnected             t0+8m
//	other  crm   archived                 t0+9m
func seedConnectionStates(t *testing.T, s *store.Store) {
	t.Helper()
	mustTenant(t, s, "acme")
	mustTenant(t, s, "other")
	mustTenant(t, s, "empty")
	archived := ptr(t0.Add(time.Hour))
	seed := []struct {
		tenant, app        string
		disconnected       bool
		archived           *time.Time
		createdAfterMinute int
	}{
		{"acme", "crm", false, nil, 1},
		{"acme", "crm", false, nil, 2},
		{"acme", "crm", true, nil, 3},
		{"acme", "mail", false, nil, 4},
		{"acme", "mail", true, nil, 5},
		{"acme", "crm", false, archived, 6},
		{"acme", "zzz", true, archived, 10},
		{"other", "chat", false, nil, 7},
		{"other", "chat", true, nil, 8},
		{"other", "crm", false, archived, 9},
	}
	for _, c := range seed {
		conn := newConnection(c.tenant, c.app)
		conn.Disconnected, conn.ArchivedAt = c.disconnected, c.archived
		conn.CreatedAt = t0.Add(time.Duration(c.createdAfterMinute) * time.Minute)
		conn.UpdatedAt = conn.CreatedAt
		if err := s.InsertConnection(context.Background(), conn); err != nil {
			t.Fatal(err)
		}
	}
}

func TestConnectionAggregates(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		seedConnectionStates(t, s)

		all := []store.AppCount{
			{AppKey: "crm", Active: 2, Disconnected: 1},
			{AppKey: "chat", Active: 1, Disconnected: 1}, // ties with mail on 2; app key decides
			{AppKey: "mail", Active: 1, Disconnected: 1},
		}
		// One pass gives the totals and the per-app counts alike.
		total, apps, err := s.TallyConnections(ctx)
		if err != nil || total != (store.ConnectionCounts{Active: 4, Disconnected: 3, Archived: 3}) || !reflect.DeepEqual(apps, all) {
			t.Errorf("TallyConnections = %+v, %+v, %v; want %+v, %+v", total, apps, err, store.ConnectionCounts{Active: 4, Disconnected: 3, Archived: 3}, all)
		}

		// Most recently broken first; archived ones are not listed.
		broken, err := s.RecentlyDisconnected(ctx, 2)
		if err != nil || len(broken) != 2 || broken[0].AppKey != "chat" || broken[1].AppKey != "mail" {
			t.Errorf("RecentlyDisconnected(2) = %+v, %v; want chat then mail", broken, err)
		}
		if all3, _ := s.RecentlyDisconnected(ctx, 0); len(all3) != 3 {
			t.Errorf("RecentlyDisconnected(0) returned %d; want the 3 unarchived disconnected", len(all3))
		}

		stats, err := s.TenantConnectionCounts(ctx, []string{"acme", "other", "empty", "ghost"})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{
			"acme":  fmt.Sprintf("{3 2 2 %s}", fmtTime(ptr(stored(t0.Add(10*time.Minute))))),
			"other": fmt.Sprintf("{1 1 1 %s}", fmtTime(ptr(stored(t0.Add(9*time.Minute))))),
		}
		got := map[string]string{}
		for k, v := range stats {
			got[k] = fmt.Sprintf("{%d %d %d %s}", v.Active, v.Disconnected, v.Archived, fmtTime(v.LastConnectionAt))
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("TenantConnectionCounts = %v, want %v", got, want)
		}

		if empty, err := s.TenantConnectionCounts(ctx, nil); err != nil || len(empty) != 0 {
			t.Errorf("TenantConnectionCounts(nil) = %v, %v; want empty", empty, err)
		}
		// More keys than one statement takes: the tenants after the first batch are still counted.
		many := make([]string, 0, store.MaxLimit+100)
		for i := range store.MaxLimit + 98 {
			many = append(many, fmt.Sprintf("ghost-%d", i))
		}
		many = append(many, "other", "acme")
		stats, err = s.TenantConnectionCounts(ctx, many)
		if err != nil {
			t.Fatal(err)
		}
		if len(stats) != 2 || stats["acme"].Active != 3 || stats["other"].Archived != 1 {
			t.Errorf("TenantConnectionCounts(%d keys) = %+v; want acme and other", len(many), stats)
		}
	})
}

func TestSessionFunnel(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		mustTenant(t, s, "acme")
		day1 := time.Date(2026, 3, 14, 0, 0, 0, 0, time.UTC)
		day2 := day1.Add(24 * time.Hour)
		now := day2.Add(20 * time.Hour)
		opened := ptr(day1.Add(time.Hour))
		seed := []struct {
			name      string
			created   time.Time
			status    string
			opened    *time.Time
			expiresIn time.Duration // from created
		}{
			{"before since", day1.Add(-time.Microsecond), store.SessionCompleted, opened, 30 * time.Minute},
			{"completed at since", day1, store.SessionCompleted, opened, 30 * time.Minute},
			{"failed", t0, store.SessionFailed, opened, 30 * time.Minute},
			{"pending past expiry", t0, store.SessionPending, nil, 30 * time.Minute},
			{"expired", t0, store.SessionExpired, nil, 30 * time.Minute},
			{"cancelled", day2.Add(-time.Microsecond), store.SessionCancelled, nil, 30 * time.Minute},
			{"completed day 2", day2.Add(10 * time.Hour), store.SessionCompleted, opened, 30 * time.Minute},
			{"pending opened, live", day2.Add(11 * time.Hour), store.SessionPending, opened, 9*time.Hour + time.Minute},
			{"pending expiring at now", day2.Add(12 * time.Hour), store.SessionPending, nil, 8 * time.Hour},
		}
		for _, sd := range seed {
			sess := newSession("acme", "")
			sess.Name, sess.Status, sess.CodeUsedAt = sd.name, sd.status, sd.opened
			sess.CreatedAt, sess.ExpiresAt = sd.created, sd.created.Add(sd.expiresIn)
			if err := s.InsertSession(ctx, sess); err != nil {
				t.Fatal(err)
			}
		}

		got, err := s.SessionFunnel(ctx, day1, now)
		if err != nil {
			t.Fatal(err)
		}
		want := []store.SessionDay{
			{Day: day1, Started: 5, Opened: 2, Completed: 1, Failed: 1, Cancelled: 1, Expired: 2},
			{Day: day2, Started: 3, Opened: 2, Completed: 1},
		}
		if len(got) != len(want) {
			t.Fatalf("SessionFunnel = %+v, want %+v", got, want)
		}
		for i := range want {
			g, w := got[i], want[i]
			if !sameTime(g.Day, w.Day) {
				t.Errorf("day %d = %v, want %v UTC", i, g.Day, w.Day)
			}
			g.Day, w.Day = time.Time{}, time.Time{}
			if g != w {
				t.Errorf("day %d counts = %+v, want %+v", i, g, w)
			}
		}

		// A later now turns the live pending sessions of day 2 expired; a later since drops day 1.
		later, err := s.SessionFunnel(ctx, day2, now.Add(24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if len(later) != 1 || !sameTime(later[0].Day, day2) || later[0].Expired != 2 || later[0].Started != 3 {
			t.Errorf("SessionFunnel(day 2, a day later) = %+v; want one day with 3 started, 2 expired", later)
		}
		if none, err := s.SessionFunnel(ctx, now, now); err != nil || len(none) != 0 {
			t.Errorf("SessionFunnel(since now) = %+v, %v; want no days", none, err)
		}
	})
}

func TestRefreshActivity(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		mustTenant(t, s, "acme")
		c := mustConnection(t, s, "acme", "crm")
		day1 := time.Date(2026, 3, 14, 0, 0, 0, 0, time.UTC)
		day3 := day1.Add(48 * time.Hour)
		seed := []struct {
			at      time.Time
			outcome string
		}{
			{day1.Add(-time.Microsecond), store.OutcomeSuccess}, // before since
			{day1, store.OutcomeSuccess},
			{t0, store.OutcomeSuccess},
			{t0.Add(time.Minute), store.OutcomeTransient},
			{day1.Add(24*time.Hour - time.Microsecond), store.OutcomePermanent},
			{day3.Add(time.Hour), store.OutcomeTransient},
			{day3.Add(2 * time.Hour), store.OutcomeTransient},
			{day3.Add(3 * time.Hour), store.OutcomeSuccess},
		}
		for _, a := range seed {
			if err := s.InsertRefreshAttempt(ctx, &store.RefreshAttempt{ConnectionID: c.ID, AttemptedAt: a.at, Outcome: a.outcome}); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.RefreshActivity(ctx, day1)
		if err != nil {
			t.Fatal(err)
		}
		want := []store.RefreshDay{
			{Day: day1, Success: 2, Transient: 1, Permanent: 1},
			{Day: day3, Success: 1, Transient: 2}, // the empty day between is left out
		}
		if len(got) != len(want) {
			t.Fatalf("RefreshActivity = %+v, want %+v", got, want)
		}
		for i := range want {
			g, w := got[i], want[i]
			if !sameTime(g.Day, w.Day) {
				t.Errorf("day %d = %v, want %v UTC", i, g.Day, w.Day)
			}
			g.Day, w.Day = time.Time{}, time.Time{}
			if g != w {
				t.Errorf("day %d counts = %+v, want %+v", i, g, w)
			}
		}
		if none, err := s.RefreshActivity(ctx, day3.Add(24*time.Hour)); err != nil || len(none) != 0 {
			t.Errorf("RefreshActivity(after the last attempt) = %+v, %v; want no days", none, err)
		}
	})
}
