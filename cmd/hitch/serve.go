package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/hitchdev/hitch/handlers"
	"github.com/hitchdev/hitch/internal/admin"
	"github.com/hitchdev/hitch/internal/auth"
	"github.com/hitchdev/hitch/internal/catalog"
	"github.com/hitchdev/hitch/internal/config"
	"github.com/hitchdev/hitch/internal/secrets"
	"github.com/hitchdev/hitch/internal/store"
	"github.com/hitchdev/hitch/internal/webhook"
)

func newServeCmd() *cobra.Command {
	var o config.Overrides
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the HTTP server (API, popup, console) and the background workers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(o)
			if err != nil {
				return err
			}
			return serve(cmd.Context(), cfg, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Listen, "listen", "", "address to listen on (HITCH_LISTEN, default 127.0.0.1:8080)")
	f.StringVar(&o.PublicURL, "public-url", "", "public base URL (HITCH_PUBLIC_URL, default http://LISTEN)")
	f.StringVar(&o.DatabaseURL, "database-url", "", "database URL (HITCH_DATABASE_URL, default "+config.DefaultDatabaseURL+")")
	f.StringVar(&o.AppsFile, "apps-file", "", "YAML file of apps merged over the built-in catalog (HITCH_APPS_FILE)")
	f.BoolVar(&o.Demo, "demo", false, "turn on the sandbox apps and the demo host page at /demo")
	return cmd
}

// runtime is what every server-side command builds from the configuration.
type runtime struct {
	cfg     *config.Config
	log     *slog.Logger
	store   *store.Store
	keys    *secrets.KeyRing
	catalog *catalog.Catalog
	issuer  *auth.Issuer
}

// open builds the runtime: store (migrated), key ring, catalog and issuer.
func open(ctx context.Context, cfg *config.Config, migrate bool) (*runtime, error) {
	rt := &runtime{cfg: cfg, log: newLogger(cfg, os.Stderr)}
	// Libraries that log through the default logger (the store's migrations) use the same handler.
	slog.SetDefault(rt.log)
	var err error
	if cfg.EncryptionKeys != "" {
		rt.keys, err = secrets.Parse(cfg.EncryptionKeys)
	} else {
		rt.keys, err = secrets.LoadOrCreateFile(cfg.KeyFile)
	}
	if err != nil {
		return nil, fmt.Errorf("encryption keys: %w", err)
	}
	rt.catalog, err = catalog.Load(catalog.Options{File: cfg.AppsFile, Getenv: os.Getenv, IncludeSandbox: cfg.Sandbox})
	if err != nil {
		return nil, fmt.Errorf("app catalog: %w", err)
	}
	rt.issuer, err = auth.NewIssuer(cfg.WorkspaceKey, cfg.WorkspaceSecret, time.Now)
	if err != nil {
		return nil, fmt.Errorf("workspace secret: %w", err)
	}
	rt.store, err = store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	if migrate {
		if err := rt.store.Migrate(ctx); err != nil {
			rt.store.Close()
			return nil, fmt.Errorf("migrate: %w", err)
		}
	}
	return rt, nil
}

// serve runs the server until ctx ends; out receives what an operator must
// read apart from the log (the demo's console credentials).
func serve(ctx context.Context, cfg *config.Config, out io.Writer) error {
	rt, err := open(ctx, cfg, true)
	if err != nil {
		return err
	}
	defer rt.store.Close()
	log := rt.log
	if cfg.SecretGenerated {
		log.Info("generated a workspace secret for the embedded default", "file", cfg.SQLiteDir()+"/hitch.secret")
	}
	if err := ensureConsoleAccount(ctx, rt, out); err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	e := handlers.New(handlers.Deps{
		Config: cfg, Store: rt.store, Catalog: rt.catalog, Keys: rt.keys, Issuer: rt.issuer, Log: log, Registry: reg,
	})
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	e.Listener = ln
	// Stopped before the store closes (defers run last-first); it finishes the refreshes in flight.
	workerCtx, stopWorker := context.WithCancel(ctx)
	waitWorker := startRefreshWorker(workerCtx, rt)
	defer func() { stopWorker(); waitWorker() }()
	// Webhooks: the environment's endpoint is stored first; the dispatcher, like the worker, stops before
	// the store closes and records the attempts in flight.
	hooks := webhook.Options{Store: rt.store, Keys: rt.keys, Log: log}
	if err := webhook.NewService(hooks).SyncEnvEndpoint(ctx, cfg.WebhookURL, cfg.WebhookSecret); err != nil {
		return fmt.Errorf("webhook endpoint: %w", err)
	}
	dispatchCtx, stopDispatch := context.WithCancel(ctx)
	dispatched := make(chan struct{})
	go func() { defer close(dispatched); _ = webhook.NewDispatcher(hooks).Run(dispatchCtx) }()
	defer func() { stopDispatch(); <-dispatched }()
	errc := make(chan error, 1)
	go func() { errc <- e.Start("") }()
	log.Info("hitch listening", "addr", ln.Addr().String(), "public_url", cfg.PublicURL.String(),
		"database", rt.store.Flavor(), "apps", len(rt.catalog.All()), "sandbox", cfg.Sandbox)

	if cfg.Demo {
		log.Info("demo host page ready", "url", cfg.URL("/demo"))
	}
	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	case <-ctx.Done():
	}
	log.Info("shutting down", "grace", cfg.ShutdownGrace)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
	defer cancel()
	if err := e.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// ensureConsoleAccount applies HITCH_ADMIN_EMAIL/PASSWORD, or in demo mode
// gives the demo account a fresh password and prints it.
func ensureConsoleAccount(ctx context.Context, rt *runtime, out io.Writer) error {
	cfg := rt.cfg
	accounts := &admin.Accounts{Store: rt.store}
	switch {
	case cfg.AdminEmail != "":
		changed, err := accounts.Ensure(ctx, cfg.AdminEmail, cfg.AdminPassword)
		if err != nil {
			return fmt.Errorf("HITCH_ADMIN_EMAIL: %w", err)
		}
		if changed {
			rt.log.Info("console account set from HITCH_ADMIN_EMAIL", "email", strings.ToLower(strings.TrimSpace(cfg.AdminEmail)))
		}
	case cfg.Demo:
		pw, err := accounts.EnsureDemo(ctx)
		if err != nil {
			return fmt.Errorf("demo console account: %w", err)
		}
		// Printed, not logged: a demo password is meant to be read, log pipelines keep things.
		fmt.Fprintf(out, "\n  Hitch console: %s\n  email:    %s\n  password: %s\n\n", cfg.URL("/console"), admin.DemoEmail, pw)
	default:
		n, err := rt.store.CountAdmins(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			rt.log.Warn("no console account yet: create one with `hitch admin create --email you@example.com` or set HITCH_ADMIN_EMAIL and HITCH_ADMIN_PASSWORD")
		}
	}
	return nil
}
