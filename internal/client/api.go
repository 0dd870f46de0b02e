package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Connection is the API's Connection (spec section 3). It never holds credentials.
type Connection struct {
	ID            string            `json:"id" jsonschema:"the connection id (con_...)"`
	Name          string            `json:"name" jsonschema:"display name, e.g. the app's name"`
	TenantKey     string            `json:"tenantKey" jsonschema:"the tenant (host customer) that owns the connection"`
	AppKey        string            `json:"appKey" jsonschema:"catalog key of the connected app, e.g. hubspot"`
	AuthType      string            `json:"authType" jsonschema:"how the app authenticates: oauth2, apiKey or basic"`
	Disconnected  bool              `json:"disconnected" jsonschema:"true when the credentials stopped working; reconnect with create-connection and this connectionId"`
	Error         *ErrorInfo        `json:"error" jsonschema:"why the connection is disconnected, if it is"`
	CreatedAt     string            `json:"createdAt" jsonschema:"RFC 3339 creation time"`
	UpdatedAt     string            `json:"updatedAt" jsonschema:"RFC 3339 time of the last change"`
	ArchivedAt    *string           `json:"archivedAt" jsonschema:"RFC 3339 time it was archived, or null"`
	LastRefreshAt *string           `json:"lastRefreshAt" jsonschema:"RFC 3339 time of the last token refresh, or null"`
	NextRefreshAt *string           `json:"nextRefreshAt" jsonschema:"RFC 3339 time of the next planned refresh, or null"`
	RetryAttempts int               `json:"retryAttempts" jsonschema:"failed refresh attempts since the last success"`
	Input         map[string]string `json:"input" jsonschema:"non-secret values the user entered when connecting"`
}

// Status is a one-word summary: connected, disconnected or archived.
func (c Connection) Status() string {
	switch {
	case c.ArchivedAt != nil:
		return "archived"
	case c.Disconnected:
		return "disconnected"
	}
	return "connected"
}

// ErrorInfo is a code and a human sentence, as on a connection or a session.
type ErrorInfo struct {
	Code    string `json:"code" jsonschema:"machine-readable snake_case code"`
	Message string `json:"message" jsonschema:"human-readable sentence"`
}

// Session statuses (spec section 3).
const (
	StatusPending   = "pending"
	StatusCompleted = "completed"
	StatusFailed    = "failed"
	StatusCancelled = "cancelled"
	StatusExpired   = "expired"
)

// Session is a connect session as the API shows it.
type Session struct {
	ID         string      `json:"id"`
	URL        string      `json:"url,omitempty"` // only when the session is started
	Status     string      `json:"status"`
	ExpiresAt  time.Time   `json:"expiresAt"`
	Connection *Connection `json:"connection,omitempty"`
	Error      *ErrorInfo  `json:"error,omitempty"`
}

// Done reports whether the session has left pending.
func (s *Session) Done() bool { return s.Status != StatusPending }

// ConnectRequest is the body of POST /connect. Exactly what to connect is
// chosen by Intent (free text), AppKey or ConnectionID (a reconnect).
type ConnectRequest struct {
	Intent       string `json:"intent,omitempty"`
	AppKey       string `json:"appKey,omitempty"`
	ConnectionID string `json:"connectionId,omitempty"`
	Name         string `json:"name,omitempty"`
	// TenantKey names the tenant for an admin token.
	TenantKey string `json:"tenantKey,omitempty"`
}

// ListOptions filter GET /connections.
type ListOptions struct {
	AppKey          string
	Disconnected    *bool
	IncludeArchived bool
	Search          string
	Limit           int // 0: the server's default
	Cursor          string
	// TenantKey filters by tenant; for admin tokens only.
	TenantKey string
}

func (o ListOptions) query() url.Values {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("appKey", o.AppKey)
	set("search", o.Search)
	set("cursor", o.Cursor)
	set("tenantKey", o.TenantKey)
	if o.Disconnected != nil {
		q.Set("disconnected", strconv.FormatBool(*o.Disconnected))
	}
	if o.IncludeArchived {
		q.Set("includeArchived", "true")
	}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	return q
}

// ConnectionPage is one page of GET /connections; Cursor is "" on the last.
type ConnectionPage struct {
	Items  []Connection
	Cursor string
}

// MaxWait is the longest long poll the API accepts.
const MaxWait = 60 * time.Second

// StartConnect opens a connect session; its URL is the connect link.
func (c *Client) StartConnect(ctx context.Context, r ConnectRequest) (*Session, error) {
	if r.Intent == "" && r.AppKey == "" && r.ConnectionID == "" {
		return nil, errors.New("say what to connect: an intent, an app key or a connection id")
	}
	var s Session
	if err := c.do(ctx, http.MethodPost, "/connect", nil, r, &s, 0); err != nil {
		return nil, err
	}
	return &s, nil
}

// Session reads a connect session. A wait above zero long-polls: the call
// returns as soon as the session leaves pending, or after wait (at most
// MaxWait, rounded to whole seconds) with it still pending.
func (c *Client) Session(ctx context.Context, id string, wait time.Duration) (*Session, error) {
	var q url.Values
	if wait > 0 {
		wait = min(wait, MaxWait)
		q = url.Values{"wait": {strconv.Itoa(max(1, int(wait.Round(time.Second)/time.Second)))}}
	}
	if err := needID("session", id); err != nil {
		return nil, err
	}
	var s Session
	if err := c.do(ctx, http.MethodGet, "/connect/"+seg(id), q, nil, &s, wait); err != nil {
		return nil, err
	}
	return &s, nil
}

// CancelSession cancels a pending connect session.
func (c *Client) CancelSession(ctx context.Context, id string) (*Session, error) {
	if err := needID("session", id); err != nil {
		return nil, err
	}
	var s Session
	if err := c.do(ctx, http.MethodPost, "/connect/"+seg(id)+"/cancel", nil, nil, &s, 0); err != nil {
		return nil, err
	}
	return &s, nil
}

// ListConnections reads one page of connections, newest first.
func (c *Client) ListConnections(ctx context.Context, o ListOptions) (*ConnectionPage, error) {
	var body struct {
		Items  []Connection `json:"items"`
		Cursor *string      `json:"cursor"`
	}
	if err := c.do(ctx, http.MethodGet, "/connections", o.query(), nil, &body, 0); err != nil {
		return nil, err
	}
	p := &ConnectionPage{Items: body.Items}
	if p.Items == nil {
		p.Items = []Connection{}
	}
	if body.Cursor != nil {
		p.Cursor = *body.Cursor
	}
	return p, nil
}

// EachConnection calls fn for every page of connections matching o,
// following the cursor from o.Cursor to the end or until fn returns an error.
func (c *Client) EachConnection(ctx context.Context, o ListOptions, fn func(*ConnectionPage) error) error {
	for {
		p, err := c.ListConnections(ctx, o)
		if err != nil {
			return err
		}
		if err := fn(p); err != nil {
			return err
		}
		if p.Cursor == "" || p.Cursor == o.Cursor {
			return nil
		}
		o.Cursor = p.Cursor
	}
}

// Connection reads one connection.
func (c *Client) Connection(ctx context.Context, id string) (*Connection, error) {
	if err := needID("connection", id); err != nil {
		return nil, err
	}
	var conn Connection
	if err := c.do(ctx, http.MethodGet, "/connections/"+seg(id), nil, nil, &conn, 0); err != nil {
		return nil, err
	}
	return &conn, nil
}

// ArchiveConnection archives a connection (revoking and erasing its
// credentials) and returns it as it is now. Archiving twice is harmless.
func (c *Client) ArchiveConnection(ctx context.Context, id string) (*Connection, error) {
	if err := needID("connection", id); err != nil {
		return nil, err
	}
	if err := needID("connection", id); err != nil {
		return nil, err
	}
	var conn Connection
	if err := c.do(ctx, http.MethodDelete, "/connections/"+seg(id), nil, nil, &conn, 0); err != nil {
		return nil, err
	}
	return &conn, nil
}

// needID refuses an empty id, which would address the collection instead.
func needID(what, id string) error {
	if id == "" {
		return fmt.Errorf("the %s id is empty", what)
	}
	return nil
}
