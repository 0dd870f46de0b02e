// Package popup holds the server-rendered pages of the connect popup and the
// view models the popup handlers fill in to render them.
package popup

// Page is the part every popup page shares.
type Page struct {
	// Title is the document title; " · Hitch" is appended.
	Title string
	// Nonce is the CSP script nonce of this response; every inline script carries it.
	Nonce string
	// Workspace is the host product's name shown in the header, e.g. "Acme CRM Sync".
	Workspace string
	// SessionID names the connect session; empty on pages outside a session.
	SessionID string
	// CSRF is the token sent as the hidden input "csrf" on every POST form.
	CSRF string
	// Modal is true when the page runs in the SDK's iframe overlay instead of a popup window.
	Modal bool
}

// AppCard is one app as the popup lists or shows it.
type AppCard struct {
	// Key is the catalog key, e.g. "hubspot".
	Key string
	// Name is the display name, e.g. "HubSpot".
	Name string
	// Logo is the site path of a 64x64 SVG; empty shows a monogram.
	Logo string
	// AuthType is "oauth2", "apiKey" or "basic".
	AuthType string
	// Categories are display labels, e.g. "CRM".
	Categories []string
	// Configured is false when the operator has not set the app up; such rows are disabled.
	Configured bool
	// Decisive marks the result the intent clearly names.
	Decisive bool
	// URL is where choosing the app goes.
	URL string
}

// Category is one category chip on the search page.
type Category struct {
	// Key is the category key used in the URL.
	Key string
	// Label is the display text.
	Label string
	// URL is the search page filtered to this category.
	URL string
	// Selected marks the active chip.
	Selected bool
}

// SearchPage is step 1: find the app.
type SearchPage struct {
	Page
	// Query is the current search text.
	Query string
	// Intent is what the host asked for, e.g. "CRM"; shown as context when Query is empty.
	Intent string
	// Results are the ranked apps.
	Results []AppCard
	// Categories are the chips; include an "All" chip if one is wanted.
	Categories []Category
	// Category is the selected category key, kept as a hidden input on the search form.
	Category string
	// ActionURL is the GET target of the search form.
	ActionURL string
	// CancelURL is the POST target that cancels the session; empty hides Cancel.
	CancelURL string
	// SearchURL is the JSON endpoint for progressive search: GET SearchURL?q= returns
	// {"items":[{key,name,logo,url,categories,configured}]}.
	SearchURL string
}

// Field is one input of a credentials or account form.
type Field struct {
	// Key is the input name.
	Key string
	// Label is the visible label.
	Label string
	// Help is the hint under the input.
	Help string
	// Placeholder is the input placeholder.
	Placeholder string
	// Value pre-fills the input; never rendered for Secret fields.
	Value string
	// Secret renders a password input with a show/hide toggle.
	Secret bool
	// Optional drops the required attribute and shows "Optional".
	Optional bool
	// Pattern is the HTML pattern attribute, if any.
	Pattern string
	// Error is shown under the input and marks it invalid.
	Error string
}

// ConsentPage is step 2 for OAuth apps: who is asking, then off to the provider.
type ConsentPage struct {
	Page
	// App is the app being connected.
	App AppCard
	// Requester is the tenant's display name.
	Requester string
	// Scopes are the OAuth scopes asked for.
	Scopes []string
	// Fields are account fields the authorize URL needs, e.g. a subdomain; may be empty.
	Fields []Field
	// ActionURL is the POST target that continues to the provider.
	ActionURL string
	// In modal mode providers refuse to be framed, so the form posts into a popup window named
	// OAuthWindow, and this page waits: it polls StatusURL and loads ResultURL once the session ends.
	// Empty outside modal mode.
	OAuthWindow, StatusURL, ResultURL string
	// BackURL returns to the search; empty hides Back.
	BackURL string
	// CancelURL is the POST target that cancels the session; empty hides Cancel.
	CancelURL string
	// Reconnect switches the wording to reconnecting an existing connection.
	Reconnect bool
	// Error is shown above the form.
	Error string
}

// CredentialsPage is step 2 for API-key and basic apps: the catalog's form.
type CredentialsPage struct {
	Page
	// App is the app being connected.
	App AppCard
	// Fields are the catalog's credential fields.
	Fields []Field
	// ActionURL is the POST target of the form.
	ActionURL string
	// BackURL returns to the search; empty hides Back.
	BackURL string
	// CancelURL is the POST target that cancels the session; empty hides Cancel.
	CancelURL string
	// Reconnect switches the wording to reconnecting an existing connection.
	Reconnect bool
	// Error is Hitch's own message, shown above the form.
	Error string
	// ProviderMessage is the provider's refusal, shown verbatim in its own box.
	ProviderMessage string
}

// Result statuses of a ResultPage.
const (
	StatusCompleted = "completed"
	StatusFailed    = "failed"
	StatusCancelled = "cancelled"
	StatusExpired   = "expired"
)

// ResultPage is step 3: the outcome, handed to the opener.
type ResultPage struct {
	Page
	// Status is one of StatusCompleted, StatusFailed, StatusCancelled, StatusExpired.
	Status string
	// Heading overrides the status's default heading.
	Heading string
	// Message is the explanation under the heading.
	Message string
	// AppName is the app's display name; may be empty.
	AppName string
	// AppLogo is the app's logo path; may be empty.
	AppLogo string
	// RetryURL shows a Retry button when set.
	RetryURL string
	// HostOrigin is the exact origin the message is posted to; empty posts nothing.
	HostOrigin string
	// Payload is the JSON message for the opener; invalid JSON is sent as null.
	Payload string
	// AutoClose closes the window about 1.2 s after posting.
	AutoClose bool
}

// ErrorPage is a friendly page for bad, expired or used links.
type ErrorPage struct {
	Page
	// Status is the HTTP status, shown small.
	Status int
	// Heading is the title, e.g. "This link has already been used".
	Heading string
	// Message explains what happened.
	Message string
	// Hint says what to do next.
	Hint string
}
