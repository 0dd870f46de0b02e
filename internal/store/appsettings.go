package store

import (
	"context"
	"time"
)

// AppSetting is the console's per-app configuration. ClientSecret is sealed by the caller (AAD = app key).
type AppSetting struct {
	AppKey       string
	Enabled      bool
	ClientID     string
	ClientSecret []byte // nil: none stored
	KeyID        string
	UpdatedAt    time.Time
}

type appSettingRow struct {
	AppKey       string `db:"app_key"`
	Enabled      bool   `db:"enabled"`
	ClientID     string `db:"client_id"`
	ClientSecret []byte `db:"client_secret"`
	KeyID        string `db:"key_id"`
	UpdatedAt    int64  `db:"updated_at"`
}

const appSettingColumns = "app_key, enabled, client_id, client_secret, key_id, updated_at"

func (r appSettingRow) setting() AppSetting {
	s := AppSetting{
		AppKey: r.AppKey, Enabled: r.Enabled, ClientID: r.ClientID, KeyID: r.KeyID,
		UpdatedAt: fromMicros(r.UpdatedAt),
	}
	if len(r.ClientSecret) > 0 {
		s.ClientSecret = r.ClientSecret
	}
	return s
}

// GetAppSetting returns one app's settings, or ErrNotFound when the console never saved any.
func (q *Queries) GetAppSetting(ctx context.Context, appKey string) (AppSetting, error) {
	var r appSettingRow
	if err := q.get(ctx, "get app setting", &r, "SELECT "+appSettingColumns+" FROM app_settings WHERE app_key = ?", appKey); err != nil {
		return AppSetting{}, err
	}
	return r.setting(), nil
}

// LockAppSetting returns one app's settings locked until the transaction ends (PostgreSQL; SQLite's
// immediate transactions already exclude other writers), creating the default row (enabled, no client)
// first so that two saves racing on a row that did not exist yet also serialise. Call it inside InTx.
func (q *Queries) LockAppSetting(ctx context.Context, appKey string, now time.Time) (AppSetting, error) {
	if _, err := q.exec(ctx, "create app setting", `INSERT INTO app_settings (`+appSettingColumns+`)
		VALUES (?, ?, '', NULL, '', ?) ON CONFLICT (app_key) DO NOTHING`, appKey, true, micros(nowIfZero(now))); err != nil {
		return AppSetting{}, err
	}
	var r appSettingRow
	if err := q.get(ctx, "lock app setting", &r, "SELECT "+appSettingColumns+" FROM app_settings WHERE app_key = ?"+q.fl.forUpdate, appKey); err != nil {
		return AppSetting{}, err
	}
	return r.setting(), nil
}

// ListAppSettings returns every stored app setting in app key order.
func (q *Queries) ListAppSettings(ctx context.Context) ([]AppSetting, error) {
	var rows []appSettingRow
	if err := q.selectAll(ctx, "list app settings", &rows, "SELECT "+appSettingColumns+" FROM app_settings ORDER BY app_key"); err != nil {
		return nil, err
	}
	out := make([]AppSetting, len(rows))
	for i, r := range rows {
		out[i] = r.setting()
	}
	return out, nil
}

// PutAppSetting inserts s or replaces every column of the app's existing row. An empty ClientSecret is
// stored as NULL (none) and a zero UpdatedAt becomes now; s is updated to what was stored.
func (q *Queries) PutAppSetting(ctx context.Context, s *AppSetting) error {
	s.UpdatedAt = nowIfZero(s.UpdatedAt)
	var secret any // untyped nil binds NULL on both drivers
	if len(s.ClientSecret) > 0 {
		secret = s.ClientSecret
	}
	_, err := q.exec(ctx, "put app setting", `INSERT INTO app_settings (`+appSettingColumns+`)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (app_key) DO UPDATE SET enabled = excluded.enabled, client_id = excluded.client_id,
			client_secret = excluded.client_secret, key_id = excluded.key_id, updated_at = excluded.updated_at`,
		s.AppKey, s.Enabled, s.ClientID, secret, s.KeyID, micros(s.UpdatedAt))
	if err != nil {
		return err
	}
	stored := appSettingRow{AppKey: s.AppKey, Enabled: s.Enabled, ClientID: s.ClientID, KeyID: s.KeyID,
		UpdatedAt: micros(s.UpdatedAt)}
	if secret != nil {
		stored.ClientSecret = s.ClientSecret
	}
	*s = stored.setting()
	return nil
}
