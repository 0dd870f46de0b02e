// Package mcpserver is Hitch's MCP server (spec section 11): tools that let
// an agent connect a user's apps and read or archive connections. Every tool
// calls the Hitch HTTP API through internal/client, so the API's validation
// and tenant scoping apply unchanged, whatever the transport.
package mcpserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/hitchdev/hitch/internal/client"
)

// API is the part of the Hitch API the tools use; *client.Client is one.
type API interface {
	StartConnect(ctx context.Context, r client.ConnectRequest) (*client.Session, error)
	Session(ctx context.Context, id string, wait time.Duration) (*client.Session, error)
	ListConnections(ctx context.Context, o client.ListOptions) (*client.ConnectionPage, error)
	Connection(ctx context.Context, id string) (*client.Connection, error)
	ArchiveConnection(ctx context.Context, id string) (*client.Connection, error)
}

// APIFor picks the API one tool call runs against, e.g. a client carrying
// the caller's own bearer token.
type APIFor func(ctx context.Context, req *mcp.CallToolRequest) (API, error)

// Fixed returns an APIFor that always uses api (the stdio transport, where
// the process has one configured token).
func Fixed(api API) APIFor {
	return func(context.Context, *mcp.CallToolRequest) (API, error) { return api, nil }
}

// Options configure New.
type Options struct {
	Version string       // reported to clients; empty means "dev"
	Logger  *slog.Logger // nil: no logging
}

// Tool names (spec section 11).
const (
	ToolCreateConnection  = "create-connection"
	ToolGetSession        = "get-connection-session"
	ToolListConnections   = "list-connections"
	ToolGetConnection     = "get-connection"
	ToolArchiveConnection = "archive-connection"
)

const instructions = `Hitch connects this user's accounts at external apps (CRMs, email, payments...) so the host product can use them.
To connect an app: call create-connection, give the returned link to the user to open in their browser, then call get-connection-session with the session id (waitSeconds up to 60) until its status is no longer "pending".
Use list-connections and get-connection to see existing connections; a connection with disconnected=true needs the user to reconnect it (create-connection with its connectionId).`

// New builds the MCP server with Hitch's tools.
func New(apiFor APIFor, o Options) *mcp.Server {
	if o.Version == "" {
		o.Version = "dev"
	}
	s := mcp.NewServer(&mcp.Implementation{Name: "hitch", Title: "Hitch", Version: o.Version},
		&mcp.ServerOptions{Instructions: instructions, Logger: o.Logger})
	t := &tools{apiFor: apiFor}

	mcp.AddTool(s, &mcp.Tool{
		Name:  ToolCreateConnection,
		Title: "Connect an app",
		Description: "Start connecting one of the user's apps (or reconnect a broken connection). Returns a single-use connect link " +
			"that expires in 30 minutes and a sessionId. Give the link to the user and ask them to open it in their browser; they pick " +
			"the app if needed and sign in there (never ask the user for passwords or API keys yourself). Then call " +
			"get-connection-session with the sessionId to learn the outcome. Give exactly one of intent, appKey or connectionId.",
		InputSchema: schema[CreateConnectionInput](func(s *jsonschema.Schema) {
			maxLen(s, "intent", 255)
			maxLen(s, "appKey", 255)
			maxLen(s, "connectionId", 255)
			maxLen(s, "name", 255)
			maxLen(s, "tenantKey", 255)
		}),
		Annotations: &mcp.ToolAnnotations{Title: "Connect an app", DestructiveHint: ptr(false), OpenWorldHint: ptr(false)},
	}, t.createConnection)

	mcp.AddTool(s, &mcp.Tool{
		Name:  ToolGetSession,
		Title: "Check a connect session",
		Description: "Learn the outcome of a connect session started by create-connection. status is pending (the user has not " +
			"finished yet), completed (connection holds the new or reconnected connection), failed, cancelled or expired (error " +
			"says why; start again with create-connection if the user still wants to connect). Set waitSeconds (up to 60) to " +
			"wait for the user: the call returns as soon as the status changes.",
		InputSchema: schema[GetSessionInput](func(s *jsonschema.Schema) {
			maxLen(s, "sessionId", 255)
			bounds(s, "waitSeconds", 0, 60)
		}),
		Annotations: &mcp.ToolAnnotations{Title: "Check a connect session", ReadOnlyHint: true, OpenWorldHint: ptr(false)},
	}, t.getSession)

	mcp.AddTool(s, &mcp.Tool{
		Name:  ToolListConnections,
		Title: "List connections",
		Description: "List the user's connections to external apps, newest first (archived ones are left out). Filter by appKey, " +
			"by disconnected (true: only those that need reconnecting), or by search text over names and apps. When cursor " +
			"is returned there are more: call again with it.",
		InputSchema: schema[ListConnectionsInput](func(s *jsonschema.Schema) {
			maxLen(s, "appKey", 255)
			maxLen(s, "search", 255)
			maxLen(s, "tenantKey", 255)
			bounds(s, "limit", 1, 500)
		}),
		Annotations: &mcp.ToolAnnotations{Title: "List connections", ReadOnlyHint: true, OpenWorldHint: ptr(false)},
	}, t.listConnections)

	mcp.AddTool(s, &mcp.Tool{
		Name:        ToolGetConnection,
		Title:       "Get a connection",
		Description: "Read one connection by id: its app, status (disconnected and the error when its credentials stopped working) and refresh times. Credentials are never returned.",
		InputSchema: schema[ConnectionIDInput](func(s *jsonschema.Schema) { maxLen(s, "connectionId", 255) }),
		Annotations: &mcp.ToolAnnotations{Title: "Get a connection", ReadOnlyHint: true, OpenWorldHint: ptr(false)},
	}, t.getConnection)

	mcp.AddTool(s, &mcp.Tool{
		Name:  ToolArchiveConnection,
		Title: "Archive a connection",
		Description: "Archive (delete) a connection: its credentials are revoked at the app where possible and erased, and the host " +
			"product can no longer use it. This cannot be undone (the user would have to connect again), so only do it when the " +
			"user asks. Archiving an already archived connection changes nothing.",
		InputSchema: schema[ConnectionIDInput](func(s *jsonschema.Schema) { maxLen(s, "connectionId", 255) }),
		Annotations: &mcp.ToolAnnotations{Title: "Archive a connection", DestructiveHint: ptr(true), IdempotentHint: true, OpenWorldHint: ptr(true)},
	}, t.archiveConnection)
	return s
}

// CreateConnectionInput is create-connection's arguments.
type CreateConnectionInput struct {
	Intent       string `json:"intent,omitempty" jsonschema:"what the user wants to connect, in their words, e.g. 'CRM', 'my Gmail' or 'payments'; the user then picks among the matching apps"`
	AppKey       string `json:"appKey,omitempty" jsonschema:"the catalog key of one app to connect, e.g. 'hubspot', when you know exactly which app"`
	ConnectionID string `json:"connectionId,omitempty" jsonschema:"the id (con_...) of an existing connection to reconnect, typically one with disconnected=true"`
	Name         string `json:"name,omitempty" jsonschema:"optional display name for the new connection, e.g. 'Sales HubSpot'"`
	TenantKey    string `json:"tenantKey,omitempty" jsonschema:"admin tokens only: the tenant to connect for; leave out with a tenant token"`
}

// ConnectLink is create-connection's result.
type ConnectLink struct {
	SessionID string `json:"sessionId" jsonschema:"pass to get-connection-session to learn the outcome"`
	URL       string `json:"url" jsonschema:"the connect link to give the user; single use"`
	Status    string `json:"status" jsonschema:"pending until the user finishes"`
	ExpiresAt string `json:"expiresAt" jsonschema:"RFC 3339 time after which the link no longer works"`
}

// GetSessionInput is get-connection-session's arguments.
type GetSessionInput struct {
	SessionID   string `json:"sessionId" jsonschema:"the sessionId returned by create-connection"`
	WaitSeconds int    `json:"waitSeconds,omitempty" jsonschema:"seconds to wait for the user to finish (0-60); 0 or absent answers at once"`
}

// SessionResult is get-connection-session's result.
type SessionResult struct {
	SessionID  string             `json:"sessionId" jsonschema:"the session id"`
	Status     string             `json:"status" jsonschema:"pending, completed, failed, cancelled or expired"`
	ExpiresAt  string             `json:"expiresAt" jsonschema:"RFC 3339 time the session expires"`
	Connection *client.Connection `json:"connection,omitempty" jsonschema:"the new or reconnected connection when status is completed"`
	Error      *client.ErrorInfo  `json:"error,omitempty" jsonschema:"why the session failed, was cancelled or expired"`
}

// ListConnectionsInput is list-connections' arguments.
type ListConnectionsInput struct {
	AppKey       string `json:"appKey,omitempty" jsonschema:"only connections to this app, by catalog key (e.g. 'hubspot')"`
	Disconnected *bool  `json:"disconnected,omitempty" jsonschema:"true: only connections that need reconnecting; false: only working ones; absent: both"`
	Search       string `json:"search,omitempty" jsonschema:"free text matched against connection names and app keys"`
	Limit        int    `json:"limit,omitempty" jsonschema:"page size, 1-500 (default 100)"`
	Cursor       string `json:"cursor,omitempty" jsonschema:"the cursor returned by the previous call, to get the next page"`
	TenantKey    string `json:"tenantKey,omitempty" jsonschema:"admin tokens only: list this tenant's connections (absent: every tenant)"`
}

// ConnectionList is list-connections' result.
type ConnectionList struct {
	Connections []client.Connection `json:"connections" jsonschema:"the connections on this page, newest first"`
	Cursor      string              `json:"cursor,omitempty" jsonschema:"present when there are more: pass it back as cursor"`
}

// ConnectionIDInput names one connection.
type ConnectionIDInput struct {
	ConnectionID string `json:"connectionId" jsonschema:"the connection id (con_...), as returned by list-connections or get-connection-session"`
}

type tools struct{ apiFor APIFor }

func (t *tools) createConnection(ctx context.Context, req *mcp.CallToolRequest, in CreateConnectionInput) (*mcp.CallToolResult, ConnectLink, error) {
	n := 0
	for _, v := range []string{in.Intent, in.AppKey, in.ConnectionID} {
		if strings.TrimSpace(v) != "" {
			n++
		}
	}
	if n != 1 {
		return nil, ConnectLink{}, errors.New("give exactly one of intent (what the user wants to connect), appKey (one app) or connectionId (a reconnect)")
	}
	api, err := t.apiFor(ctx, req)
	if err != nil {
		return nil, ConnectLink{}, err
	}
	s, err := api.StartConnect(ctx, client.ConnectRequest{
		Intent: in.Intent, AppKey: in.AppKey, ConnectionID: in.ConnectionID, Name: in.Name, TenantKey: in.TenantKey,
	})
	if err != nil {
		return nil, ConnectLink{}, toolError(err)
	}
	out := ConnectLink{SessionID: s.ID, URL: s.URL, Status: s.Status, ExpiresAt: stamp(s.ExpiresAt)}
	text := fmt.Sprintf("Give this link to the user and ask them to open it in their browser to connect (it works once and expires at %s):\n%s\n"+
		"Then call get-connection-session with sessionId %q (waitSeconds up to 60) to learn whether they connected.",
		out.ExpiresAt, out.URL, out.SessionID)
	return result(text, out), out, nil
}

func (t *tools) getSession(ctx context.Context, req *mcp.CallToolRequest, in GetSessionInput) (*mcp.CallToolResult, SessionResult, error) {
	if in.WaitSeconds < 0 || in.WaitSeconds > 60 {
		return nil, SessionResult{}, errors.New("waitSeconds must be from 0 to 60")
	}
	api, err := t.apiFor(ctx, req)
	if err != nil {
		return nil, SessionResult{}, err
	}
	s, err := api.Session(ctx, in.SessionID, time.Duration(in.WaitSeconds)*time.Second)
	if err != nil {
		return nil, SessionResult{}, toolError(err)
	}
	out := SessionResult{SessionID: s.ID, Status: s.Status, ExpiresAt: stamp(s.ExpiresAt), Connection: s.Connection, Error: s.Error}
	if out.Connection != nil {
		c := normalize(*out.Connection)
		out.Connection = &c
	}
	var text string
	switch s.Status {
	case client.StatusPending:
		text = "The user has not finished connecting yet. Call get-connection-session again (waitSeconds up to 60) to keep waiting."
	case client.StatusCompleted:
		if c := s.Connection; c != nil {
			text = fmt.Sprintf("Connected: %s (app %s), connection id %s.", c.Name, c.AppKey, c.ID)
		} else {
			text = "The session completed."
		}
	default:
		text = fmt.Sprintf("The connect session %s.", s.Status)
		if s.Error != nil && s.Error.Message != "" {
			text += " " + s.Error.Message
		}
		text += " Call create-connection again if the user still wants to connect."
	}
	return result(text, out), out, nil
}

func (t *tools) listConnections(ctx context.Context, req *mcp.CallToolRequest, in ListConnectionsInput) (*mcp.CallToolResult, ConnectionList, error) {
	if in.Limit < 0 || in.Limit > 500 {
		return nil, ConnectionList{}, errors.New("limit must be from 1 to 500")
	}
	api, err := t.apiFor(ctx, req)
	if err != nil {
		return nil, ConnectionList{}, err
	}
	p, err := api.ListConnections(ctx, client.ListOptions{
		AppKey: in.AppKey, Disconnected: in.Disconnected, Search: in.Search, Limit: in.Limit, Cursor: in.Cursor, TenantKey: in.TenantKey,
	})
	if err != nil {
		return nil, ConnectionList{}, toolError(err)
	}
	out := ConnectionList{Connections: make([]client.Connection, len(p.Items)), Cursor: p.Cursor}
	for i, c := range p.Items {
		out.Connections[i] = normalize(c)
	}
	var b strings.Builder
	switch len(p.Items) {
	case 0:
		b.WriteString("No connections match.")
	case 1:
		b.WriteString("1 connection:")
	default:
		fmt.Fprintf(&b, "%d connections:", len(p.Items))
	}
	for _, c := range p.Items {
		fmt.Fprintf(&b, "\n- %s: %s (app %s, tenant %s, %s)", c.ID, c.Name, c.AppKey, c.TenantKey, c.Status())
	}
	if p.Cursor != "" {
		fmt.Fprintf(&b, "\nThere are more: call list-connections again with cursor %q.", p.Cursor)
	}
	return result(b.String(), out), out, nil
}

func (t *tools) getConnection(ctx context.Context, req *mcp.CallToolRequest, in ConnectionIDInput) (*mcp.CallToolResult, client.Connection, error) {
	api, err := t.apiFor(ctx, req)
	if err != nil {
		return nil, client.Connection{}, err
	}
	c, err := api.Connection(ctx, in.ConnectionID)
	if err != nil {
		return nil, client.Connection{}, toolError(err)
	}
	text := fmt.Sprintf("%s: %s (app %s, tenant %s) is %s.", c.ID, c.Name, c.AppKey, c.TenantKey, c.Status())
	if c.Disconnected && c.Error != nil {
		text += " " + c.Error.Message + " The user can fix it with create-connection and this connectionId."
	}
	out := normalize(*c)
	return result(text, out), out, nil
}

func (t *tools) archiveConnection(ctx context.Context, req *mcp.CallToolRequest, in ConnectionIDInput) (*mcp.CallToolResult, client.Connection, error) {
	api, err := t.apiFor(ctx, req)
	if err != nil {
		return nil, client.Connection{}, err
	}
	c, err := api.ArchiveConnection(ctx, in.ConnectionID)
	if err != nil {
		return nil, client.Connection{}, toolError(err)
	}
	out := normalize(*c)
	return result(fmt.Sprintf("Archived %s: %s (app %s). Its credentials are erased.", c.ID, c.Name, c.AppKey), out), out, nil
}

// toolError turns an API error into the tool error the agent reads: the
// API's own sentence, with its code for the agent to branch on.
func toolError(err error) error {
	var ae *client.Error
	if errors.As(err, &ae) && ae.Code != "" {
		return fmt.Errorf("%s (%s)", ae.Message, ae.Code)
	}
	return err
}

// result is a sentence for the agent followed by the output as JSON text,
// for clients that do not read structured content (the SDK sets that from
// out as well).
func result(text string, out any) *mcp.CallToolResult {
	content := []mcp.Content{&mcp.TextContent{Text: text}}
	if raw, err := json.Marshal(out); err == nil {
		content = append(content, &mcp.TextContent{Text: string(raw)})
	}
	return &mcp.CallToolResult{Content: content}
}

// normalize keeps the output valid against its schema (input is an object).
func normalize(c client.Connection) client.Connection {
	if c.Input == nil {
		c.Input = map[string]string{}
	}
	return c
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func ptr[T any](v T) *T { return &v }

// schema infers T's input schema and lets the caller tighten it; inference
// only fails on a programming error, caught by the tests.
func schema[T any](tighten func(*jsonschema.Schema)) *jsonschema.Schema {
	s, err := jsonschema.For[T](nil)
	if err != nil {
		panic(fmt.Sprintf("mcpserver: schema for %T: %v", *new(T), err))
	}
	tighten(s)
	return s
}

func maxLen(s *jsonschema.Schema, prop string, n int) {
	s.Properties[prop].MaxLength = ptr(n)
}

func bounds(s *jsonschema.Schema, prop string, lo, hi float64) {
	p := s.Properties[prop]
	p.Minimum, p.Maximum = ptr(lo), ptr(hi)
}
