package appsettings_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hitchdev/hitch/internal/appsettings"
	"github.com/hitchdev/hitch/internal/catalog"
	"github.com/hitchdev/hitch/internal/fault"
	"github.com/hitchdev/hitch/internal/secrets"
	"github.com/hitchdev/hitch/internal/store"
	"github.com/hitchdev/hitch/internal/store/storetest"
)

var tNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// The catalog gives pipedrive a client from configuration, as
// HITCH_APP_PIPEDRIVE_CLIENT_ID/_SECRET would.
var testEnv = map[string]string{
	"HITCH_APP_PIPEDRIVE_CLIENT_ID":     "cfg-id",
	"HITCH_APP_PIPEDRIVE_CLIENT_SECRET": "cfg-secret",
}

func newService(t *testing.T, s *store.Store) *appsettings.Service {
	t.Helper()
	cat, err := catalog.Load(catalog.Options{Getenv: func(k string) string { return testEnv[k] }, IncludeSandbox: true})
	if err != nil {
		t.Fatal(err)
	}
	spec, err := secrets.Generate("k1")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := secrets.Parse(spec)
	if err != nil {
		t.Fatal(err)
	}
	return &appsettings.Service{Store: s, Catalog: cat, Keys: keys, Now: func() time.Time { return tNow }}
}

func app(t *testing.T, svc *appsettings.Service, key string) *catalog.App {
	t.Helper()
	a, ok := svc.Catalog.Get(key)
	if !ok {
		t.Fatalf("no app %s in the catalog", key)
	}
	return a
}

func state(t *testing.T, svc *appsettings.Service, key string) appsettings.State {
	t.Helper()
	st, err := svc.State(context.Background(), app(t, svc, key))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func faultOf(err error) (fault.Kind, string) {
	if fe, ok := fault.As(err); ok {
		return fe.Kind, fe.Code
	}
	return 0, ""
}

func TestEnableDisable(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc := newService(t, s)
		if st := state(t, svc, "hubspot"); !st.Enabled || st.UpdatedAt != nil {
			t.Fatalf("never saved: %+v", st)
		}
		if err := svc.SetEnabled(ctx, "sandbox-apikey", false); err != nil {
			t.Fatal(err)
		}
		st := state(t, svc, "sandbox-apikey")
		if st.Enabled || st.Usable(app(t, svc, "sandbox-apikey")) || st.UpdatedAt == nil || !st.UpdatedAt.Equal(tNow) {
			t.Fatalf("after disabling: %+v", st)
		}
		snap, err := svc.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if snap.State(app(t, svc, "sandbox-apikey")).Enabled || !snap.State(app(t, svc, "hubspot")).Enabled {
			t.Fatal("the snapshot disagrees with State")
		}
		// Refresh and revoke still resolve a disabled app, told it is off.
		a, enabled, err := svc.Resolve(ctx, "sandbox-apikey")
		if err != nil || enabled || a == nil || a.Key != "sandbox-apikey" {
			t.Fatalf("Resolve of a disabled app: %v %v %v", a, enabled, err)
		}
		if err := svc.SetEnabled(ctx, "sandbox-apikey", true); err != nil {
			t.Fatal(err)
		}
		if _, enabled, _ := svc.Resolve(ctx, "sandbox-apikey"); !enabled {
			t.Fatal("enabling again did not take")
		}
		// Turning off keeps the client, turning on again finds it.
		if err := svc.SetClient(ctx, "hubspot", "hub-id", "hub-secret"); err != nil {
			t.Fatal(err)
		}
		if err := svc.SetEnabled(ctx, "hubspot", false); err != nil {
			t.Fatal(err)
		}
		if st := state(t, svc, "hubspot"); st.Enabled || st.ClientID != "hub-id" || !st.SecretSet {
			t.Fatalf("disabling lost the client: %+v", st)
		}
	})
}

func TestSetClientSealsTheSecret(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc := newService(t, s)
		const secret = "hubspot-client-secret-plain"
		if err := svc.SetClient(ctx, "hubspot", "  hub-id  ", secret); err != nil {
			t.Fatal(err)
		}
		var rows []struct {
			AppKey       string `db:"app_key"`
			ClientID     string `db:"client_id"`
			ClientSecret []byte `db:"client_secret"`
			KeyID        string `db:"key_id"`
		}
		if err := s.DB().Select(&rows, "SELECT app_key, client_id, client_secret, key_id FROM app_settings"); err != nil || len(rows) != 1 {
			t.Fatalf("rows %d: %v", len(rows), err)
		}
		r := rows[0]
		if r.AppKey != "hubspot" || r.ClientID != "hub-id" || r.KeyID != svc.Keys.CurrentID() {
			t.Fatalf("row %q %q key %q", r.AppKey, r.ClientID, r.KeyID)
		}
		if len(r.ClientSecret) == 0 || bytes.Contains(r.ClientSecret, []byte(secret)) || bytes.Contains(r.ClientSecret, []byte("plain")) {
			t.Fatal("the client secret is stored in the clear")
		}
		if plain, err := svc.Keys.Open(r.ClientSecret, []byte("hubspot")); err != nil || string(plain) != secret {
			t.Fatalf("the sealed secret does not open with AAD = app key: %v", err)
		}
		if _, err := svc.Keys.Open(r.ClientSecret, []byte("pipedrive")); err == nil {
			t.Fatal("the sealed secret opens under another app's key: not bound to its app")
		}

		st := state(t, svc, "hubspot")
		if st.ClientSource != appsettings.SourceConsole || st.ClientID != "hub-id" || !st.SecretSet || !st.Usable(app(t, svc, "hubspot")) {
			t.Fatalf("state after SetClient: %+v", st)
		}
		a, enabled, err := svc.Resolve(ctx, "hubspot")
		if err != nil || !enabled || a.Auth.ClientID != "hub-id" || a.Auth.ClientSecret != secret || !a.Configured() {
			t.Fatalf("Resolve: %+v %v %v", a.Auth, enabled, err)
		}
		if orig := app(t, svc, "hubspot"); orig.Auth.ClientID != "" || orig.Auth.ClientSecret != "" {
			t.Fatal("Resolve changed the catalog's shared app")
		}
	})
}

func TestEmptySecretKeepsTheStoredOne(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc := newService(t, s)
		if err := svc.SetClient(ctx, "hubspot", "id-1", "secret-1"); err != nil {
			t.Fatal(err)
		}
		before, _ := s.GetAppSetting(ctx, "hubspot")
		if err := svc.SetClient(ctx, "hubspot", "id-2", ""); err != nil {
			t.Fatal(err)
		}
		after, _ := s.GetAppSetting(ctx, "hubspot")
		if after.ClientID != "id-2" || !bytes.Equal(before.ClientSecret, after.ClientSecret) {
			t.Fatalf("an empty secret changed the stored one (id %q)", after.ClientID)
		}
		a, _, err := svc.Resolve(ctx, "hubspot")
		if err != nil || a.Auth.ClientID != "id-2" || a.Auth.ClientSecret != "secret-1" {
			t.Fatalf("Resolve after keeping the secret: %q %v", a.Auth.ClientID, err)
		}
		if err := svc.SetClient(ctx, "hubspot", "id-2", "secret-2"); err != nil {
			t.Fatal(err)
		}
		if a, _, _ := svc.Resolve(ctx, "hubspot"); a.Auth.ClientSecret != "secret-2" {
			t.Fatal("a new secret did not replace the stored one")
		}
	})
}

func TestSecretRequiredWhenNoneStored(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc := newService(t, s)
		err := svc.SetClient(ctx, "hubspot", "hub-id", "")
		if kind, code := faultOf(err); kind != fault.Invalid || code != "secret_required" {
			t.Fatalf("SetClient without a secret: %v", err)
		}
		if _, err := s.GetAppSetting(ctx, "hubspot"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a refused save wrote a row: %v", err)
		}
		// A configuration client's secret does not count as stored in the console.
		if kind, code := faultOf(svc.SetClient(ctx, "pipedrive", "console-id", "")); kind != fault.Invalid || code != "secret_required" {
			t.Fatal("the config client's secret was taken for the console's")
		}
		// A public client (token endpoint without client authentication) needs none.
		if err := svc.SetClient(ctx, "etsy", "etsy-id", ""); err != nil {
			t.Fatalf("a public client without a secret: %v", err)
		}
		st := state(t, svc, "etsy")
		if st.SecretSet || !st.Usable(app(t, svc, "etsy")) {
			t.Fatalf("public client state: %+v", st)
		}

		for _, tc := range []struct{ id, secret, code string }{
			{"", "x", "client_id_required"},
			{"   ", "x", "client_id_required"},
			{"id\nx", "x", "client_value_invalid"},
			{"id", "sec\x00ret", "client_value_invalid"},
			{strings.Repeat("a", 1025), "x", "client_value_too_long"},
			{"id", strings.Repeat("s", 1025), "client_value_too_long"},
		} {
			if kind, code := faultOf(svc.SetClient(ctx, "hubspot", tc.id, tc.secret)); kind != fault.Invalid || code != tc.code {
				t.Errorf("SetClient(%.20q, %.20q): %v %q, want %q", tc.id, tc.secret, kind, code, tc.code)
			}
		}
		if _, err := s.GetAppSetting(ctx, "hubspot"); err == nil {
			t.Fatal("refused saves wrote a row")
		}
	})
}

func TestClearClientFallsBackToConfig(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc := newService(t, s)
		if st := state(t, svc, "pipedrive"); st.ClientSource != appsettings.SourceConfig || st.ClientID != "cfg-id" || !st.SecretSet {
			t.Fatalf("config client state: %+v", st)
		}
		if err := svc.SetClient(ctx, "pipedrive", "console-id", "console-secret"); err != nil {
			t.Fatal(err)
		}
		if a, _, _ := svc.Resolve(ctx, "pipedrive"); a.Auth.ClientID != "console-id" || a.Auth.ClientSecret != "console-secret" {
			t.Fatalf("the console client does not take precedence: %q", a.Auth.ClientID)
		}
		if err := svc.SetEnabled(ctx, "pipedrive", false); err != nil {
			t.Fatal(err)
		}
		if err := svc.ClearClient(ctx, "pipedrive"); err != nil {
			t.Fatal(err)
		}
		a, enabled, err := svc.Resolve(ctx, "pipedrive")
		if err != nil || enabled || a.Auth.ClientID != "cfg-id" || a.Auth.ClientSecret != "cfg-secret" {
			t.Fatalf("after ClearClient: %q enabled %v %v", a.Auth.ClientID, enabled, err)
		}
		if st := state(t, svc, "pipedrive"); st.ClientSource != appsettings.SourceConfig || st.ClientID != "cfg-id" || st.Enabled {
			t.Fatalf("after ClearClient the state is %+v", st)
		}
		row, err := s.GetAppSetting(ctx, "pipedrive")
		if err != nil || row.ClientID != "" || row.ClientSecret != nil || row.KeyID != "" {
			t.Fatalf("ClearClient left %+v %v", row, err)
		}

		// Without a config client, clearing leaves none.
		if err := svc.SetClient(ctx, "hubspot", "hub-id", "hub-secret"); err != nil {
			t.Fatal(err)
		}
		if err := svc.ClearClient(ctx, "hubspot"); err != nil {
			t.Fatal(err)
		}
		st := state(t, svc, "hubspot")
		if st.ClientSource != appsettings.SourceNone || st.ClientID != "" || st.SecretSet || st.Usable(app(t, svc, "hubspot")) {
			t.Fatalf("hubspot after ClearClient: %+v", st)
		}
		if a, _, _ := svc.Resolve(ctx, "hubspot"); a.Configured() {
			t.Fatal("hubspot still resolves to a client")
		}
	})
}

// Without a settings service (or with nothing saved) every app has its
// configuration's state.
func TestDefaultAndUsable(t *testing.T) {
	svc := newService(t, storetest.Open(t, store.FlavorSQLite))
	var none *appsettings.Service
	snap, err := none.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		key    string
		source string
		usable bool
	}{
		{"hubspot", appsettings.SourceNone, false},    // OAuth without a client
		{"pipedrive", appsettings.SourceConfig, true}, // OAuth with a config client
		{"sandbox-oauth", appsettings.SourceConfig, true},
		{"sandbox-apikey", appsettings.SourceNone, true}, // API key: no client needed
		{"etsy", appsettings.SourceNone, false},          // public client, but no id
	} {
		a := app(t, svc, tc.key)
		st := snap.State(a)
		if !st.Enabled || st.ClientSource != tc.source || st.Usable(a) != tc.usable || st.UpdatedAt != nil {
			t.Errorf("State(%s) with nothing saved = %+v, usable %v; want source %q usable %v", tc.key, st, st.Usable(a), tc.source, tc.usable)
		}
		off := st
		off.Enabled = false
		if off.Usable(a) {
			t.Errorf("%s is usable while disabled", tc.key)
		}
	}
	// An id without a secret is not usable where the token endpoint authenticates the client.
	hub := app(t, svc, "hubspot")
	if (appsettings.State{Enabled: true, ClientID: "x"}).Usable(hub) {
		t.Error("hubspot usable without a secret")
	}
	if !(appsettings.State{Enabled: true, ClientID: "x"}).Usable(app(t, svc, "etsy")) {
		t.Error("a public client is not usable with only an id")
	}
	// A sandbox OAuth app is usable whatever its client state says.
	if !(appsettings.State{Enabled: true}).Usable(app(t, svc, "sandbox-oauth")) {
		t.Error("a sandbox app needs a client")
	}
}

func TestUnknownAndNonOAuthApps(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc := newService(t, s)
		_, _, resolveErr := svc.Resolve(ctx, "nope")
		for name, err := range map[string]error{
			"SetEnabled":  svc.SetEnabled(ctx, "nope", false),
			"SetClient":   svc.SetClient(ctx, "nope", "id", "secret"),
			"ClearClient": svc.ClearClient(ctx, "nope"),
			"Resolve":     resolveErr,
		} {
			if kind, code := faultOf(err); kind != fault.NotFound || code != "app_not_found" {
				t.Errorf("%s of an unknown app: %v", name, err)
			}
		}
		for _, key := range []string{"sandbox-apikey", "sandbox-oauth"} {
			if kind, code := faultOf(svc.SetClient(ctx, key, "id", "secret")); kind != fault.Invalid || code != "not_oauth" {
				t.Errorf("SetClient(%s): %v %q", key, kind, code)
			}
		}
		if rows, err := s.ListAppSettings(ctx); err != nil || len(rows) != 0 {
			t.Fatalf("refused calls wrote %d rows: %v", len(rows), err)
		}
	})
}

// Two admins saving different settings of one app at once must both win:
// the second update starts while the first is between its read and its
// write (the first's clock read is the pause), so an update that does not
// lock the row it read would write back a stale copy.
func TestConcurrentUpdatesKeepBothChanges(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc := newService(t, s)
		if err := svc.SetEnabled(ctx, "hubspot", true); err != nil { // the row exists
			t.Fatal(err)
		}
		other := *svc
		other.Now = func() time.Time { return tNow }
		var once sync.Once
		svc.Now = func() time.Time {
			once.Do(func() {
				done := make(chan error, 1)
				go func() { done <- other.SetEnabled(ctx, "hubspot", false) }()
				select {
				case err := <-done: // it did not wait for our transaction
					if err != nil {
						t.Error(err)
					}
				case <-time.After(500 * time.Millisecond): // it waits for our lock: fine
					t.Cleanup(func() { <-done })
				}
			})
			return tNow
		}
		if err := svc.SetClient(ctx, "hubspot", "hub-id", "hub-secret"); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			st := state(t, svc, "hubspot")
			if !st.Enabled && st.ClientID == "hub-id" {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("a concurrent update was lost: %+v", st)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}
