// Package appsettings holds what the console changes about catalog apps:
// whether an app is offered, and an OAuth client stored encrypted in the
// database. It resolves the app every flow uses (connect, refresh, revoke),
// so a client saved in the console works at once on every replica.
package appsettings

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/hitchdev/hitch/internal/catalog"
	"github.com/hitchdev/hitch/internal/fault"
	"github.com/hitchdev/hitch/internal/secrets"
	"github.com/hitchdev/hitch/internal/store"
)

// Client sources, shown in the console.
const (
	SourceConsole = "console" // saved in the console, stored encrypted
	SourceConfig  = "config"  // the apps file or HITCH_APP_<KEY>_CLIENT_ID/SECRET
	SourceNone    = ""
)

// Service reads and writes app settings. Every read goes to the database:
// the table holds one row per configured app, and a cache would let
// replicas disagree about a client just saved.
type Service struct {
	Store   *store.Store
	Catalog *catalog.Catalog
	Keys    *secrets.KeyRing
	Now     func() time.Time
}

// State is one app's settings as the console shows them; it never holds the
// client secret.
type State struct {
	Enabled      bool
	ClientID     string // the effective client id
	ClientSource string // SourceConsole, SourceConfig or SourceNone
	SecretSet    bool   // the effective client has a secret
	UpdatedAt    *time.Time
}

// Usable reports whether the app can be connected now: enabled, and with an
// OAuth client when it needs one.
func (st State) Usable(app *catalog.App) bool {
	if !st.Enabled {
		return false
	}
	if app.Sandbox || app.Auth.Type != catalog.AuthOAuth2 {
		return true
	}
	return st.ClientID != "" && (st.SecretSet || app.Auth.TokenAuthMethod == catalog.TokenAuthNone)
}

// Snapshot is every app's settings at one moment, for listing pages.
type Snapshot struct {
	rows map[string]store.AppSetting
}

// State returns app's settings within the snapshot.
func (s Snapshot) State(app *catalog.App) State {
	return state(app, s.rows[app.Key], s.rows[app.Key].AppKey != "")
}

// Snapshot reads all settings in one query. A nil Service has nothing
// saved: every app then has its Default state.
func (s *Service) Snapshot(ctx context.Context) (Snapshot, error) {
	if s == nil {
		return Snapshot{}, nil
	}
	rows, err := s.Store.ListAppSettings(ctx)
	if err != nil {
		return Snapshot{}, fmt.Errorf("appsettings: list: %w", err)
	}
	m := make(map[string]store.AppSetting, len(rows))
	for _, r := range rows {
		m[r.AppKey] = r
	}
	return Snapshot{rows: m}, nil
}

// State returns one app's settings.
func (s *Service) State(ctx context.Context, app *catalog.App) (State, error) {
	row, found, err := s.row(ctx, app.Key)
	if err != nil {
		return State{}, err
	}
	return state(app, row, found), nil
}

func state(app *catalog.App, row store.AppSetting, found bool) State {
	st := State{Enabled: true}
	if found {
		st.Enabled = row.Enabled
		t := row.UpdatedAt
		st.UpdatedAt = &t
	}
	switch {
	case found && row.ClientID != "":
		st.ClientID, st.ClientSource, st.SecretSet = row.ClientID, SourceConsole, row.ClientSecret != nil
	case app.Auth.ClientID != "":
		st.ClientID, st.ClientSource, st.SecretSet = app.Auth.ClientID, SourceConfig, app.Auth.ClientSecret != ""
	}
	return st
}

// Resolve returns the catalog app with the console's client applied, and
// whether it is enabled. It is what refresh and revoke use: a disabled app's
// existing connections keep working.
func (s *Service) Resolve(ctx context.Context, key string) (*catalog.App, bool, error) {
	app, ok := s.Catalog.Get(key)
	if !ok {
		return nil, false, fault.New(fault.NotFound, "app_not_found", "No app with key %q exists in the catalog.", key)
	}
	row, found, err := s.row(ctx, key)
	if err != nil || !found {
		return app, true, err
	}
	if row.ClientID != "" {
		secret := ""
		if row.ClientSecret != nil {
			plain, err := s.Keys.Open(row.ClientSecret, []byte(key))
			if err != nil {
				return nil, false, fmt.Errorf("appsettings: open client secret of %s: %w", key, err)
			}
			secret = string(plain)
		}
		app = app.WithClient(row.ClientID, secret)
	}
	return app, row.Enabled, nil
}

// SetEnabled turns an app on or off for new connections.
func (s *Service) SetEnabled(ctx context.Context, key string, enabled bool) error {
	return s.update(ctx, key, func(r *store.AppSetting) error {
		r.Enabled = enabled
		return nil
	})
}

// SetClient stores an OAuth client for an app. An empty secret keeps the
// secret already stored in the console (the form never shows it back).
func (s *Service) SetClient(ctx context.Context, key, clientID, clientSecret string) error {
	app, ok := s.Catalog.Get(key)
	if !ok {
		return fault.New(fault.NotFound, "app_not_found", "No app with key %q exists in the catalog.", key)
	}
	if app.Auth.Type != catalog.AuthOAuth2 || app.Sandbox {
		return fault.New(fault.Invalid, "not_oauth", "%s does not use an OAuth client.", app.Name)
	}
	clientID = strings.TrimSpace(clientID)
	if err := checkClientValue("client ID", clientID, true); err != nil {
		return err
	}
	if err := checkClientValue("client secret", clientSecret, false); err != nil {
		return err
	}
	return s.update(ctx, key, func(r *store.AppSetting) error {
		r.ClientID = clientID
		if clientSecret == "" {
			if r.ClientSecret == nil && app.Auth.TokenAuthMethod != catalog.TokenAuthNone {
				return fault.New(fault.Invalid, "secret_required", "Enter the client secret %s gave you.", app.Name)
			}
			return nil
		}
		sealed, err := s.Keys.Seal([]byte(clientSecret), []byte(key))
		if err != nil {
			return fmt.Errorf("appsettings: seal client secret: %w", err)
		}
		r.ClientSecret, r.KeyID = sealed, s.Keys.CurrentID()
		return nil
	})
}

// ClearClient removes the console's client; a client from configuration,
// if any, applies again.
func (s *Service) ClearClient(ctx context.Context, key string) error {
	return s.update(ctx, key, func(r *store.AppSetting) error {
		r.ClientID, r.ClientSecret, r.KeyID = "", nil, ""
		return nil
	})
}

// update locks, changes and writes one row in a transaction, so two admins
// saving different fields at once do not undo each other.
func (s *Service) update(ctx context.Context, key string, change func(*store.AppSetting) error) error {
	if _, ok := s.Catalog.Get(key); !ok {
		return fault.New(fault.NotFound, "app_not_found", "No app with key %q exists in the catalog.", key)
	}
	return s.Store.InTx(ctx, func(q *store.Queries) error {
		row, err := q.LockAppSetting(ctx, key, s.now())
		if err != nil {
			return fmt.Errorf("appsettings: read %s: %w", key, err)
		}
		if err := change(&row); err != nil {
			return err
		}
		row.UpdatedAt = s.now()
		if err := q.PutAppSetting(ctx, &row); err != nil {
			return fmt.Errorf("appsettings: write %s: %w", key, err)
		}
		return nil
	})
}

func (s *Service) row(ctx context.Context, key string) (store.AppSetting, bool, error) {
	row, err := s.Store.GetAppSetting(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return store.AppSetting{}, false, nil
	}
	if err != nil {
		return store.AppSetting{}, false, fmt.Errorf("appsettings: read %s: %w", key, err)
	}
	return row, true, nil
}

// checkClientValue keeps control characters and absurd lengths out of
// values that go into HTTP requests to the provider.
func checkClientValue(label, v string, required bool) error {
	if v == "" {
		if required {
			return fault.New(fault.Invalid, "client_id_required", "Enter the %s.", label)
		}
		return nil
	}
	if len(v) > 1024 {
		return fault.New(fault.Invalid, "client_value_too_long", "The %s is longer than 1024 characters.", label)
	}
	for _, r := range v {
		if unicode.IsControl(r) {
			return fault.New(fault.Invalid, "client_value_invalid", "The %s contains control characters.", label)
		}
	}
	return nil
}

func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now().UTC()
	}
	return s.Now().UTC()
}
