package mcpserver

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/hitchdev/hitch/internal/client"
)

// inProcessURL is the base URL of in-process API calls; no packet leaves
// the process, the host only has to parse.
const inProcessURL = "http://hitch.in-process"

// NewHandler serves the MCP streamable HTTP transport. Each tool call runs
// against api (the server's own router) in-process, carrying the caller's
// Authorization header, so the caller's token scopes everything the tools
// do. Mount it behind the same bearer authentication as the API, which
// rejects bad tokens before a session starts.
//
// The handler is stateless: no MCP session lives in memory between requests,
// so any replica can answer any request.
func NewHandler(api http.Handler, o Options) http.Handler {
	hc := &http.Client{Transport: client.HandlerTransport(api)}
	apiFor := func(_ context.Context, req *mcp.CallToolRequest) (API, error) {
		token := bearer(req)
		if token == "" {
			return nil, errors.New("this request carries no bearer token")
		}
		return client.New(client.Options{
			BaseURL: inProcessURL, Token: client.StaticToken(token), HTTPClient: hc, UserAgent: "hitch-mcp",
		})
	}
	srv := New(apiFor, o)
	return mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, &mcp.StreamableHTTPOptions{
		Stateless:    true,
		JSONResponse: true,
		Logger:       o.Logger,
		// The endpoint requires a bearer token, which a DNS-rebinding page
		// cannot present; the check would instead refuse every deployment
		// behind a reverse proxy on the same host.
		DisableLocalhostProtection: true,
	})
}

func bearer(req *mcp.CallToolRequest) string {
	if req == nil || req.Extra == nil || req.Extra.Header == nil {
		return ""
	}
	scheme, token, ok := strings.Cut(strings.TrimSpace(req.Extra.Header.Get("Authorization")), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}
