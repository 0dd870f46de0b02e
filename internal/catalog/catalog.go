// Package catalog holds the apps a tenant can connect: their definitions (an
// embedded YAML file merged with an operator's override file), validation of
// those definitions, and free-text intent search over them.
package catalog

import (
	_ "embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
)

//go:embed apps.yaml
var builtinYAML []byte

// builtinFile names the embedded catalog in error messages.
const builtinFile = "apps.yaml (builtin)"

// maxFileSize bounds the override file so a wrong path (a log, a dump) fails fast.
const maxFileSize = 4 << 20

// Auth types.
const (
	AuthOAuth2 = "oauth2"
	AuthAPIKey = "apiKey"
	AuthBasic  = "basic"
)

// Token endpoint client authentication methods (RFC 8414 names).
const (
	TokenAuthBasic = "client_secret_basic"
	TokenAuthPost  = "client_secret_post"
	TokenAuthNone  = "none"
)

// App is one connectable external service.
type App struct {
	Key        string   `json:"key"`
	Name       string   `json:"name"`
	Categories []string `json:"categories"`
	Aliases    []string `json:"aliases,omitempty"`
	Domains    []string `json:"domains,omitempty"`
	Logo       string   `json:"logo,omitempty"`
	DocsURL    string   `json:"docsUrl,omitempty"`
	// Popularity (0-100) orders apps within a category match; higher first.
	Popularity int  `json:"popularity,omitempty"`
	Sandbox    bool `json:"sandbox,omitempty"`
	Auth       Auth `json:"auth"`
}

// Auth says how an app authenticates.
type Auth struct {
	Type         string   `json:"type"`
	AuthorizeURL string   `json:"authorizeUrl,omitempty"`
	TokenURL     string   `json:"tokenUrl,omitempty"`
	RevokeURL    string   `json:"revokeUrl,omitempty"`
	Scopes       []string `json:"scopes,omitempty"`
	// ScopeSeparator joins Scopes in the authorize request; " " when unset.
	ScopeSeparator string `json:"scopeSeparator,omitempty"`
	// PKCE is true unless the entry says otherwise (set after Load/New).
	PKCE       *bool             `json:"pkce,omitempty"`
	AuthParams map[string]string `json:"authParams,omitempty"`
	// TokenAuthMethod is client_secret_basic (default), client_secret_post or none.
	TokenAuthMethod string `json:"tokenAuthMethod,omitempty"`
	ClientID        string `json:"clientId,omitempty"`
	ClientSecret    string `json:"-"`
	// Fields are asked of the user: credentials for apiKey/basic apps,
	// account-specific endpoint parts for oauth2 apps.
	Fields []Field      `json:"fields,omitempty"`
	Test   *TestRequest `json:"test,omitempty"`
}

// Field is one input of the connect form; its value may fill {key} in URLs and headers.
type Field struct {
	Key         string `json:"key"`
	Label       string `json:"label"`
	Secret      bool   `json:"secret,omitempty"`
	Pattern     string `json:"pattern,omitempty"`
	Help        string `json:"help,omitempty"`
	Placeholder string `json:"placeholder,omitempty"`
	Optional    bool   `json:"optional,omitempty"`
	// Default is used when the user leaves an optional field empty.
	Default string `json:"default,omitempty"`

	re *regexp.Regexp
}

// TestRequest checks apiKey/basic credentials before a connection is saved.
type TestRequest struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers,omitempty"`
	// ExpectStatus lists accepted statuses; empty means any 2xx.
	ExpectStatus []int `json:"expectStatus,omitempty"`
}

// Accepts reports whether status means the credentials work.
func (t *TestRequest) Accepts(status int) bool {
	if len(t.ExpectStatus) == 0 {
		return status >= 200 && status < 300
	}
	for _, s := range t.ExpectStatus {
		if s == status {
			return true
		}
	}
	return false
}

// Options configure Load.
type Options struct {
	// File is HITCH_APPS_FILE; "" means the builtin catalog only.
	File string
	// Getenv resolves ${ENV} and HITCH_APP_<KEY>_CLIENT_ID/_SECRET; os.Getenv when nil.
	Getenv func(string) string
	// IncludeSandbox keeps apps marked sandbox: true (demo mode).
	IncludeSandbox bool
}

// Catalog is an immutable, validated set of apps with a search index.
type Catalog struct {
	apps       []*App // sorted by name
	byKey      map[string]*App
	categories []string
	idx        *index
	scratch    sync.Pool
}

// Load reads the builtin catalog, merges opts.File over it by key, resolves
// client credentials and validates the result.
func Load(opts Options) (*Catalog, error) {
	var data []byte
	if opts.File != "" {
		var err error
		if data, err = readFile(opts.File); err != nil {
			return nil, err
		}
	}
	return load(opts, data)
}

// load is Load with the override file's content already read.
func load(opts Options, data []byte) (*Catalog, error) {
	entries, err := parseEntries(builtinFile, builtinYAML)
	if err != nil {
		return nil, err
	}
	return assemble(opts, entries, data)
}

// assemble merges the override file over the parsed builtin entries, then
// resolves credentials, validates and indexes.
func assemble(opts Options, entries []*entry, data []byte) (*Catalog, error) {
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	if opts.File != "" {
		overrides, err := parseEntries(opts.File, data)
		if err != nil {
			return nil, err
		}
		entries = mergeEntries(entries, overrides)
	}
	apps := make([]*App, 0, len(entries))
	var errs []error
	for _, e := range entries {
		resolveCredentials(e.app, getenv)
		errs = append(errs, validateApp(e.app, e.src)...)
		if e.app.Sandbox && !opts.IncludeSandbox {
			continue
		}
		apps = append(apps, e.app)
	}
	if len(errs) > 0 {
		return nil, joinErrors(errs)
	}
	return build(apps)
}

// New builds a catalog from apps already in memory (tests, benchmarks,
// synthetic catalogs); it fills defaults into the given apps and validates
// them like Load. The apps must not be changed afterwards.
func New(apps []*App) (*Catalog, error) {
	seen := make(map[string]int, len(apps))
	var errs []error
	for i, a := range apps {
		if a == nil {
			errs = append(errs, &LoadError{Field: fmt.Sprintf("apps[%d]", i), Msg: "is nil"})
			continue
		}
		src := &source{index: i}
		if j, dup := seen[a.Key]; dup {
			errs = append(errs, src.errf("key", "duplicate key %q (also apps[%d])", a.Key, j))
		}
		seen[a.Key] = i
		errs = append(errs, validateApp(a, src)...)
	}
	if len(errs) > 0 {
		return nil, joinErrors(errs)
	}
	return build(apps)
}

func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("catalog: open apps file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("catalog: read apps file: %w", err)
	}
	if len(data) > maxFileSize {
		return nil, &LoadError{File: path, Msg: fmt.Sprintf("file is larger than %d bytes", maxFileSize)}
	}
	return data, nil
}

func build(apps []*App) (*Catalog, error) {
	sorted := make([]*App, len(apps))
	copy(sorted, apps)
	sort.SliceStable(sorted, func(i, j int) bool { return lessByName(sorted[i], sorted[j]) })
	c := &Catalog{apps: sorted, byKey: make(map[string]*App, len(sorted))}
	cats := map[string]bool{}
	for _, a := range sorted {
		c.byKey[a.Key] = a
		for _, cat := range a.Categories {
			cats[cat] = true
		}
	}
	for cat := range cats {
		c.categories = append(c.categories, cat)
	}
	sort.Strings(c.categories)
	c.idx = buildIndex(sorted)
	nApps, nTexts := len(sorted), len(c.idx.typos.texts)
	c.scratch.New = func() any { return newScratch(nApps, nTexts) }
	return c, nil
}

func lessByName(a, b *App) bool {
	na, nb := strings.ToLower(a.Name), strings.ToLower(b.Name)
	if na != nb {
		return na < nb
	}
	return a.Key < b.Key
}

// Get returns the app with this key.
func (c *Catalog) Get(key string) (*App, bool) {
	a, ok := c.byKey[key]
	return a, ok
}

// All returns every app, sorted by name. The slice is a copy; the apps are shared and must not be modified.
func (c *Catalog) All() []*App {
	out := make([]*App, len(c.apps))
	copy(out, c.apps)
	return out
}

// Len is the number of apps.
func (c *Catalog) Len() int { return len(c.apps) }

// Categories returns the distinct category keys used by the catalog's apps, sorted.
func (c *Catalog) Categories() []string {
	out := make([]string, len(c.categories))
	copy(out, c.categories)
	return out
}

// Configured reports whether the app can be connected now: oauth2 apps need a
// client id (and a secret unless the token endpoint takes none).
func (a *App) Configured() bool {
	if a.Auth.Type != AuthOAuth2 {
		return true
	}
	if a.Auth.ClientID == "" {
		return false
	}
	return a.Auth.ClientSecret != "" || a.Auth.TokenAuthMethod == TokenAuthNone
}

// UsesPKCE reports whether the authorization request carries a PKCE challenge.
func (a *App) UsesPKCE() bool {
	return a.Auth.Type == AuthOAuth2 && (a.Auth.PKCE == nil || *a.Auth.PKCE)
}

// ScopeParam is the value of the authorize request's scope parameter.
func (a *App) ScopeParam() string {
	sep := a.Auth.ScopeSeparator
	if sep == "" {
		sep = " "
	}
	return strings.Join(a.Auth.Scopes, sep)
}

// WithClient returns a copy of the app using these OAuth client credentials
// (for clients stored in the console); the catalog's app is unchanged.
func (a *App) WithClient(clientID, clientSecret string) *App {
	cp := *a
	cp.Auth.ClientID = clientID
	cp.Auth.ClientSecret = clientSecret
	return &cp
}

// Field returns the declared field with this key.
func (a *App) Field(key string) (*Field, bool) {
	for i := range a.Auth.Fields {
		if a.Auth.Fields[i].Key == key {
			return &a.Auth.Fields[i], true
		}
	}
	return nil, false
}

// LogValue keeps client secrets out of logs whatever handler prints the app.
func (a *App) LogValue() slog.Value {
	return slog.GroupValue(slog.String("key", a.Key), slog.String("authType", a.Auth.Type))
}

// Match reports whether value is acceptable for the field (its pattern, anchored).
func (f *Field) Match(value string) bool {
	if f.Pattern == "" {
		return true
	}
	re := f.re
	if re == nil {
		var err error
		if re, err = compilePattern(f.Pattern); err != nil {
			return false
		}
	}
	return re.MatchString(value)
}

func compilePattern(p string) (*regexp.Regexp, error) {
	return regexp.Compile(`^(?:` + p + `)$`)
}

// LoadError is a catalog definition problem, located in its file.
type LoadError struct {
	File  string // "" for apps given to New
	Line  int    // 0 when unknown
	Field string // e.g. apps[3].auth.tokenUrl
	Msg   string
}

// Error reads "file:line: apps[i].path: message", leaving out what is unknown.
func (e *LoadError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
		}
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// maxReportedErrors keeps a badly broken file from producing a wall of text.
const maxReportedErrors = 20

func joinErrors(errs []error) error {
	sort.SliceStable(errs, func(i, j int) bool {
		a, aok := errs[i].(*LoadError)
		b, bok := errs[j].(*LoadError)
		if !aok || !bok {
			return false
		}
		if a.File != b.File {
			return a.File == builtinFile // builtin first: it is read first
		}
		return a.Line < b.Line
	})
	if len(errs) > maxReportedErrors {
		errs = append(errs[:maxReportedErrors:maxReportedErrors],
			fmt.Errorf("catalog: %d more errors", len(errs)-maxReportedErrors))
	}
	return errors.Join(errs...)
}
