package console

import (
	"net/url"
	"strconv"
	"time"
)

// Connection list states, the values of the state filter.
const (
	StateAll          = ""
	StateActive       = "active"
	StateDisconnected = "disconnected"
)

// ConnectionFilters is the connections list's query: what the filter bar
// shows and what the pager keeps.
type ConnectionFilters struct {
	Tenant   string // tenant key, exact
	App      string // app key
	State    string // StateAll, StateActive or StateDisconnected
	Archived bool   // include archived connections
	Q        string // free text over name, app key, id and tenant key
}

// Query renders the filters as URL values; WithQuery drops the empty ones.
func (f ConnectionFilters) Query() url.Values {
	q := url.Values{"tenant": {f.Tenant}, "app": {f.App}, "state": {f.State}, "q": {f.Q}}
	if f.Archived {
		q.Set("archived", "1")
	}
	return q
}

// Narrowed reports whether any filter is set.
func (f ConnectionFilters) Narrowed() bool {
	return f.Tenant != "" || f.App != "" || f.State != "" || f.Archived || f.Q != ""
}

// AppChoice is one app in a select.
type AppChoice struct {
	Key, Name string
}

// ConnApp is an app as a connection shows it; Name falls back to the key
// when the catalog no longer has the app.
type ConnApp struct {
	Key, Name, Logo string
}

// InputField is one non-secret input value of a connection.
type InputField struct {
	Key, Label, Value string
}

// ConnView is a connection as the console shows it. It has no field that
// could carry a credential.
type ConnView struct {
	ID, Name                string
	TenantKey, TenantName   string
	App                     ConnApp
	AuthType                string
	Disconnected            bool
	ErrorCode, ErrorMessage string
	CreatedAt, UpdatedAt    time.Time
	ArchivedAt              *time.Time
	LastRefreshAt           *time.Time
	NextRefreshAt           *time.Time
	RetryAttempts           int
	Input                   []InputField
}

// URL is the connection's detail page.
func (c ConnView) URL() string { return "/console/connections/" + url.PathEscape(c.ID) }

// Archived reports whether the connection is archived.
func (c ConnView) Archived() bool { return c.ArchivedAt != nil }

// StateKind is the badge kind of the connection's state.
func (c ConnView) StateKind() string {
	switch {
	case c.ArchivedAt != nil:
		return "muted"
	case c.Disconnected:
		return "danger"
	}
	return "success"
}

// StateText is the connection's state in a word.
func (c ConnView) StateText() string {
	switch {
	case c.ArchivedAt != nil:
		return "Archived"
	case c.Disconnected:
		return "Disconnected"
	}
	return "Active"
}

// AuthLabel names the connection's authentication type for people.
func (c ConnView) AuthLabel() string {
	switch c.AuthType {
	case "oauth2":
		return "OAuth 2.0"
	case "apiKey":
		return "API key"
	case "basic":
		return "Username and password"
	}
	return c.AuthType
}

// TenantURL is the connection list filtered to a tenant.
func TenantURL(key string) string {
	return WithQuery("/console/connections", url.Values{"tenant": {key}})
}

// ConnectionsPage is the connections list.
type ConnectionsPage struct {
	Page
	Filters    ConnectionFilters
	TenantName string // the filtered tenant's display name, when it has one
	Apps       []AppChoice
	Rows       []ConnView
	Pager      Pager
	ClearURL   string // the list without filters
	CreateURL  string // the create form, prefilled with the tenant and app filters
}

// ConnRefresh is one refresh attempt of a connection.
type ConnRefresh struct {
	At                      time.Time
	Outcome                 string // success, transient or permanent
	ErrorCode, ErrorMessage string
	Duration                time.Duration
}

// OutcomeKind is the badge kind of the attempt's outcome.
func (r ConnRefresh) OutcomeKind() string {
	switch r.Outcome {
	case "success":
		return "success"
	case "transient":
		return "warn"
	case "permanent":
		return "danger"
	}
	return "muted"
}

// OutcomeText is the attempt's outcome for people.
func (r ConnRefresh) OutcomeText() string {
	switch r.Outcome {
	case "success":
		return "Refreshed"
	case "transient":
		return "Failed, will retry"
	case "permanent":
		return "Refused"
	}
	return r.Outcome
}

// DurationText is the attempt's duration, "840 ms" or "2.1 s".
func (r ConnRefresh) DurationText() string {
	ms := r.Duration.Milliseconds()
	if ms < 1000 {
		return strconv.FormatInt(ms, 10) + " ms"
	}
	return strconv.FormatFloat(r.Duration.Seconds(), 'f', 1, 64) + " s"
}

// ConnEvent is one lifecycle event of a connection.
type ConnEvent struct {
	ID, Type string
	At       time.Time
	Summary  string
	Kind     string // dot colour: success, danger, accent or "" (grey)
}

// ConnectionDetailPage is one connection with its history.
type ConnectionDetailPage struct {
	Page
	Conn    ConnView
	Refresh []ConnRefresh
	Events  []ConnEvent
}

// ConnectionArchivePage asks to confirm archiving.
type ConnectionArchivePage struct {
	Page
	Conn ConnView
	// Revokes is true when the app has a revocation endpoint Hitch will call.
	Revokes bool
	// OAuth is true for OAuth connections (tokens), false for API keys and passwords.
	OAuth bool
}

// ConnectionForm is what the create form holds.
type ConnectionForm struct {
	TenantKey, TenantName string
	App                   string // "" lets the user choose
	Intent, Name          string
}

// ConnectionFormErrors are the create form's messages, by field; Form is a
// message for the whole form.
type ConnectionFormErrors struct {
	TenantKey, TenantName, App, Intent, Name, Form string
}

// Any reports whether there is a message.
func (e ConnectionFormErrors) Any() bool {
	return e != ConnectionFormErrors{}
}

// ConnectionNewPage is the create-connection form.
type ConnectionNewPage struct {
	Page
	Form   ConnectionForm
	Errors ConnectionFormErrors
	Apps   []AppChoice // enabled, usable apps
}

// SessionView is a connect session as the console shows it.
type SessionView struct {
	ID, Status              string
	TenantKey, TenantName   string
	App                     ConnApp // Key "" when the user chooses
	Intent, Name            string
	ConnectionID            string // the reconnected connection, "" for a new one
	ConnectionName          string
	ResultConnectionID      string
	ErrorCode, ErrorMessage string
	CreatedAt, ExpiresAt    time.Time
	CodeUsedAt              *time.Time
}

// Pending reports whether the session still waits for the user.
func (s SessionView) Pending() bool { return s.Status == "pending" }

// StatusKind is the badge kind of the session's status.
func (s SessionView) StatusKind() string {
	switch s.Status {
	case "pending":
		return "accent"
	case "completed":
		return "success"
	case "failed":
		return "danger"
	case "expired":
		return "warn"
	}
	return "muted"
}

// StatusText is the session's status for people.
func (s SessionView) StatusText() string {
	switch s.Status {
	case "pending":
		return "Waiting for the user"
	case "completed":
		return "Completed"
	case "failed":
		return "Failed"
	case "cancelled":
		return "Cancelled"
	case "expired":
		return "Expired"
	}
	return s.Status
}

// URL is the session's page.
func (s SessionView) URL() string { return "/console/sessions/" + url.PathEscape(s.ID) }

// ConnectSessionPage follows one connect session.
type ConnectSessionPage struct {
	Page
	Session SessionView
	// Link is the connect link when this response carries it (once, right
	// after the session was started); "" afterwards.
	Link        string
	LinkExpires string
	StatusURL   string
}

// TenantRow is one line of the tenants table.
type TenantRow struct {
	Key, Name                      string
	Active, Disconnected, Archived int
	LastConnectionAt               *time.Time
	CreatedAt                      time.Time
}

// TenantsPage is the tenants list.
type TenantsPage struct {
	Page
	Q     string
	Rows  []TenantRow
	Pager Pager
}
