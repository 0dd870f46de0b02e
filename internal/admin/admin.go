// Package admin holds console accounts: creating them with bcrypt password
// hashes, checking a sign-in, and the first account taken from the
// environment or made up for the demo.
package admin

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"

	"github.com/hitchdev/hitch/internal/fault"
	"github.com/hitchdev/hitch/internal/store"
)

// Password length bounds. bcrypt reads at most 72 bytes; a longer password
// would be silently truncated, so it is refused instead.
const (
	MinPassword = 12
	MaxPassword = 72
)

// DemoEmail is the account `hitch serve --demo` signs in with.
const DemoEmail = "admin@demo.hitch"

// ErrBadLogin is the one answer to a wrong email or a wrong password, so a
// sign-in form does not tell which accounts exist.
var ErrBadLogin = errors.New("admin: email or password is wrong")

// Accounts creates and checks console accounts.
type Accounts struct {
	Store *store.Store
	Now   func() time.Time
	// Cost is the bcrypt cost; 0 means bcrypt.DefaultCost. Tests lower it.
	Cost int

	dummyOnce sync.Once
	dummy     []byte
}

// NormalizeEmail checks an address and returns it trimmed and lower-cased,
// the form accounts are stored and looked up by.
func NormalizeEmail(email string) (string, error) {
	email = strings.TrimSpace(email)
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || a.Name != "" || len(email) > 254 {
		return "", fault.New(fault.Invalid, "invalid_email", "Enter an email address like name@example.com.")
	}
	return strings.ToLower(email), nil
}

// CheckPassword enforces the length bounds.
func CheckPassword(password string) error {
	n := utf8.RuneCountInString(password)
	if n < MinPassword {
		return fault.New(fault.Invalid, "weak_password", "The password must be at least %d characters long.", MinPassword)
	}
	if len(password) > MaxPassword {
		return fault.New(fault.Invalid, "long_password", "The password must be at most %d bytes long.", MaxPassword)
	}
	return nil
}

// Create adds an account. A taken email is a fault.Conflict.
func (a *Accounts) Create(ctx context.Context, email, password string) (store.Admin, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return store.Admin{}, err
	}
	hash, err := a.hash(password)
	if err != nil {
		return store.Admin{}, err
	}
	now := a.now()
	ad := store.Admin{Email: email, PasswordHash: hash, CreatedAt: now, PasswordChangedAt: now}
	if err := a.Store.InsertAdmin(ctx, &ad); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return store.Admin{}, fault.New(fault.Conflict, "admin_exists", "An account for %s already exists.", email)
		}
		return store.Admin{}, fmt.Errorf("admin: create: %w", err)
	}
	return ad, nil
}

// SetPassword replaces an account's password; sessions signed in before now
// stop working.
func (a *Accounts) SetPassword(ctx context.Context, id, password string) error {
	hash, err := a.hash(password)
	if err != nil {
		return err
	}
	if err := a.Store.SetAdminPassword(ctx, id, hash, a.now()); err != nil {
		return fmt.Errorf("admin: set password: %w", err)
	}
	return nil
}

// Authenticate checks an email and password and records the sign-in. Every
// failure is ErrBadLogin; an unknown email costs as much time as a known
// one, so timing does not reveal accounts either.
func (a *Accounts) Authenticate(ctx context.Context, email, password string) (store.Admin, error) {
	norm, err := NormalizeEmail(email)
	if err != nil || len(password) > MaxPassword || password == "" {
		a.burn(password)
		return store.Admin{}, ErrBadLogin
	}
	ad, err := a.Store.GetAdminByEmail(ctx, norm)
	if errors.Is(err, store.ErrNotFound) {
		a.burn(password)
		return store.Admin{}, ErrBadLogin
	}
	if err != nil {
		return store.Admin{}, fmt.Errorf("admin: authenticate: %w", err)
	}
	if bcrypt.CompareHashAndPassword([]byte(ad.PasswordHash), []byte(password)) != nil {
		return store.Admin{}, ErrBadLogin
	}
	now := a.now()
	if err := a.Store.RecordAdminLogin(ctx, ad.ID, now); err != nil {
		return store.Admin{}, fmt.Errorf("admin: record sign-in: %w", err)
	}
	ad.LastLoginAt = &now
	return ad, nil
}

// Get returns the account with this id; store.ErrNotFound when it is gone.
func (a *Accounts) Get(ctx context.Context, id string) (store.Admin, error) {
	return a.Store.GetAdmin(ctx, id)
}

// Ensure makes sure an account with this email exists and takes this
// password: the environment (HITCH_ADMIN_EMAIL/PASSWORD) is the source of
// truth for that one account, so changing the variable and restarting
// changes the password. It reports whether anything was written.
func (a *Accounts) Ensure(ctx context.Context, email, password string) (bool, error) {
	norm, err := NormalizeEmail(email)
	if err != nil {
		return false, err
	}
	ad, err := a.Store.GetAdminByEmail(ctx, norm)
	if errors.Is(err, store.ErrNotFound) {
		if _, err := a.Create(ctx, norm, password); err != nil {
			return false, err
		}
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("admin: ensure: %w", err)
	}
	if bcrypt.CompareHashAndPassword([]byte(ad.PasswordHash), []byte(password)) == nil {
		return false, nil
	}
	return true, a.SetPassword(ctx, ad.ID, password)
}

// EnsureDemo gives the demo account a fresh random password and returns it,
// so `hitch serve --demo` can print working credentials on every start.
func (a *Accounts) EnsureDemo(ctx context.Context) (string, error) {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	password := "demo-" + base64.RawURLEncoding.EncodeToString(b)
	if _, err := a.Ensure(ctx, DemoEmail, password); err != nil {
		return "", err
	}
	return password, nil
}

func (a *Accounts) hash(password string) (string, error) {
	if err := CheckPassword(password); err != nil {
		return "", err
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), a.cost())
	if err != nil {
		return "", fmt.Errorf("admin: hash password: %w", err)
	}
	return string(h), nil
}

// burn spends one bcrypt comparison against a throwaway hash.
func (a *Accounts) burn(password string) {
	a.dummyOnce.Do(func() {
		a.dummy, _ = bcrypt.GenerateFromPassword([]byte("hitch-no-such-account"), a.cost())
	})
	if len(password) > MaxPassword {
		password = password[:MaxPassword]
	}
	_ = bcrypt.CompareHashAndPassword(a.dummy, []byte(password))
}

func (a *Accounts) cost() int {
	if a.Cost == 0 {
		return bcrypt.DefaultCost
	}
	return a.Cost
}

func (a *Accounts) now() time.Time {
	if a.Now == nil {
		return time.Now().UTC().Truncate(time.Microsecond)
	}
	return a.Now().UTC().Truncate(time.Microsecond)
}
