package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/hitchdev/hitch/internal/config"
	"github.com/hitchdev/hitch/internal/refresh/rekey"
	"github.com/hitchdev/hitch/internal/secrets"
)

func newKeysCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Manage the encryption key ring (generate a key, re-encrypt under the current key)",
		Long: "Secrets at rest are sealed with AES-256-GCM under the key ring HITCH_ENCRYPTION_KEYS=id:base64key,...\n" +
			"(or the embedded default's key file); the first key is current. To rotate:\n" +
			"  1. hitch keys generate            # prints a new id:base64key\n" +
			"  2. put it FIRST in HITCH_ENCRYPTION_KEYS (keep the old keys after it) and restart every replica\n" +
			"  3. hitch keys rotate              # re-encrypts everything under it, while the servers keep serving\n" +
			"  4. once it reports nothing left, the old keys may be removed",
	}
	cmd.AddCommand(newKeysGenerateCmd(), newKeysRotateCmd())
	return cmd
}

func newKeysGenerateCmd() *cobra.Command {
	var id string
	cmd := &cobra.Command{
		Use:   "generate",
		Short: "Print a new random key as id:base64key",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if id == "" {
				id = "k" + time.Now().UTC().Format("20060102150405")
			}
			spec, err := secrets.Generate(id)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), spec)
			return nil
		},
	}
	cmd.Flags().StringVar(&id, "id", "", "key id, 1-32 of A-Z a-z 0-9 _ - (default k<UTC timestamp>)")
	return cmd
}

func newKeysRotateCmd() *cobra.Command {
	var (
		o     config.Overrides
		batch int
	)
	cmd := &cobra.Command{
		Use:   "rotate",
		Short: "Re-encrypt every stored secret under the current key, in batches, resumably",
		Long: "Re-encrypts connection credentials, connect session data, OAuth client secrets and webhook signing\n" +
			"secrets that are sealed under any key but the current (first) one of the ring. Each batch is its own\n" +
			"transaction and only replaces values nobody changed meanwhile, so servers keep running; if it stops,\n" +
			"run it again to finish.",
		Args: cobra.NoArgs,
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
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "re-encrypting under key %s (ring: %v)\n", rt.keys.CurrentID(), rt.keys.IDs())
			totals, err := rekey.Rotate(cmd.Context(), rt.store, rt.keys, rekey.Options{
				Batch: batch,
				Progress: func(p rekey.Progress) {
					fmt.Fprintf(out, "  %-32s rotated %d, already current %d\n", p.Column, p.Rotated, p.Current)
				},
			})
			changed := 0
			for _, p := range totals {
				fmt.Fprintf(out, "%-34s rotated %d, already current %d, changed meanwhile %d, unreadable %d\n",
					p.Column, p.Rotated, p.Current, p.Changed, p.Failed)
				changed += p.Changed
			}
			if changed > 0 {
				fmt.Fprintln(out, "some values were rewritten during the run; run it again to check they are current")
			}
			if errors.Is(err, rekey.ErrUnreadable) {
				return fmt.Errorf("%w (add the missing key to the ring and run again)", err)
			}
			return err
		},
	}
	cmd.Flags().StringVar(&o.DatabaseURL, "database-url", "", "database URL (HITCH_DATABASE_URL)")
	cmd.Flags().IntVar(&batch, "batch", rekey.DefaultBatch, "rows re-encrypted per transaction")
	return cmd
}
