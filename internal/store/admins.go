package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// PrefixAdmin is the id prefix of admins rows.
const PrefixAdmin = "adm"

// Admin is a console user.
type Admin struct {
	ID, Email, PasswordHash string // ID prefix "adm_"; Email stored as given (the caller lower-cases it)
	CreatedAt               time.Time
	LastLoginAt             *time.Time
	// PasswordChangedAt is when the password was last set: console sessions issued before it are refused.
	// Zero for admins created before the column existed.
	PasswordChangedAt time.Time
}

type adminRow struct {
	ID                string        `db:"id"`
	Email             string        `db:"email"`
	PasswordHash      string        `db:"password_hash"`
	CreatedAt         int64         `db:"created_at"`
	LastLoginAt       sql.NullInt64 `db:"last_login_at"`
	PasswordChangedAt int64         `db:"password_changed_at"`
}

const adminColumns = "id, email, password_hash, created_at, last_login_at, password_changed_at"

func (r adminRow) admin() Admin {
	a := Admin{
		ID: r.ID, Email: r.Email, PasswordHash: r.PasswordHash,
		CreatedAt: fromMicros(r.CreatedAt), LastLoginAt: fromNullMicros(r.LastLoginAt),
	}
	if r.PasswordChangedAt != 0 { // the column's default on rows that predate it
		a.PasswordChangedAt = fromMicros(r.PasswordChangedAt)
	}
	return a
}

// InsertAdmin stores a new admin. An empty ID gets a new "adm_" id, a zero CreatedAt is now and a zero
// PasswordChangedAt is CreatedAt (the password is set at creation); a is updated to what was stored. An
// email another admin has is ErrConflict.
func (q *Queries) InsertAdmin(ctx context.Context, a *Admin) error {
	if a.ID == "" {
		a.ID = NewID(PrefixAdmin)
	}
	a.CreatedAt = nowIfZero(a.CreatedAt)
	if a.PasswordChangedAt.IsZero() {
		a.PasswordChangedAt = a.CreatedAt
	}
	r := adminRow{
		ID: a.ID, Email: a.Email, PasswordHash: a.PasswordHash, CreatedAt: micros(a.CreatedAt),
		LastLoginAt: nullMicros(a.LastLoginAt), PasswordChangedAt: micros(a.PasswordChangedAt),
	}
	if _, err := q.namedExec(ctx, "insert admin", `INSERT INTO admins (`+adminColumns+`)
		VALUES (:id, :email, :password_hash, :created_at, :last_login_at, :password_changed_at)`, r); err != nil {
		return err
	}
	*a = r.admin()
	return nil
}

// GetAdmin returns one admin or ErrNotFound.
func (q *Queries) GetAdmin(ctx context.Context, id string) (Admin, error) {
	var r adminRow
	if err := q.get(ctx, "get admin", &r, "SELECT "+adminColumns+" FROM admins WHERE id = ?", id); err != nil {
		return Admin{}, err
	}
	return r.admin(), nil
}

// GetAdminByEmail returns the admin with exactly this email (no case folding here: the caller stores and
// looks up lower-cased addresses), or ErrNotFound.
func (q *Queries) GetAdminByEmail(ctx context.Context, email string) (Admin, error) {
	var r adminRow
	if err := q.get(ctx, "get admin by email", &r, "SELECT "+adminColumns+" FROM admins WHERE email = ?", email); err != nil {
		return Admin{}, err
	}
	return r.admin(), nil
}

// SetAdminPassword stores a new password hash and stamps password_changed_at with now, which ends the
// console sessions issued before it. An unknown id is ErrNotFound.
func (q *Queries) SetAdminPassword(ctx context.Context, id, hash string, now time.Time) error {
	n, err := q.exec(ctx, "set admin password", `UPDATE admins SET password_hash = ?, password_changed_at = ?
		WHERE id = ?`, hash, micros(now), id)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("store: set admin password of %s: %w", id, ErrNotFound)
	}
	return nil
}

// RecordAdminLogin sets last_login_at to now. An unknown id is ErrNotFound.
func (q *Queries) RecordAdminLogin(ctx context.Context, id string, now time.Time) error {
	n, err := q.exec(ctx, "record admin login", "UPDATE admins SET last_login_at = ? WHERE id = ?", micros(now), id)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("store: record admin login of %s: %w", id, ErrNotFound)
	}
	return nil
}

// CountAdmins counts every admin; zero means the console still needs its first one.
func (q *Queries) CountAdmins(ctx context.Context) (int, error) {
	var n int
	err := q.get(ctx, "count admins", &n, "SELECT COUNT(*) FROM admins")
	return n, err
}

// ListAdmins returns every admin ordered by email (byte order on both databases; the table is small).
func (q *Queries) ListAdmins(ctx context.Context) ([]Admin, error) {
	order := "email"
	if q.fl.name == FlavorPostgres {
		order = `email COLLATE "C"` // the column has the database's collation; match SQLite's byte order
	}
	var rows []adminRow
	if err := q.selectAll(ctx, "list admins", &rows, "SELECT "+adminColumns+" FROM admins ORDER BY "+order); err != nil {
		return nil, err
	}
	out := make([]Admin, len(rows))
	for i, r := range rows {
		out[i] = r.admin()
	}
	return out, nil
}
