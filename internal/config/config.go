// Package config holds Hitch's one configuration struct, loaded once from the
// environment (HITCH_* names of the product contract) and command-line flags.
package config

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// DefaultConsoleTTL is how long a console sign-in lasts unless HITCH_CONSOLE_SESSION_TTL says otherwise.
const DefaultConsoleTTL = 12 * time.Hour

// DefaultListCache is the memory kept for rendered connection list pages unless HITCH_LIST_CACHE_MB says
// otherwise.
const DefaultListCache = 32 << 20

// DefaultDatabaseURL is the embedded SQLite database used when none is configured.
const DefaultDatabaseURL = "sqlite://./data/hitch.db"

// Config is every setting the server and the CLI read. It is built once by
// Load and then passed by value or pointer; nothing else reads the environment.
type Config struct {
	Listen          string        // HITCH_LISTEN, host:port
	PublicURL       *url.URL      // HITCH_PUBLIC_URL, no trailing slash
	DatabaseURL     string        // HITCH_DATABASE_URL
	WorkspaceKey    string        // HITCH_WORKSPACE_KEY
	WorkspaceName   string        // HITCH_WORKSPACE_NAME, the host product's name shown in the popup
	WorkspaceSecret []byte        // HITCH_WORKSPACE_SECRET (or the generated file for the embedded default)
	EncryptionKeys  string        // HITCH_ENCRYPTION_KEYS, "id:base64,..."; empty means the key file
	KeyFile         string        // key file used when EncryptionKeys is empty (embedded default only)
	AllowedOrigins  []string      // HITCH_ALLOWED_ORIGINS, normalised scheme://host[:port]
	AppsFile        string        // HITCH_APPS_FILE
	WebhookURL      string        // HITCH_WEBHOOK_URL
	WebhookSecret   string        // HITCH_WEBHOOK_SECRET
	AdminEmail      string        // HITCH_ADMIN_EMAIL
	AdminPassword   string        // HITCH_ADMIN_PASSWORD
	ConsoleTTL      time.Duration // HITCH_CONSOLE_SESSION_TTL: how long a console sign-in lasts (default 12h)
	// ListCache is the bytes of rendered list pages each process keeps (HITCH_LIST_CACHE_MB, default 32 MiB):
	// 0 means DefaultListCache, negative turns the cache off.
	ListCache     int64
	Sandbox       bool   // HITCH_SANDBOX or --demo
	Demo          bool   // --demo (or HITCH_DEMO)
	LogLevel      string // HITCH_LOG_LEVEL: debug, info, warn, error
	LogFormat     string // HITCH_LOG_FORMAT: text or json
	ShutdownGrace time.Duration

	// SecretGenerated is true when the workspace secret was created on this start.
	SecretGenerated bool
}

// Overrides are flag values; a non-empty field wins over the environment.
type Overrides struct {
	Listen      string
	PublicURL   string
	DatabaseURL string
	AppsFile    string
	Demo        bool
}

// Error names the setting that is wrong, so the operator can fix it at once.
type Error struct {
	Name string // the environment variable or flag
	Msg  string
}

func (e *Error) Error() string { return e.Name + ": " + e.Msg }

// Load reads the environment through getenv, applies the overrides and
// validates the result. It creates the embedded default's secret file when
// the workspace secret is not configured and the database is SQLite.
func Load(getenv func(string) string, o Overrides) (*Config, error) {
	get := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	c := &Config{
		Listen:         get("HITCH_LISTEN", "127.0.0.1:8080"),
		DatabaseURL:    get("HITCH_DATABASE_URL", DefaultDatabaseURL),
		WorkspaceKey:   get("HITCH_WORKSPACE_KEY", "default"),
		WorkspaceName:  get("HITCH_WORKSPACE_NAME", "Hitch"),
		EncryptionKeys: get("HITCH_ENCRYPTION_KEYS", ""),
		AppsFile:       get("HITCH_APPS_FILE", ""),
		WebhookURL:     get("HITCH_WEBHOOK_URL", ""),
		WebhookSecret:  get("HITCH_WEBHOOK_SECRET", ""),
		AdminEmail:     get("HITCH_ADMIN_EMAIL", ""),
		AdminPassword:  getenv("HITCH_ADMIN_PASSWORD"),
		LogLevel:       strings.ToLower(get("HITCH_LOG_LEVEL", "info")),
		LogFormat:      strings.ToLower(get("HITCH_LOG_FORMAT", "text")),
		ShutdownGrace:  15 * time.Second,
	}
	if o.Listen != "" {
		c.Listen = o.Listen
	}
	if o.DatabaseURL != "" {
		c.DatabaseURL = o.DatabaseURL
	}
	if o.AppsFile != "" {
		c.AppsFile = o.AppsFile
	}
	var err error
	if c.Sandbox, err = parseBool("HITCH_SANDBOX", getenv("HITCH_SANDBOX")); err != nil {
		return nil, err
	}
	if c.Demo, err = parseBool("HITCH_DEMO", getenv("HITCH_DEMO")); err != nil {
		return nil, err
	}
	if o.Demo {
		c.Demo = true
	}
	if c.Demo {
		c.Sandbox = true
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return nil, &Error{"HITCH_LISTEN", fmt.Sprintf("%q is not host:port", c.Listen)}
	}
	public := get("HITCH_PUBLIC_URL", "")
	if o.PublicURL != "" {
		public = o.PublicURL
	}
	if public == "" {
		public = "http://" + defaultPublicHost(c.Listen)
	}
	if c.PublicURL, err = parseOrigin(public, true); err != nil {
		return nil, &Error{"HITCH_PUBLIC_URL", err.Error()}
	}
	for _, raw := range strings.Split(getenv("HITCH_ALLOWED_ORIGINS"), ",") {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		u, err := parseOrigin(raw, false)
		if err != nil {
			return nil, &Error{"HITCH_ALLOWED_ORIGINS", err.Error()}
		}
		c.AllowedOrigins = append(c.AllowedOrigins, u.String())
	}
	if !strings.HasPrefix(c.DatabaseURL, "sqlite://") && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		return nil, &Error{"HITCH_DATABASE_URL", "must start with sqlite:// or postgres://"}
	}
	if !validKey(c.WorkspaceKey) {
		return nil, &Error{"HITCH_WORKSPACE_KEY", "must be 1-64 letters, digits, '-', '_' or '.'"}
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return nil, &Error{"HITCH_LOG_LEVEL", "must be debug, info, warn or error"}
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		return nil, &Error{"HITCH_LOG_FORMAT", "must be text or json"}
	}
	if (c.WebhookURL == "") != (c.WebhookSecret == "") {
		return nil, &Error{"HITCH_WEBHOOK_SECRET", "HITCH_WEBHOOK_URL and HITCH_WEBHOOK_SECRET go together"}
	}
	if c.WebhookURL != "" {
		if u, err := url.Parse(c.WebhookURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, &Error{"HITCH_WEBHOOK_URL", "must be an absolute http(s) URL"}
		}
		if !strings.HasPrefix(c.WebhookSecret, "whsec_") {
			return nil, &Error{"HITCH_WEBHOOK_SECRET", "must start with whsec_"}
		}
	}
	if v := strings.TrimSpace(getenv("HITCH_LIST_CACHE_MB")); v != "" {
		mb, err := strconv.Atoi(v)
		if err != nil || mb < 0 || mb > 1<<16 {
			return nil, &Error{"HITCH_LIST_CACHE_MB", "must be a whole number of MiB from 0 (off) to 65536"}
		}
		c.ListCache = int64(mb) << 20
		if mb == 0 {
			c.ListCache = -1
		}
	}
	c.ConsoleTTL = DefaultConsoleTTL
	if v := strings.TrimSpace(getenv("HITCH_CONSOLE_SESSION_TTL")); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Second || d > 30*24*time.Hour {
			return nil, &Error{"HITCH_CONSOLE_SESSION_TTL", "must be a duration between 1s and 720h, like 12h or 30m"}
		}
		c.ConsoleTTL = d
	}
	if (c.AdminEmail == "") != (c.AdminPassword == "") {
		return nil, &Error{"HITCH_ADMIN_PASSWORD", "HITCH_ADMIN_EMAIL and HITCH_ADMIN_PASSWORD go together"}
	}

	dir := c.SQLiteDir()
	if c.EncryptionKeys == "" {
		if dir == "" {
			return nil, &Error{"HITCH_ENCRYPTION_KEYS", "is required with PostgreSQL (generate one with `hitch keys generate`)"}
		}
		c.KeyFile = filepath.Join(dir, "hitch.key")
	}
	if s := getenv("HITCH_WORKSPACE_SECRET"); s != "" {
		if len(s) < 32 {
			return nil, &Error{"HITCH_WORKSPACE_SECRET", "must be at least 32 characters"}
		}
		c.WorkspaceSecret = []byte(s)
	} else {
		if dir == "" {
			return nil, &Error{"HITCH_WORKSPACE_SECRET", "is required with PostgreSQL"}
		}
		secret, created, err := loadOrCreateSecret(filepath.Join(dir, "hitch.secret"))
		if err != nil {
			return nil, &Error{"HITCH_WORKSPACE_SECRET", err.Error()}
		}
		c.WorkspaceSecret, c.SecretGenerated = secret, created
	}
	return c, nil
}

// SQLiteDir is the directory holding the embedded database, or "" on PostgreSQL.
func (c *Config) SQLiteDir() string {
	p, ok := strings.CutPrefix(c.DatabaseURL, "sqlite://")
	if !ok {
		return ""
	}
	if i := strings.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	return filepath.Dir(p)
}

// OriginAllowed reports whether a browser origin may open connect sessions.
func (c *Config) OriginAllowed(origin string) bool {
	for _, o := range c.AllowedOrigins {
		if o == origin {
			return true
		}
	}
	return false
}

// PublicOrigin is the scheme://host[:port] of the public URL.
func (c *Config) PublicOrigin() string {
	return c.PublicURL.Scheme + "://" + c.PublicURL.Host
}

// URL joins a path onto the public URL.
func (c *Config) URL(path string) string {
	return strings.TrimRight(c.PublicURL.String(), "/") + path
}

func defaultPublicHost(listen string) string {
	host, port, _ := net.SplitHostPort(listen)
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// parseOrigin accepts an absolute http(s) URL; allowPath keeps a path prefix
// (the public URL may live under one), origins must not have one.
func parseOrigin(raw string, allowPath bool) (*url.URL, error) {
	u, err := url.Parse(strings.TrimRight(raw, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%q is not an absolute http(s) URL", raw)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%q must not carry credentials, a query or a fragment", raw)
	}
	if !allowPath && u.Path != "" {
		return nil, fmt.Errorf("%q is an origin and must not have a path", raw)
	}
	u.Host = strings.ToLower(u.Host)
	return u, nil
}

func parseBool(name, v string) (bool, error) {
	if strings.TrimSpace(v) == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		return false, &Error{name, fmt.Sprintf("%q is not true or false", v)}
	}
	return b, nil
}

func validKey(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// loadOrCreateSecret keeps the embedded default's workspace secret in a 0600
// file so `hitch token` and the server agree without any setup.
func loadOrCreateSecret(path string) ([]byte, bool, error) {
	if b, err := os.ReadFile(path); err == nil {
		s := strings.TrimSpace(string(b))
		if len(s) < 32 {
			return nil, false, fmt.Errorf("secret file %s is too short", path)
		}
		return []byte(s), false, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, fmt.Errorf("read secret file: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, fmt.Errorf("create data directory: %w", err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, false, err
	}
	secret := base64.RawURLEncoding.EncodeToString(raw)
	// Write a temporary file, then link it into place: the link fails if
	// another process won the race, and nobody ever reads a half-written file.
	tmp, err := os.CreateTemp(filepath.Dir(path), ".hitch.secret-*")
	if err != nil {
		return nil, false, fmt.Errorf("create secret file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, false, err
	}
	if _, err := tmp.WriteString(secret + "\n"); err != nil {
		tmp.Close()
		return nil, false, fmt.Errorf("write secret file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, false, err
	}
	if err := os.Link(tmp.Name(), path); errors.Is(err, fs.ErrExist) {
		return loadOrCreateSecret(path)
	} else if err != nil {
		return nil, false, fmt.Errorf("create secret file: %w", err)
	}
	return []byte(secret), true, nil
}
