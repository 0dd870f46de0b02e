package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/hitchdev/hitch/internal/auth"
	"github.com/hitchdev/hitch/internal/client"
)

// Exit codes of the client verbs (documented in `hitch connect --help`).
const (
	exitCodeError     = 1 // an error: the server's answer, an unreachable server...
	exitCodeUsage     = 2 // bad flags or arguments, or no token configured
	exitCodeFailed    = 3 // hitch connect: the connect session failed
	exitCodeCancelled = 4 // hitch connect: cancelled (Ctrl-C, timeout) or expired
)

// defaultURL is where a local `hitch serve` listens.
const defaultURL = "http://127.0.0.1:8080"

// mintTTL is the life of a token minted from the workspace secret; the
// minter renews it before it runs out, so long waits and `hitch mcp` last.
const mintTTL = time.Hour

// clientFlags are the flags every client verb shares.
type clientFlags struct {
	url, token, tenant string
	admin              bool
}

func (f *clientFlags) register(cmd *cobra.Command, persistent bool) {
	fs := cmd.Flags()
	if persistent {
		fs = cmd.PersistentFlags()
	}
	fs.StringVar(&f.url, "url", "", "Hitch's URL (HITCH_URL, default "+defaultURL+")")
	fs.StringVar(&f.token, "token", "", "tenant or admin token (HITCH_TOKEN); prefer the variable, flags show in process lists")
	fs.StringVar(&f.tenant, "tenant", "", "tenant key: the tenant of a token minted from HITCH_WORKSPACE_SECRET, or the tenant an admin token acts for")
	fs.BoolVar(&f.admin, "admin", false, "mint an admin token from HITCH_WORKSPACE_SECRET instead of a tenant token")
}

// newClient builds the API client from the flags and the environment.
func (f *clientFlags) newClient(getenv func(string) string) (*client.Client, error) {
	base := firstNonEmpty(f.url, getenv("HITCH_URL"), defaultURL)
	src, err := f.tokenSource(getenv)
	if err != nil {
		return nil, err
	}
	c, err := client.New(client.Options{BaseURL: base, Token: src, UserAgent: "hitch-cli/" + buildVersion()})
	if err != nil {
		return nil, usageError(err)
	}
	return c, nil
}

// tokenSource picks the token: --token, HITCH_TOKEN, or one minted from
// HITCH_WORKSPACE_SECRET for --tenant (or --admin).
func (f *clientFlags) tokenSource(getenv func(string) string) (client.TokenSource, error) {
	if tok := firstNonEmpty(f.token, getenv("HITCH_TOKEN")); tok != "" {
		if f.admin {
			return nil, usageError(errors.New("--admin mints a token from HITCH_WORKSPACE_SECRET; it cannot be combined with HITCH_TOKEN or --token"))
		}
		return client.StaticToken(tok), nil
	}
	secret := getenv("HITCH_WORKSPACE_SECRET")
	if secret == "" {
		return nil, usageError(errors.New("no token: set HITCH_TOKEN to a tenant or admin token (mint one with `hitch token`), " +
			"or set HITCH_WORKSPACE_SECRET and pass --tenant KEY (or --admin)"))
	}
	if f.tenant == "" && !f.admin {
		return nil, usageError(errors.New("HITCH_WORKSPACE_SECRET is set: pass --tenant KEY to act as that tenant, or --admin"))
	}
	issuer, err := auth.NewIssuer(firstNonEmpty(getenv("HITCH_WORKSPACE_KEY"), "default"), []byte(secret), time.Now)
	if err != nil {
		// The issuer's message names lengths, never the secret.
		return nil, usageError(fmt.Errorf("HITCH_WORKSPACE_SECRET: %w", err))
	}
	p := auth.Principal{TenantKey: f.tenant, Admin: f.admin}
	if f.admin {
		p.TenantKey = "" // admin tokens name no tenant; --tenant goes in each request
	}
	m := &minter{issuer: issuer, p: p}
	if _, err := m.token(context.Background()); err != nil {
		return nil, usageError(err)
	}
	return m.token, nil
}

// minter caches a minted token and mints a new one shortly before it expires.
type minter struct {
	issuer *auth.Issuer
	p      auth.Principal

	mu      sync.Mutex
	current string
	expires time.Time
}

func (m *minter) token(context.Context) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.current != "" && time.Until(m.expires) > 5*time.Minute {
		return m.current, nil
	}
	tok, err := m.issuer.Mint(m.p, mintTTL)
	if err != nil {
		return "", fmt.Errorf("mint a token: %w", err)
	}
	m.current, m.expires = tok, time.Now().Add(mintTTL)
	return tok, nil
}

// apiError turns a client error into what the CLI prints: the server's
// sentence with its code, or a plain explanation when Hitch is unreachable.
func apiError(err error) error {
	var ae *client.Error
	var ue *client.UnreachableError
	switch {
	case errors.As(err, &ae):
		msg := ae.Message
		if ae.Code != "" {
			msg += fmt.Sprintf(" (%s, HTTP %d)", ae.Code, ae.Status)
		}
		if ae.Status == http.StatusUnauthorized {
			msg += "; check HITCH_TOKEN, or HITCH_WORKSPACE_SECRET and HITCH_WORKSPACE_KEY"
		}
		return &exitError{code: exitCodeError, err: errors.New(msg)}
	case errors.As(err, &ue):
		return &exitError{code: exitCodeError, err: fmt.Errorf("%w; is `hitch serve` running there? Set HITCH_URL or --url to its address", err)}
	case errors.Is(err, client.ErrNoToken):
		return usageError(err)
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return err
	}
	return &exitError{code: exitCodeError, err: err}
}

// usageError marks err as the caller's mistake (exit code 2).
func usageError(err error) error { return &exitError{code: exitCodeUsage, err: err} }

// usageErrors makes cobra's own flag and argument errors exit with code 2.
func usageErrors(cmd *cobra.Command) {
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })
}

// exactArgs is cobra.ExactArgs with the usage exit code and a clearer message.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError(fmt.Errorf("%s takes %s (see `%s --help`)", cmd.CommandPath(), what, cmd.CommandPath()))
		}
		return nil
	}
}

// isTerminal reports whether w is a terminal (a character device), which
// decides between tables and spinners or plain, script-friendly output.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}

// buildVersion is the module version stamped by the Go toolchain.
func buildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}
