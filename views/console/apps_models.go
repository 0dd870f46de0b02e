package console

import (
	"strconv"
	"strings"
	"time"
)

// App states the Apps list filters by.
const (
	AppStateAll         = ""
	AppStateEnabled     = "enabled"
	AppStateDisabled    = "disabled"
	AppStateNeedsClient = "needs-client"
)

// AppsOption is one choice of a filter select.
type AppsOption struct {
	Value, Label string
}

// AppsPage is the Apps list: the catalog with each app's console settings.
type AppsPage struct {
	Page
	Query      string // search text
	Category   string // category key filter
	State      string // one of the AppState constants
	Categories []AppsOption
	States     []AppsOption
	Rows       []AppRow
	Total      int // apps matching the filters, across pages
	PageNum    int // 1-based
	Pages      int
	Pager      Pager
	Filtered   bool // any filter is set (the empty state then offers to clear them)
}

// AppRow is one app in the Apps list.
type AppRow struct {
	Key, Name, Logo string
	URL             string   // its detail page
	Categories      []string // display names
	AuthLabel       string   // OAuth 2.0, API key, Basic
	Enabled         bool
	OAuth           bool // needs an OAuth client (oauth2, not a sandbox app)
	Ready           bool // the OAuth client is complete
	Sandbox         bool
	Active          int // live connections
	Disconnected    int // unarchived connections that are disconnected
}

// AppDetailPage is one app's settings.
type AppDetailPage struct {
	Page
	App            AppRow
	DocsURL        string
	ConnectionsURL string // the Connections page filtered to this app
	UpdatedAt      *time.Time

	// OAuth client (App.OAuth only).
	ClientSource    string // "console", "config" or ""
	ClientID        string // the effective client id
	ConfigClientID  string // the client from configuration, shown when the console overrides it
	EnvVar          string // HITCH_APP_<KEY>_CLIENT_ID
	ConsoleClientID string // prefills the form
	ConsoleSecret   bool   // a secret is stored in the console
	SecretNeeded    bool   // the token endpoint authenticates the client
	RedirectURI     string
	Scopes          []string
	FormClientID    string // what the form shows (the posted value after a refused save)
	ClientIDError   string
	SecretError     string

	// Details.
	AuthType        string
	AuthorizeURL    string
	TokenURL        string
	RevokeURL       string
	PKCE            bool
	TokenAuthMethod string // a human label
	Fields          []AppFieldView
	TestRequest     string // "GET https://…" for API-key and Basic apps
}

// AppFieldView is one input an app asks the user for.
type AppFieldView struct {
	Key, Label, Help string
	Secret, Optional bool
}

// appsCount is the summary line above the Apps table.
func appsCount(p AppsPage) string {
	s := Plural(p.Total, "app", "apps")
	if p.Pages > 1 {
		s += " · page " + strconv.Itoa(p.PageNum) + " of " + strconv.Itoa(p.Pages)
	}
	return s
}

// appConnections describes an app's connection counts.
func appConnections(a AppRow) string {
	if a.Active+a.Disconnected == 0 {
		return "None"
	}
	s := strconv.Itoa(a.Active) + " active"
	if a.Disconnected > 0 {
		s += " · " + strconv.Itoa(a.Disconnected) + " disconnected"
	}
	return s
}

// appsSelected reports whether an option is the current value.
func appsSelected(current, value string) bool { return current == value }

func appsItoa(n int) string { return strconv.Itoa(n) }

func appsJoin(s []string) string { return strings.Join(s, ", ") }

// appsOr shows a dash for an empty value.
func appsOr(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// appsSecretVar names the secret's variable beside the client id's.
func appsSecretVar(idVar string) string {
	return strings.TrimSuffix(idVar, "_ID") + "_SECRET"
}
