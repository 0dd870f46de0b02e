package rekey_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hitchdev/hitch/internal/refresh/rekey"
	"github.com/hitchdev/hitch/internal/secrets"
	"github.com/hitchdev/hitch/internal/store"
	"github.com/hitchdev/hitch/internal/store/storetest"
)

func ring(t *testing.T, specs ...string) *secrets.KeyRing {
	t.Helper()
	spec := ""
	for i, s := range specs {
		if i > 0 {
			spec += ","
		}
		spec += s
	}
	r, err := secrets.Parse(spec)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func genKey(t *testing.T, id string) string {
	t.Helper()
	s, err := secrets.Generate(id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// row is one sealed value written for the test, with the plaintext it must keep.
type row struct {
	col   store.SealedColumn
	id    string
	plain string
}

// seed writes sealed values into every sealed column under keys' current key.
func seed(t *testing.T, s *store.Store, keys *secrets.KeyRing, perColumn int) []row {
	t.Helper()
	ctx := context.Background()
	now := time.Now()
	if err := s.UpsertTenant(ctx, "acme", "", now); err != nil {
		t.Fatal(err)
	}
	cols := store.SealedColumns()
	var rows []row
	seal := func(aad, plain string) []byte {
		b, err := keys.Seal([]byte(plain), []byte(aad))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	exec := func(q string, args ...any) {
		if _, err := s.DB().ExecContext(ctx, s.DB().Rebind(q), args...); err != nil {
			t.Fatal(err)
		}
	}
	for i := range perColumn {
		c := store.Connection{ID: store.NewID(store.PrefixConnection), TenantKey: "acme", AppKey: "app", AuthType: "oauth2",
			CreatedAt: now, UpdatedAt: now, KeyID: keys.CurrentID()}
		plain := fmt.Sprintf(`{"accessToken":"at-%d"}`, i)
		c.Credentials = seal(c.ID, plain)
		if err := s.InsertConnection(ctx, &c); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, row{cols[0], c.ID, plain})

		sess := store.Session{ID: store.NewID(store.PrefixSession), TenantKey: "acme", ExpiresAt: now.Add(time.Hour)}
		plain = fmt.Sprintf(`{"verifier":"v-%d"}`, i)
		sess.OAuthData = seal(sess.ID, plain)
		if err := s.InsertSession(ctx, &sess); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, row{cols[1], sess.ID, plain})

		app := fmt.Sprintf("app-%02d", i)
		plain = fmt.Sprintf("client-secret-%d", i)
		exec(`INSERT INTO app_settings (app_key, client_id, client_secret, key_id, updated_at) VALUES (?, 'cid', ?, ?, ?)`,
			app, seal(app, plain), keys.CurrentID(), now.UnixMicro())
		rows = append(rows, row{cols[2], app, plain})

		ep := fmt.Sprintf("whe_%02d", i)
		plain = fmt.Sprintf(`["whsec_%d"]`, i)
		exec(`INSERT INTO webhook_endpoints (id, url, secrets, key_id, source, created_at, updated_at) VALUES (?, 'https://h.example/x', ?, ?, 'api', ?, ?)`,
			ep, seal(ep, plain), keys.CurrentID(), now.UnixMicro(), now.UnixMicro())
		rows = append(rows, row{cols[3], ep, plain})
	}
	// Rows with nothing sealed are left alone.
	empty := store.Connection{TenantKey: "acme", AppKey: "app", AuthType: "oauth2"}
	if err := s.InsertConnection(ctx, &empty); err != nil {
		t.Fatal(err)
	}
	if err := s.InsertSession(ctx, &store.Session{TenantKey: "acme", ExpiresAt: now}); err != nil {
		t.Fatal(err)
	}
	return rows
}

// read returns the sealed value and recorded key id of one row.
func read(t *testing.T, s *store.Store, r row) ([]byte, string) {
	t.Helper()
	keyCol := "''"
	if r.col.KeyIDColumn != "" {
		keyCol = r.col.KeyIDColumn
	}
	var out struct {
		Sealed []byte `db:"sealed"`
		KeyID  string `db:"key_id"`
	}
	q := fmt.Sprintf("SELECT %s AS sealed, %s AS key_id FROM %s WHERE %s = ?", r.col.Column, keyCol, r.col.Table, r.col.IDColumn)
	if err := s.DB().GetContext(context.Background(), &out, s.DB().Rebind(q), r.id); err != nil {
		t.Fatal(err)
	}
	return out.Sealed, out.KeyID
}

func TestRotateIsCompleteAndResumable(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		k1, k2 := genKey(t, "k1"), genKey(t, "k2")
		old, rotated, onlyNew := ring(t, k1), ring(t, k2, k1), ring(t, k2)
		rows := seed(t, s, old, 5)

		// Interrupted after its first batch: what committed stays, the rest is untouched.
		ctx, cancel := context.WithCancel(context.Background())
		batches := 0
		_, err := rekey.Rotate(ctx, s, rotated, rekey.Options{Batch: 2, Progress: func(rekey.Progress) {
			batches++
			cancel()
		}})
		if !errors.Is(err, context.Canceled) || batches != 1 {
			t.Fatalf("interrupted run: %v after %d batches", err, batches)
		}
		underK2 := 0
		for _, r := range rows {
			if sealed, _ := read(t, s, r); !old.NeedsRotation(sealed) {
				continue
			}
			underK2++
		}
		if underK2 != 2 {
			t.Fatalf("%d values under k2 after one batch of 2", underK2)
		}

		// Run again: it finishes the job, skipping what is done.
		totals, err := rekey.Rotate(context.Background(), s, rotated, rekey.Options{Batch: 2})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]rekey.Progress{}
		for _, p := range totals {
			got[p.Column] = p
		}
		if p := got["connections.credentials"]; p.Rotated != 3 || p.Failed != 0 {
			t.Fatalf("connections on the second run: %+v (2 of 5 were done)", p)
		}
		if p := got["connect_sessions.oauth_data"]; p.Rotated != 5 {
			t.Fatalf("sessions: %+v", p)
		}
		for _, r := range rows {
			sealed, keyID := read(t, s, r)
			if id, _ := onlyNew.KeyID(sealed); id != "k2" || (r.col.KeyIDColumn != "" && keyID != "k2") {
				t.Errorf("%s %s sealed under %q, recorded %q", r.col, r.id, id, keyID)
			}
			plain, err := onlyNew.Open(sealed, []byte(r.id))
			if err != nil || string(plain) != r.plain {
				t.Errorf("%s %s does not open under k2 alone: %v", r.col, r.id, err)
			}
		}
		// A third run finds nothing to do.
		totals, err = rekey.Rotate(context.Background(), s, rotated, rekey.Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range totals {
			if p.Rotated != 0 || p.Failed != 0 {
				t.Errorf("third run changed %+v", p)
			}
		}
	})
}

func TestRotateReportsUnreadableValues(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		lost, k2 := genKey(t, "lost"), genKey(t, "k2")
		rows := seed(t, s, ring(t, lost), 1)
		_, err := rekey.Rotate(context.Background(), s, ring(t, k2), rekey.Options{})
		if !errors.Is(err, rekey.ErrUnreadable) {
			t.Fatalf("rotation with a missing key: %v", err)
		}
		for _, r := range rows {
			if sealed, _ := read(t, s, r); ring(t, lost).NeedsRotation(sealed) {
				t.Errorf("%s %s was changed although it could not be opened", r.col, r.id)
			}
		}
	})
}

// TestRotateKeepsConcurrentWrites: a value rewritten after rotation read it is not overwritten.
func TestRotateKeepsConcurrentWrites(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		k1, k2 := genKey(t, "k1"), genKey(t, "k2")
		old, rotated := ring(t, k1), ring(t, k2, k1)
		rows := seed(t, s, old, 3)
		col := store.SealedColumns()[0]
		r := rows[0]
		stale, _ := read(t, s, r)
		// A server still on the old ring stores new credentials...
		fresh, _ := old.Seal([]byte(`{"accessToken":"newer"}`), []byte(r.id))
		if ok, err := s.ReplaceSealed(context.Background(), col, r.id, stale, fresh, "k1"); err != nil || !ok {
			t.Fatal(ok, err)
		}
		// ...and a rotation that read the stale value cannot clobber them.
		resealed, _ := rotated.Seal([]byte(r.plain), []byte(r.id))
		if ok, _ := s.ReplaceSealed(context.Background(), col, r.id, stale, resealed, "k2"); ok {
			t.Fatal("a stale value replaced a newer write")
		}
		if _, err := rekey.Rotate(context.Background(), s, rotated, rekey.Options{}); err != nil {
			t.Fatal(err)
		}
		sealed, _ := read(t, s, r)
		plain, err := rotated.Open(sealed, []byte(r.id))
		if err != nil || string(plain) != `{"accessToken":"newer"}` || rotated.NeedsRotation(sealed) {
			t.Fatalf("the newer write was lost or not rotated: %s %v", plain, err)
		}
	})
}
