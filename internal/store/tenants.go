package store

import (
	"context"
	"time"
)

// Tenant is one customer of the host product, named by the host's own key.
type Tenant struct {
	Key, Name            string
	CreatedAt, UpdatedAt time.Time
}

// TenantFilter selects tenants for ListTenants.
type TenantFilter struct {
	Search string // case-insensitive substring of key or name
	Limit  int    // 1..MaxLimit, 0 means DefaultLimit
	Cursor string // from the previous page; "" for the first
}

type tenantRow struct {
	Key       string `db:"key"`
	Name      string `db:"name"`
	CreatedAt int64  `db:"created_at"`
	UpdatedAt int64  `db:"updated_at"`
}

func (r tenantRow) tenant() Tenant {
	return Tenant{Key: r.Key, Name: r.Name, CreatedAt: fromMicros(r.CreatedAt), UpdatedAt: fromMicros(r.UpdatedAt)}
}

const tenantColumns = "key, name, created_at, updated_at"

// UpsertTenant creates the tenant on first sight. Later calls change the name only when given a non-empty
// one that differs, so a token without a name never erases it.
func (q *Queries) UpsertTenant(ctx context.Context, key, name string, now time.Time) error {
	_, err := q.exec(ctx, "upsert tenant", `
		INSERT INTO tenants (key, name, created_at, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET name = excluded.name, updated_at = excluded.updated_at
		WHERE excluded.name <> '' AND excluded.name <> tenants.name`,
		key, name, micros(now), micros(now))
	return err
}

// GetTenant returns one tenant or ErrNotFound.
func (q *Queries) GetTenant(ctx context.Context, key string) (Tenant, error) {
	var r tenantRow
	if err := q.get(ctx, "get tenant", &r, "SELECT "+tenantColumns+" FROM tenants WHERE key = ?", key); err != nil {
		return Tenant{}, err
	}
	return r.tenant(), nil
}

// ListTenants returns a page of tenants in key order and the cursor of the next page ("" after the last).
func (q *Queries) ListTenants(ctx context.Context, f TenantFilter) ([]Tenant, string, error) {
	limit := clampLimit(f.Limit)
	var c conds
	if f.Cursor != "" {
		after, err := decodeCursor(f.Cursor)
		if err != nil {
			return nil, "", err
		}
		c.add("key > ?", after)
	}
	if f.Search != "" {
		p := containsPattern(f.Search)
		c.add(`(LOWER(key) LIKE ? ESCAPE '!' OR LOWER(name) LIKE ? ESCAPE '!')`, p, p)
	}
	var rows []tenantRow
	query := "SELECT " + tenantColumns + " FROM tenants" + c.where() + " ORDER BY key LIMIT ?"
	if err := q.selectAll(ctx, "list tenants", &rows, query, append(c.args, limit+1)...); err != nil {
		return nil, "", err
	}
	next := ""
	if len(rows) > limit {
		rows = rows[:limit]
		next = encodeCursor(rows[limit-1].Key)
	}
	out := make([]Tenant, len(rows))
	for i, r := range rows {
		out[i] = r.tenant()
	}
	return out, next, nil
}
