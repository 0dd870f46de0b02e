package main

import (
	"context"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"github.com/hitchdev/hitch/internal/appsettings"
	"github.com/hitchdev/hitch/internal/config"
	"github.com/hitchdev/hitch/internal/refresh"
	"github.com/hitchdev/hitch/internal/webhook"
)

func newWorkerCmd() *cobra.Command {
	var (
		o    config.Overrides
		opts refresh.WorkerOptions
		ro   refresh.Options

		noWebhooks bool
	)
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run only the background workers: token refresh and webhook delivery (no HTTP server)",
		Long: "Refresh OAuth tokens ahead of expiry and deliver webhooks, like the workers inside `hitch serve`.\n" +
			"Any number of workers and servers may share one PostgreSQL database: each connection is leased to one\n" +
			"refresher at a time and each webhook delivery to one sender. SIGTERM or Ctrl-C stops claiming work and\n" +
			"waits for the refreshes and deliveries in flight to be stored.",
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
			rt.log.Info("hitch worker running", "database", rt.store.Flavor(), "apps", len(rt.catalog.All()), "sandbox", cfg.Sandbox, "webhooks", !noWebhooks)
			if noWebhooks {
				return newRefresher(rt, ro).Worker(opts).Run(cmd.Context())
			}
			hooks := webhook.Options{Store: rt.store, Keys: rt.keys, Log: rt.log}
			if err := webhook.NewService(hooks).SyncEnvEndpoint(cmd.Context(), cfg.WebhookURL, cfg.WebhookSecret); err != nil {
				return err
			}
			var wg sync.WaitGroup
			wg.Go(func() { _ = webhook.NewDispatcher(hooks).Run(cmd.Context()) })
			err = newRefresher(rt, ro).Worker(opts).Run(cmd.Context())
			wg.Wait()
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.DatabaseURL, "database-url", "", "database URL (HITCH_DATABASE_URL)")
	f.StringVar(&o.AppsFile, "apps-file", "", "YAML file of apps merged over the built-in catalog (HITCH_APPS_FILE)")
	f.StringVar(&o.PublicURL, "public-url", "", "public base URL of the server, for the sandbox apps' endpoints (HITCH_PUBLIC_URL)")
	f.BoolVar(&o.Demo, "demo", false, "include the sandbox apps, as `hitch serve --demo` does")
	f.IntVar(&opts.Concurrency, "concurrency", refresh.DefaultConcurrency, "refreshes in flight at once")
	f.DurationVar(&opts.Poll, "poll", refresh.DefaultPoll, "pause when nothing is due")
	f.DurationVar(&ro.Lease, "lease", refresh.DefaultLease, "how long a claimed connection stays reserved to this worker")
	f.BoolVar(&noWebhooks, "no-webhooks", false, "refresh tokens only; leave webhook delivery to other processes")
	return cmd
}

// newRefresher builds the refresh service over the runtime, resolving the
// sandbox apps' relative endpoints against the public URL the way the HTTP
// server's connect service does.
func newRefresher(rt *runtime, o refresh.Options) *refresh.Service {
	o.Store, o.Catalog, o.Keys, o.Log = rt.store, rt.catalog, rt.keys, rt.log
	o.Apps = &appsettings.Service{Store: rt.store, Catalog: rt.catalog, Keys: rt.keys}
	o.HTTP = refresh.NewHTTPClient()
	o.Resolve = func(u string) string {
		if strings.HasPrefix(u, "/") {
			return rt.cfg.URL(u)
		}
		return u
	}
	return refresh.New(o)
}

// startRefreshWorker runs the refresh worker beside the HTTP server until ctx
// ends; the returned func waits for it to store its refreshes in flight.
func startRefreshWorker(ctx context.Context, rt *runtime) (wait func()) {
	var wg sync.WaitGroup
	w := newRefresher(rt, refresh.Options{}).Worker(refresh.WorkerOptions{})
	wg.Go(func() { _ = w.Run(ctx) })
	return wg.Wait
}
