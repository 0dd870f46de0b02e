package main

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/spf13/cobra"

	"github.com/hitchdev/hitch/internal/mcpserver"
)

func newMCPCmd() *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use:   "mcp",
		Short: "Serve Hitch's MCP tools on stdio, for agents (Claude, Cursor...)",
		Long: `Serve the MCP tools create-connection, get-connection-session, list-connections,
get-connection and archive-connection on stdin/stdout. The tools call a running Hitch
through its HTTP API: set HITCH_URL (default ` + defaultURL + `) and HITCH_TOKEN, or
HITCH_WORKSPACE_SECRET (and HITCH_WORKSPACE_KEY) with --tenant KEY (or --admin); a
minted token is renewed before it expires. Logs go to stderr.

A running server also serves the same tools over streamable HTTP at /mcp, behind a
Bearer tenant or admin token.`,
		Example: `  HITCH_TOKEN=$(hitch token --tenant acme --ttl 24h) hitch mcp
  HITCH_WORKSPACE_SECRET=... hitch mcp --tenant acme`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cf.newClient(os.Getenv)
			if err != nil {
				return err
			}
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))
			srv := mcpserver.New(mcpserver.Fixed(c), mcpserver.Options{Version: buildVersion(), Logger: log})
			fmt.Fprintf(cmd.ErrOrStderr(), "hitch mcp: serving MCP on stdio for Hitch at %s\n", c.URL())
			if err := srv.Run(cmd.Context(), &mcp.StdioTransport{}); err != nil && cmd.Context().Err() == nil {
				return fmt.Errorf("mcp: %w", err)
			}
			return nil
		},
	}
	cf.register(cmd, false)
	usageErrors(cmd)
	return cmd
}
