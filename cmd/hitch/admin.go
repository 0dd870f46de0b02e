package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/hitchdev/hitch/internal/admin"
	"github.com/hitchdev/hitch/internal/config"
	"github.com/hitchdev/hitch/internal/store"
)

// newAdminCmd manages console accounts directly in the database, so the
// first account can be made before anyone can sign in.
func newAdminCmd() *cobra.Command {
	var o config.Overrides
	cmd := &cobra.Command{
		Use:   "admin",
		Short: "Manage console accounts (create, password, list)",
	}
	cmd.PersistentFlags().StringVar(&o.DatabaseURL, "database-url", "", "database URL (HITCH_DATABASE_URL)")

	var email string
	var fromStdin bool
	withAccounts := func(cmd *cobra.Command, fn func(*admin.Accounts) error) error {
		cfg, err := loadConfig(o)
		if err != nil {
			return err
		}
		rt, err := open(cmd.Context(), cfg, true)
		if err != nil {
			return err
		}
		defer rt.store.Close()
		return fn(&admin.Accounts{Store: rt.store})
	}
	password := func(cmd *cobra.Command) (string, error) {
		return readPassword(cmd.InOrStdin(), cmd.ErrOrStderr(), fromStdin)
	}

	create := &cobra.Command{
		Use:   "create --email E [--password-stdin]",
		Short: "Create a console account; the password is prompted for, or read from stdin",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := admin.NormalizeEmail(email); err != nil {
				return &exitError{2, err}
			}
			pw, err := password(cmd)
			if err != nil {
				return &exitError{2, err}
			}
			return withAccounts(cmd, func(a *admin.Accounts) error {
				ad, err := a.Create(cmd.Context(), email, pw)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "created console account %s (%s)\n", ad.Email, ad.ID)
				return nil
			})
		},
	}
	setPassword := &cobra.Command{
		Use:   "password --email E [--password-stdin]",
		Short: "Set a console account's password; its signed-in sessions end",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			norm, err := admin.NormalizeEmail(email)
			if err != nil {
				return &exitError{2, err}
			}
			pw, err := password(cmd)
			if err != nil {
				return &exitError{2, err}
			}
			return withAccounts(cmd, func(a *admin.Accounts) error {
				ad, err := a.Store.GetAdminByEmail(cmd.Context(), norm)
				if errors.Is(err, store.ErrNotFound) {
					return fmt.Errorf("no console account for %s; create it with `hitch admin create --email %s`", norm, norm)
				}
				if err != nil {
					return err
				}
				if err := a.SetPassword(cmd.Context(), ad.ID, pw); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "password changed for %s\n", ad.Email)
				return nil
			})
		},
	}
	for _, c := range []*cobra.Command{create, setPassword} {
		c.Flags().StringVar(&email, "email", "", "the account's email address")
		c.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the password from the first line of stdin")
		_ = c.MarkFlagRequired("email")
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List console accounts",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withAccounts(cmd, func(a *admin.Accounts) error {
				all, err := a.Store.ListAdmins(cmd.Context())
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "EMAIL\tID\tCREATED\tLAST SIGN-IN")
				for _, ad := range all {
					last := "never"
					if ad.LastLoginAt != nil {
						last = ad.LastLoginAt.Format(time.RFC3339)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", ad.Email, ad.ID, ad.CreatedAt.Format(time.RFC3339), last)
				}
				return tw.Flush()
			})
		},
	}
	cmd.AddCommand(create, setPassword, list)
	return cmd
}

// readPassword prompts twice without echo on a terminal, or reads one line
// from in with --password-stdin. A password never comes from a flag, where
// it would sit in the shell history and the process list.
func readPassword(in io.Reader, prompt io.Writer, fromStdin bool) (string, error) {
	var pw string
	if fromStdin {
		line, err := bufio.NewReader(in).ReadString('\n')
		if err != nil && (!errors.Is(err, io.EOF) || line == "") {
			return "", errors.New("--password-stdin: no password on stdin")
		}
		pw = strings.TrimRight(line, "\r\n")
	} else {
		f, ok := in.(*os.File)
		if !ok || !term.IsTerminal(int(f.Fd())) {
			return "", errors.New("stdin is not a terminal: pass the password on stdin with --password-stdin")
		}
		ask := func(label string) (string, error) {
			fmt.Fprint(prompt, label)
			b, err := term.ReadPassword(int(f.Fd()))
			fmt.Fprintln(prompt)
			return string(b), err
		}
		first, err := ask("Password: ")
		if err != nil {
			return "", err
		}
		again, err := ask("Repeat password: ")
		if err != nil {
			return "", err
		}
		if first != again {
			return "", errors.New("the passwords do not match")
		}
		pw = first
	}
	if err := admin.CheckPassword(pw); err != nil {
		return "", err
	}
	return pw, nil
}
