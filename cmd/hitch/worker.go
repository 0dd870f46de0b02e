package main

import (
	"context"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"github.com/hitchdev/hitch/internal/config"
	"github.com/hitchdev/hitch/internal/refresh"
)

func newWorkerCmd() *cobra.Command {
	var (
		o    config.Overrides
		opts refresh.WorkerOptions
		ro   refresh.Options
	)
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run only the background token refresh worker (no HTTP server)",
		Long: "Refresh OAuth tokens ahead of expiry, like the worker inside `hitch serve`. Any number of workers\n" +
			"and servers may share one PostgreSQL database: each connection is leased to one refresher at a time.\n" +
			"SIGTERM or Ctrl-C stops claiming work and waits for the refreshes in flight to be stored.",
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
			rt.log.Info("hitch worker running", "database", rt.store.Flavor(), "apps", len(rt.catalog.All()), "sandbox", cfg.Sandbox)
			return newRefresher(rt, ro).Worker(opts).Run(cmd.Context())
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
	return cmd
}

// newRefresher builds the refresh service over the runtime, resolving the
// sandbox apps' relative endpoints against the public URL the way the HTTP
// server's connect service does.
func newRefresher(rt *runtime, o refresh.Options) *refresh.Service {
	o.Store, o.Catalog, o.Keys, o.Log = rt.store, rt.catalog, rt.keys, rt.log
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
