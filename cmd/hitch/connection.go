package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hitchdev/hitch/internal/client"
)

func newConnectionCmd() *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use:     "connection",
		Aliases: []string{"connections"},
		Short:   "List, show and archive connections through the API",
		Long: `List, show and archive connections through Hitch's HTTP API.

Reads HITCH_URL (default ` + defaultURL + `) and HITCH_TOKEN, or mints a token from
HITCH_WORKSPACE_SECRET (and HITCH_WORKSPACE_KEY) for --tenant KEY (or --admin).
Exit codes: 0 success, 1 error (the server's message is printed), 2 usage.`,
		Args: exactArgs(0, "a subcommand: list, get or archive"),
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cf.register(cmd, true)
	cmd.AddCommand(newConnectionListCmd(&cf), newConnectionGetCmd(&cf), newConnectionArchiveCmd(&cf))
	usageErrors(cmd)
	return cmd
}

func newConnectionListCmd(cf *clientFlags) *cobra.Command {
	var (
		asJSON, disconnected, archived, all bool
		app, search, cursor                 string
		limit                               int
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List connections, newest first",
		Long: `List connections, newest first. On a terminal the output is an aligned table; piped, it
is one tab-separated line per connection (id, name, app, tenant, status, created) without
a header. --json prints a JSON array of Connection objects.`,
		Example: `  hitch connection list
  hitch connection list --disconnected --app hubspot
  hitch connection list --json --all-pages --admin`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if limit < 0 || limit > 500 {
				return usageError(errors.New("--limit must be from 1 to 500"))
			}
			c, err := cf.newClient(os.Getenv)
			if err != nil {
				return err
			}
			o := client.ListOptions{AppKey: app, Search: search, IncludeArchived: archived, Limit: limit, Cursor: cursor, TenantKey: cf.tenant}
			if cmd.Flags().Changed("disconnected") {
				o.Disconnected = &disconnected
			}
			var items []client.Connection
			next := ""
			err = c.EachConnection(cmd.Context(), o, func(p *client.ConnectionPage) error {
				items = append(items, p.Items...)
				next = p.Cursor
				if !all {
					return errStopPaging
				}
				return nil
			})
			if err != nil && !errors.Is(err, errStopPaging) {
				return apiError(err)
			}
			if items == nil {
				items = []client.Connection{}
			}
			out, errw := cmd.OutOrStdout(), cmd.ErrOrStderr()
			tty := isTerminal(out)
			switch {
			case asJSON:
				err = writeJSON(out, items)
			case tty && len(items) == 0:
				fmt.Fprintln(errw, "No connections.")
			default:
				err = printConnectionTable(out, items, tty)
			}
			if err != nil {
				return err
			}
			if !all && next != "" {
				fmt.Fprintf(errw, "More connections: add --all-pages, or --cursor %s for the next page.\n", next)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&asJSON, "json", false, "print a JSON array")
	f.BoolVar(&disconnected, "disconnected", false, "only disconnected connections (--disconnected=false: only working ones)")
	f.StringVar(&app, "app", "", "only connections to this app key")
	f.StringVar(&search, "search", "", "free-text filter over names and apps")
	f.BoolVar(&archived, "include-archived", false, "include archived connections")
	f.IntVar(&limit, "limit", 0, "page size, 1-500 (default: the server's, 100)")
	f.StringVar(&cursor, "cursor", "", "start from this cursor (printed when there are more)")
	f.BoolVar(&all, "all-pages", false, "follow the cursor to the last page")
	return cmd
}

// errStopPaging ends EachConnection after the first page.
var errStopPaging = errors.New("stop paging")

func newConnectionGetCmd(cf *clientFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "get ID",
		Short: "Show one connection",
		Args:  exactArgs(1, "one connection id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.newClient(os.Getenv)
			if err != nil {
				return err
			}
			conn, err := c.Connection(cmd.Context(), args[0])
			if err != nil {
				return apiError(err)
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), conn)
			}
			return printConnection(cmd.OutOrStdout(), conn)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the Connection as JSON")
	return cmd
}

func newConnectionArchiveCmd(cf *clientFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "archive ID",
		Short: "Archive a connection: revoke and erase its credentials (idempotent)",
		Args:  exactArgs(1, "one connection id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.newClient(os.Getenv)
			if err != nil {
				return err
			}
			conn, err := c.ArchiveConnection(cmd.Context(), args[0])
			if err != nil {
				return apiError(err)
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), conn)
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "Archived %s (%s, app %s).\n", conn.ID, conn.Name, conn.AppKey)
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the archived Connection as JSON")
	return cmd
}

// printConnectionTable writes one row per connection: aligned with a header
// for people, tab-separated without one for scripts.
func printConnectionTable(w io.Writer, items []client.Connection, aligned bool) error {
	row := func(cols ...string) string { return strings.Join(cols, "\t") + "\n" }
	if !aligned {
		for _, c := range items {
			if _, err := io.WriteString(w, row(c.ID, clean(c.Name), c.AppKey, clean(c.TenantKey), c.Status(), c.CreatedAt)); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, row("ID", "NAME", "APP", "TENANT", "STATUS", "CREATED"))
	for _, c := range items {
		fmt.Fprint(tw, row(c.ID, clean(c.Name), c.AppKey, clean(c.TenantKey), c.Status(), localTime(c.CreatedAt)))
	}
	return tw.Flush()
}

// printConnection writes one connection as aligned "field value" lines.
func printConnection(w io.Writer, c *client.Connection) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	line := func(k, v string) { fmt.Fprintf(tw, "%s\t%s\n", k, v) }
	line("ID", c.ID)
	line("Name", clean(c.Name))
	line("App", c.AppKey)
	line("Tenant", clean(c.TenantKey))
	line("Auth", c.AuthType)
	line("Status", c.Status())
	if c.Error != nil {
		line("Error", clean(c.Error.Message)+" ("+c.Error.Code+")")
	}
	line("Created", c.CreatedAt)
	line("Updated", c.UpdatedAt)
	opt := func(k string, v *string) {
		if v != nil {
			line(k, *v)
		}
	}
	opt("Archived", c.ArchivedAt)
	opt("Last refresh", c.LastRefreshAt)
	opt("Next refresh", c.NextRefreshAt)
	if c.RetryAttempts > 0 {
		line("Retries", fmt.Sprint(c.RetryAttempts))
	}
	for _, k := range slices.Sorted(maps.Keys(c.Input)) {
		line("Input "+clean(k), clean(c.Input[k]))
	}
	return tw.Flush()
}

// clean keeps names typed by users from moving the terminal's cursor or
// breaking the table's columns.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return ' '
		}
		return r
	}, s)
}

func localTime(rfc3339 string) string {
	t, err := time.Parse(time.RFC3339, rfc3339)
	if err != nil {
		return rfc3339
	}
	return t.Local().Format("2006-01-02 15:04")
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
