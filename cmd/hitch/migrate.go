package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/hitchdev/hitch/internal/config"
)

func newMigrateCmd() *cobra.Command {
	var o config.Overrides
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply the database migrations and exit",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(o)
			if err != nil {
				return err
			}
			rt, err := open(cmd.Context(), cfg, true)
			if err != nil {
				return err
			}
			defer rt.store.Close()
			v, err := rt.store.MigrationVersion(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "database (%s) is at migration %d\n", rt.store.Flavor(), v)
			return nil
		},
	}
	cmd.Flags().StringVar(&o.DatabaseURL, "database-url", "", "database URL (HITCH_DATABASE_URL)")
	return cmd
}
