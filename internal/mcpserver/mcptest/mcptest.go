// Package mcptest is the check suite for Hitch's MCP tools, run by the tests
// of each transport (streamable HTTP in the server, stdio in `hitch mcp`)
// with the SDK's own client against a real Hitch.
package mcptest

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/hitchdev/hitch/internal/client/clienttest"
	"github.com/hitchdev/hitch/internal/mcpserver"
)

// Connect opens an MCP client session that acts with token.
type Connect func(t *testing.T, token string) *mcp.ClientSession

// Run lists the tools, checks their schemas, calls each one, and checks that
// one tenant cannot reach another's connection while an admin can.
func Run(t *testing.T, srv *clienttest.Server, connect Connect) {
	ctx := t.Context()
	acme := connect(t, srv.Token("acme"))
	other := connect(t, srv.Token("other"))
	admin := connect(t, srv.AdminToken())

	t.Run("tools and schemas", func(t *testing.T) { checkTools(t, ctx, acme) })

	// create-connection, then the user connects, then get-connection-session.
	link := decode[mcpserver.ConnectLink](t, call(t, acme, mcpserver.ToolCreateConnection, map[string]any{"appKey": "sandbox-apikey", "name": "Billing key"}))
	if link.SessionID == "" || !strings.HasPrefix(link.URL, srv.URL+"/c/") || link.Status != "pending" || link.ExpiresAt == "" {
		t.Fatalf("create-connection: %+v", link)
	}
	pending := decode[mcpserver.SessionResult](t, call(t, acme, mcpserver.ToolGetSession, map[string]any{"sessionId": link.SessionID}))
	if pending.Status != "pending" || pending.Connection != nil {
		t.Fatalf("session before the user acted: %+v", pending)
	}
	if err := clienttest.NewBrowser().ConnectAPIKey(link.URL, "sandbox-good"); err != nil {
		t.Fatal(err)
	}
	res := call(t, acme, mcpserver.ToolGetSession, map[string]any{"sessionId": link.SessionID, "waitSeconds": 5})
	done := decode[mcpserver.SessionResult](t, res)
	if done.Status != "completed" || done.Connection == nil || done.Connection.AppKey != "sandbox-apikey" || done.Connection.Name != "Billing key" {
		t.Fatalf("session after the user connected: %+v", done)
	}
	if !strings.Contains(text(res), "Connected") {
		t.Fatalf("completed text: %q", text(res))
	}
	id := done.Connection.ID

	t.Run("list and get", func(t *testing.T) {
		cases := []struct {
			args map[string]any
			want int
		}{
			{map[string]any{}, 1},
			{map[string]any{"appKey": "sandbox-apikey"}, 1},
			{map[string]any{"appKey": "hubspot"}, 0},
			{map[string]any{"disconnected": true}, 0},
			{map[string]any{"disconnected": false, "limit": 1}, 1},
		}
		for _, c := range cases {
			l := decode[mcpserver.ConnectionList](t, call(t, acme, mcpserver.ToolListConnections, c.args))
			if len(l.Connections) != c.want || (c.want > 0 && l.Connections[0].ID != id) {
				t.Errorf("list-connections %v: %+v", c.args, l)
			}
		}
		got := decode[mcpserverConnection](t, call(t, acme, mcpserver.ToolGetConnection, map[string]any{"connectionId": id}))
		if got.ID != id || got.TenantKey != "acme" || got.Disconnected {
			t.Fatalf("get-connection: %+v", got)
		}
	})

	t.Run("tenant isolation", func(t *testing.T) {
		for _, c := range []struct {
			tool string
			args map[string]any
		}{
			{mcpserver.ToolGetConnection, map[string]any{"connectionId": id}},
			{mcpserver.ToolArchiveConnection, map[string]any{"connectionId": id}},
			{mcpserver.ToolGetSession, map[string]any{"sessionId": link.SessionID}},
			{mcpserver.ToolCreateConnection, map[string]any{"connectionId": id}},
			{mcpserver.ToolListConnections, map[string]any{"tenantKey": "acme"}},
		} {
			res := callRaw(t, other, c.tool, c.args)
			if !res.IsError || strings.Contains(text(res), `"tenantKey":"acme"`) {
				t.Errorf("%s as another tenant: error=%v %q", c.tool, res.IsError, text(res))
			}
		}
		if l := decode[mcpserver.ConnectionList](t, call(t, other, mcpserver.ToolListConnections, nil)); len(l.Connections) != 0 {
			t.Fatalf("another tenant lists %+v", l)
		}
		// The admin token reaches every tenant, naming it where needed.
		if l := decode[mcpserver.ConnectionList](t, call(t, admin, mcpserver.ToolListConnections, map[string]any{"tenantKey": "acme"})); len(l.Connections) != 1 {
			t.Fatalf("admin list: %+v", l)
		}
		if got := decode[mcpserverConnection](t, call(t, admin, mcpserver.ToolGetConnection, map[string]any{"connectionId": id})); got.ID != id {
			t.Fatalf("admin get: %+v", got)
		}
		if res := callRaw(t, admin, mcpserver.ToolCreateConnection, map[string]any{"intent": "CRM"}); !res.IsError || !strings.Contains(text(res), "tenant_key_required") {
			t.Fatalf("admin create without a tenant: %q", text(res))
		}
		if l := decode[mcpserver.ConnectLink](t, call(t, admin, mcpserver.ToolCreateConnection, map[string]any{"intent": "CRM", "tenantKey": "acme"})); l.URL == "" {
			t.Fatalf("admin create for acme: %+v", l)
		}
	})

	t.Run("errors", func(t *testing.T) {
		cases := []struct {
			tool string
			args map[string]any
			want string
		}{
			{mcpserver.ToolGetConnection, map[string]any{"connectionId": "con_missing"}, "connection_not_found"},
			{mcpserver.ToolCreateConnection, map[string]any{}, "exactly one of"},
			{mcpserver.ToolCreateConnection, map[string]any{"intent": "CRM", "appKey": "hubspot"}, "exactly one of"},
			{mcpserver.ToolCreateConnection, map[string]any{"appKey": "no-such-app"}, "app_not_found"},
			{mcpserver.ToolGetSession, map[string]any{"sessionId": link.SessionID, "waitSeconds": 61}, "waitSeconds"},
			{mcpserver.ToolGetSession, map[string]any{}, "sessionId"},
			{mcpserver.ToolListConnections, map[string]any{"cursor": "forged"}, "invalid_cursor"},
		}
		for _, c := range cases {
			res := callRaw(t, acme, c.tool, c.args)
			if !res.IsError || !strings.Contains(text(res), c.want) {
				t.Errorf("%s %v: error=%v %q", c.tool, c.args, res.IsError, text(res))
			}
		}
	})

	t.Run("archive", func(t *testing.T) {
		for range 2 { // idempotent
			got := decode[mcpserverConnection](t, call(t, acme, mcpserver.ToolArchiveConnection, map[string]any{"connectionId": id}))
			if got.ID != id || got.ArchivedAt == nil {
				t.Fatalf("archive-connection: %+v", got)
			}
		}
		if l := decode[mcpserver.ConnectionList](t, call(t, acme, mcpserver.ToolListConnections, nil)); len(l.Connections) != 0 {
			t.Fatalf("archived connection still listed: %+v", l)
		}
	})
}

// mcpserverConnection is the structured output of get- and archive-connection.
type mcpserverConnection struct {
	ID           string  `json:"id"`
	TenantKey    string  `json:"tenantKey"`
	Disconnected bool    `json:"disconnected"`
	ArchivedAt   *string `json:"archivedAt"`
}

// toolSpec is what each tool's schema must say.
type toolSpec struct {
	props       []string
	required    []string
	readOnly    bool
	destructive bool
}

var specs = map[string]toolSpec{
	mcpserver.ToolCreateConnection:  {props: []string{"appKey", "connectionId", "intent", "name", "tenantKey"}},
	mcpserver.ToolGetSession:        {props: []string{"sessionId", "waitSeconds"}, required: []string{"sessionId"}, readOnly: true},
	mcpserver.ToolListConnections:   {props: []string{"appKey", "cursor", "disconnected", "limit", "search", "tenantKey"}, readOnly: true},
	mcpserver.ToolGetConnection:     {props: []string{"connectionId"}, required: []string{"connectionId"}, readOnly: true},
	mcpserver.ToolArchiveConnection: {props: []string{"connectionId"}, required: []string{"connectionId"}, destructive: true},
}

func checkTools(t *testing.T, ctx context.Context, s *mcp.ClientSession) {
	res, err := s.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range res.Tools {
		names = append(names, tool.Name)
		spec, ok := specs[tool.Name]
		if !ok {
			t.Errorf("unexpected tool %q", tool.Name)
			continue
		}
		if len(tool.Description) < 80 {
			t.Errorf("%s: description too thin for an agent: %q", tool.Name, tool.Description)
		}
		in := schemaOf(t, tool.InputSchema)
		if in.Type != "object" || !slices.Equal(sortedKeys(in.Properties), spec.props) || !slices.Equal(sorted(in.Required), spec.required) {
			t.Errorf("%s input schema: type %q props %v required %v", tool.Name, in.Type, sortedKeys(in.Properties), in.Required)
		}
		for name, p := range in.Properties {
			if p.Description == "" {
				t.Errorf("%s.%s has no description", tool.Name, name)
			}
		}
		out := schemaOf(t, tool.OutputSchema)
		if out == nil || out.Type != "object" || len(out.Properties) == 0 {
			t.Errorf("%s has no object output schema", tool.Name)
		}
		a := tool.Annotations
		if a == nil || a.ReadOnlyHint != spec.readOnly || (a.DestructiveHint != nil && *a.DestructiveHint) != spec.destructive {
			t.Errorf("%s annotations: %+v", tool.Name, a)
		}
	}
	if slices.Sort(names); !slices.Equal(names, sortedKeys(specs)) {
		t.Fatalf("tools: %v", names)
	}
	for _, tool := range res.Tools {
		in := schemaOf(t, tool.InputSchema)
		if p := in.Properties["waitSeconds"]; p != nil && (num(p.Minimum) != "0" || num(p.Maximum) != "60") {
			t.Errorf("waitSeconds bounds: %s-%s", num(p.Minimum), num(p.Maximum))
		}
		if p := in.Properties["limit"]; p != nil && (num(p.Minimum) != "1" || num(p.Maximum) != "500") {
			t.Errorf("limit bounds: %s-%s", num(p.Minimum), num(p.Maximum))
		}
	}
}

func num(f *float64) string {
	if f == nil {
		return "none"
	}
	return strconv.FormatFloat(*f, 'g', -1, 64)
}

func schemaOf(t *testing.T, v any) *jsonschema.Schema {
	t.Helper()
	if v == nil {
		return nil
	}
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var s jsonschema.Schema
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatalf("schema %s: %v", raw, err)
	}
	return &s
}

// call calls a tool that must succeed.
func call(t *testing.T, s *mcp.ClientSession, name string, args map[string]any) *mcp.CallToolResult {
	t.Helper()
	res := callRaw(t, s, name, args)
	if res.IsError {
		t.Fatalf("%s %v: tool error %q", name, args, text(res))
	}
	return res
}

func callRaw(t *testing.T, s *mcp.ClientSession, name string, args map[string]any) *mcp.CallToolResult {
	t.Helper()
	if args == nil {
		args = map[string]any{}
	}
	res, err := s.CallTool(t.Context(), &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return res
}

// decode reads the structured content, and checks that the text content
// carries the same JSON for clients that only read text.
func decode[T any](t *testing.T, res *mcp.CallToolResult) T {
	t.Helper()
	var out T
	raw, err := json.Marshal(res.StructuredContent)
	if err != nil || res.StructuredContent == nil {
		t.Fatalf("no structured content: %v", err)
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	if len(res.Content) < 2 {
		t.Fatalf("want a sentence and the JSON as text, got %d contents", len(res.Content))
	}
	var fromText T
	if tc, ok := res.Content[len(res.Content)-1].(*mcp.TextContent); !ok || json.Unmarshal([]byte(tc.Text), &fromText) != nil {
		t.Fatalf("the last text content is not the JSON result")
	}
	return out
}

func text(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
			b.WriteString("\n")
		}
	}
	return b.String()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
