package admin_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/hitchdev/hitch/internal/admin"
	"github.com/hitchdev/hitch/internal/fault"
	"github.com/hitchdev/hitch/internal/store"
	"github.com/hitchdev/hitch/internal/store/storetest"
)

func TestNormalizeEmail(t *testing.T) {
	cases := []struct {
		in, want string
		ok       bool
	}{
		{"Ann@Example.COM", "ann@example.com", true},
		{"  bob@example.com ", "bob@example.com", true},
		{"Bob <bob@example.com>", "", false},
		{"no-at-sign", "", false},
		{"", "", false},
		{"a@b", "a@b", true},
		{strings.Repeat("a", 250) + "@b.co", "", false},
	}
	for _, c := range cases {
		got, err := admin.NormalizeEmail(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("NormalizeEmail(%q) = %q, %v; want %q ok=%v", c.in, got, err, c.want, c.ok)
		}
	}
}

func TestCheckPassword(t *testing.T) {
	for pw, ok := range map[string]bool{
		"short":                    false,
		"twelve chars":             true,
		strings.Repeat("x", 72):    true,
		strings.Repeat("x", 73):    false,
		strings.Repeat("é", 12):    true,  // 12 characters, 24 bytes
		strings.Repeat("é", 37):    false, // 74 bytes: bcrypt would cut it
		"eleven char":              false,
		"correct horse battery st": true,
	} {
		if err := admin.CheckPassword(pw); (err == nil) != ok {
			t.Errorf("CheckPassword(%q) = %v; want ok=%v", pw, err, ok)
		}
	}
}

func TestAccounts(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
		a := &admin.Accounts{Store: s, Cost: bcrypt.MinCost, Now: func() time.Time { return now }}

		ad, err := a.Create(ctx, "Ops@Example.com", "a long enough password")
		if err != nil {
			t.Fatal(err)
		}
		if ad.Email != "ops@example.com" || !strings.HasPrefix(ad.ID, "adm_") || strings.Contains(ad.PasswordHash, "long enough") {
			t.Fatalf("created %+v", ad)
		}
		if _, err := a.Create(ctx, "ops@example.com", "another long password"); !isFault(err, fault.Conflict) {
			t.Fatalf("duplicate email: %v; want a conflict", err)
		}
		if _, err := a.Create(ctx, "x@example.com", "short"); !isFault(err, fault.Invalid) {
			t.Fatalf("short password: %v; want invalid", err)
		}

		for _, bad := range []struct{ email, pw string }{
			{"ops@example.com", "the wrong password"},
			{"nobody@example.com", "a long enough password"},
			{"not an email", "a long enough password"},
			{"ops@example.com", ""},
			{"ops@example.com", strings.Repeat("p", 100)},
		} {
			if _, err := a.Authenticate(ctx, bad.email, bad.pw); !errors.Is(err, admin.ErrBadLogin) {
				t.Errorf("Authenticate(%q, %q) = %v; want ErrBadLogin", bad.email, bad.pw, err)
			}
		}
		now = now.Add(time.Hour)
		got, err := a.Authenticate(ctx, " OPS@example.com", "a long enough password")
		if err != nil {
			t.Fatal(err)
		}
		stored, _ := s.GetAdmin(ctx, got.ID)
		if stored.LastLoginAt == nil || !stored.LastLoginAt.Equal(now) {
			t.Fatalf("last login = %v; want %v", stored.LastLoginAt, now)
		}

		// The environment's account takes the environment's password, once.
		now = now.Add(time.Hour)
		changed, err := a.Ensure(ctx, "ops@example.com", "a brand new password")
		if err != nil || !changed {
			t.Fatalf("Ensure with a new password = %v, %v; want a change", changed, err)
		}
		stored, _ = s.GetAdmin(ctx, got.ID)
		if !stored.PasswordChangedAt.Equal(now) {
			t.Fatalf("password changed at %v; want %v", stored.PasswordChangedAt, now)
		}
		if changed, err := a.Ensure(ctx, "ops@example.com", "a brand new password"); err != nil || changed {
			t.Fatalf("Ensure again = %v, %v; want no change", changed, err)
		}
		if _, err := a.Authenticate(ctx, "ops@example.com", "a long enough password"); !errors.Is(err, admin.ErrBadLogin) {
			t.Fatalf("old password still works: %v", err)
		}

		pw, err := a.EnsureDemo(ctx)
		if err != nil || len(pw) < admin.MinPassword {
			t.Fatalf("EnsureDemo = %q, %v", pw, err)
		}
		if _, err := a.Authenticate(ctx, admin.DemoEmail, pw); err != nil {
			t.Fatalf("demo password does not sign in: %v", err)
		}
		if n, _ := s.CountAdmins(ctx); n != 2 {
			t.Fatalf("%d accounts; want 2", n)
		}
	})
}

func isFault(err error, k fault.Kind) bool {
	fe, ok := fault.As(err)
	return ok && fe.Kind == k
}
