package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/hitchdev/hitch/internal/auth"
	"github.com/hitchdev/hitch/internal/config"
)

func newTokenCmd() *cobra.Command {
	var (
		tenant, name string
		ttl          time.Duration
		admin        bool
		o            config.Overrides
	)
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Mint a tenant or admin token from the workspace secret",
		Long: "Mint a tenant token (--tenant KEY) or an admin token (--admin) signed with HITCH_WORKSPACE_SECRET\n" +
			"(or the embedded default's generated secret). Prints the token on stdout.",
		Example: "  hitch token --tenant acme --name 'Acme Inc.' --ttl 1h\n  hitch token --admin --ttl 15m",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !admin && tenant == "" {
				return errors.New("name the tenant with --tenant KEY, or pass --admin")
			}
			if ttl <= 0 || ttl > 24*time.Hour {
				return errors.New("--ttl must be more than 0 and at most 24h")
			}
			cfg, err := loadConfig(o)
			if err != nil {
				return err
			}
			issuer, err := auth.NewIssuer(cfg.WorkspaceKey, cfg.WorkspaceSecret, time.Now)
			if err != nil {
				return err
			}
			tok, err := issuer.Mint(auth.Principal{TenantKey: tenant, TenantName: name, Admin: admin}, ttl)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), tok)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&tenant, "tenant", "", "tenant key (the host's own customer id)")
	f.StringVar(&name, "name", "", "tenant display name")
	f.DurationVar(&ttl, "ttl", time.Hour, "lifetime, at most 24h")
	f.BoolVar(&admin, "admin", false, "mint an admin token (acts on any tenant)")
	f.StringVar(&o.DatabaseURL, "database-url", "", "database URL, to find the embedded default's secret (HITCH_DATABASE_URL)")
	return cmd
}
