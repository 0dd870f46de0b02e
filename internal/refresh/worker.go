package refresh

import (
	"context"
	"sync"
	"time"

	"github.com/hitchdev/hitch/internal/catalog"
	"github.com/hitchdev/hitch/internal/store"
)

// Defaults of WorkerOptions.
const (
	DefaultConcurrency = 16
	DefaultPoll        = time.Second
	DefaultRetention   = 30 * 24 * time.Hour
	pruneEvery         = time.Hour
	pruneBatch         = 5000
	// leaseMargin (at most a quarter of the lease) is kept between the end of a refresh call and the
	// end of its lease, for storing the outcome.
	leaseMargin = 5 * time.Second
)

// WorkerOptions tune a Worker; zero values mean the defaults.
type WorkerOptions struct {
	// ID names the worker as lease owner; default "wrk_" and random hex, unique per process.
	ID string
	// Concurrency is how many refreshes run at once (DefaultConcurrency).
	Concurrency int
	// Poll is the pause, jittered, when nothing is due (DefaultPoll). Keep it well under the refresh
	// lead of the shortest-lived tokens (a fifth of their lifetime).
	Poll time.Duration
	// Retention is how long refresh_attempts rows are kept (DefaultRetention).
	Retention time.Duration
}

// Worker refreshes due connections in the background. Any number of workers, in any number of
// processes sharing the database, may run at once.
type Worker struct {
	svc         *Service
	id          string
	concurrency int
	poll        time.Duration
	retention   time.Duration
	// apps are the OAuth apps this process's catalog knows: connections of any other app are left to
	// a process that knows it (replicas mid-deploy, a worker started without the sandbox apps), rather
	// than failed for want of their endpoints.
	apps []string
}

// Worker returns a worker refreshing through s.
func (s *Service) Worker(o WorkerOptions) *Worker {
	w := &Worker{svc: s, id: o.ID, concurrency: o.Concurrency, poll: o.Poll, retention: o.Retention}
	if w.id == "" {
		w.id = newOwner("wrk")
	}
	if w.concurrency <= 0 {
		w.concurrency = DefaultConcurrency
	}
	if w.poll <= 0 {
		w.poll = DefaultPoll
	}
	if w.retention <= 0 {
		w.retention = DefaultRetention
	}
	for _, a := range s.catalog.All() {
		if a.Auth.Type == catalog.AuthOAuth2 {
			w.apps = append(w.apps, a.Key)
		}
	}
	return w
}

// ID is the worker's lease owner name.
func (w *Worker) ID() string { return w.id }

// Run refreshes due connections until ctx is done, then stops claiming, gives back the leases of
// connections it claimed but had not started, and waits for the refreshes in flight to be stored (they
// are not cut short: a rotated token must not be lost). It claims Concurrency due connections at a
// time and hands them to as many refresh goroutines, claiming the next batch while they work.
func (w *Worker) Run(ctx context.Context) error {
	log := w.svc.log.With("worker", w.id)
	log.InfoContext(ctx, "refresh worker started", "concurrency", w.concurrency, "poll", w.poll, "lease", w.svc.lease)
	queue := make(chan store.Connection)
	var wg sync.WaitGroup
	for range w.concurrency {
		wg.Go(func() {
			for c := range queue {
				w.handle(ctx, c)
			}
		})
	}
	defer func() {
		close(queue)
		wg.Wait()
		log.Info("refresh worker stopped")
	}()
	nextPrune := w.svc.now().Add(time.Duration(w.svc.int63n(int64(pruneEvery))))
	for ctx.Err() == nil {
		now := w.svc.now()
		claimed, err := w.svc.store.ClaimDueConnections(ctx, w.id, now, now.Add(w.svc.lease), w.concurrency, w.apps)
		if err != nil && ctx.Err() == nil {
			log.WarnContext(ctx, "claiming due connections failed", "error", err)
		}
		for i, c := range claimed {
			select {
			case queue <- c:
			case <-ctx.Done():
				for _, rest := range claimed[i:] {
					w.release(ctx, rest)
				}
				return nil
			}
		}
		if len(claimed) == w.concurrency {
			continue // more may be due at once
		}
		if now.After(nextPrune) {
			nextPrune = now.Add(pruneEvery)
			if n, err := w.svc.store.PruneRefreshAttempts(ctx, now.Add(-w.retention), pruneBatch); err != nil && ctx.Err() == nil {
				log.WarnContext(ctx, "pruning refresh attempts failed", "error", err)
			} else if n > 0 {
				log.InfoContext(ctx, "pruned refresh attempts", "deleted", n)
			}
		}
		sleep(ctx, w.poll*3/4+time.Duration(w.svc.int63n(int64(w.poll/2)+1)))
	}
	return nil
}

// handle refreshes one claimed connection, unless the worker is stopping or the claim waited so long
// that the refresh might outlive the lease; those leases are given back for the next claimant.
func (w *Worker) handle(ctx context.Context, c store.Connection) {
	if ctx.Err() != nil || c.LeaseUntil == nil || w.svc.now().Add(w.svc.callTimeout+min(leaseMargin, w.svc.lease/4)).After(*c.LeaseUntil) {
		w.release(ctx, c)
		return
	}
	_, _, _ = w.svc.refreshLeased(ctx, c, w.id)
}

// release gives back a lease this worker will not use.
func (w *Worker) release(ctx context.Context, c store.Connection) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := w.svc.store.ReleaseLease(rctx, c.ID, w.id); err != nil {
		w.svc.log.WarnContext(ctx, "releasing a lease failed; it will expire", "connection", c.ID, "error", err)
	}
}

// RunOnce claims up to Concurrency due connections, refreshes them and returns how many it claimed.
func (w *Worker) RunOnce(ctx context.Context) (int, error) {
	now := w.svc.now()
	claimed, err := w.svc.store.ClaimDueConnections(ctx, w.id, now, now.Add(w.svc.lease), w.concurrency, w.apps)
	if err != nil {
		return 0, err
	}
	var wg sync.WaitGroup
	for _, c := range claimed {
		wg.Go(func() { _, _, _ = w.svc.refreshLeased(ctx, c, w.id) })
	}
	wg.Wait()
	return len(claimed), nil
}

// sleep waits d or until ctx is done, reporting whether the full time passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
