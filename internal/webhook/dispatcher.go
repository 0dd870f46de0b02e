package webhook

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/hitchdev/hitch/internal/secrets"
	"github.com/hitchdev/hitch/internal/store"
)

// DefaultSchedule returns the delay before each scheduled attempt of a delivery, counted from the failure
// of the one before (the first from the event): immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h,
// 20 h, 24 h. After the last attempt fails the delivery is failed.
func DefaultSchedule() []time.Duration {
	return []time.Duration{0, 5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour,
		5 * time.Hour, 10 * time.Hour, 14 * time.Hour, 20 * time.Hour, 24 * time.Hour}
}

// fanOutBatch is how many events one fan-out transaction takes.
const fanOutBatch = 500

// Dispatcher turns recorded events into deliveries and sends them. Any number of dispatchers, in one
// process or on several replicas, can share a database: events are fanned out and deliveries claimed
// under row locks (PostgreSQL FOR UPDATE SKIP LOCKED; SQLite's single writer) and leases, so each
// attempt is made by one of them, and a dispatcher that dies mid-delivery leaves leases that lapse so
// the others retry (at least once: the receiver may see the same webhook-id twice).
type Dispatcher struct {
	st          *store.Store
	keys        *secrets.KeyRing
	sender      *Sender
	now         func() time.Time
	log         *slog.Logger
	schedule    []time.Duration
	lease       time.Duration
	batch       int
	concurrency int
	poll        time.Duration
	owner       string
	wake        chan struct{}

	mu          sync.Mutex
	endpoints   map[string]*endpointState // enabled endpoints by id
	refreshedAt time.Time                 // when endpoints was last read (real time)
	gone        map[string]bool           // endpoints that answered 410 in this process
}

// endpointState is what sending needs from an endpoint, kept while its row is unchanged.
type endpointState struct {
	updatedAt   time.Time
	url         string
	set         secretSet
	signer      *Signer
	signerUntil int64 // unix µs when a secret in signer expires; 0: never
}

// job is one claimed delivery ready to send.
type job struct {
	d         store.WebhookDelivery
	url       string
	signer    *Signer
	claimedAt time.Time
}

// outcome is a job after its attempt; skipped jobs were not sent and only give back their lease.
type outcome struct {
	job     job
	at      time.Time
	res     Result
	skipped bool
}

// NewDispatcher returns a dispatcher configured by o (Store and Keys are required).
func NewDispatcher(o Options) *Dispatcher {
	d := &Dispatcher{
		st: o.Store, keys: o.Keys, now: o.now(), log: o.log(), schedule: o.Schedule, lease: o.Lease,
		batch: o.BatchSize, concurrency: o.Concurrency, poll: o.PollInterval,
		wake: make(chan struct{}, 1), endpoints: map[string]*endpointState{}, gone: map[string]bool{},
	}
	d.sender = NewSender(o.Timeout, d.now)
	if len(d.schedule) == 0 {
		d.schedule = DefaultSchedule()
	}
	if d.lease <= 0 {
		d.lease = max(12*d.sender.Timeout(), 30*time.Second)
	}
	if d.batch <= 0 {
		d.batch = 500
	}
	if d.concurrency <= 0 {
		d.concurrency = 64
	}
	if d.poll <= 0 {
		d.poll = 500 * time.Millisecond
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	d.owner = "webhook-" + hex.EncodeToString(b[:])
	return d
}

// Wake makes an idle Run look for work now instead of at its next poll.
func (d *Dispatcher) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// FanOut turns every event not yet fanned out into one pending delivery per enabled endpoint that
// subscribes to its type, due at once, and marks the events, all in one transaction per batch. It
// returns how many events it took.
func (d *Dispatcher) FanOut(ctx context.Context) (int, error) {
	total := 0
	for {
		if ok, err := d.st.HasUnfannedEvents(ctx); err != nil || !ok {
			return total, err
		}
		n := 0
		err := d.st.InTx(ctx, func(q *store.Queries) error {
			evs, err := q.ClaimUnfannedEvents(ctx, fanOutBatch)
			if err != nil || len(evs) == 0 {
				n = 0
				return err
			}
			eps, err := q.LockEnabledWebhookEndpoints(ctx)
			if err != nil {
				return err
			}
			now := d.now()
			var ds []store.WebhookDelivery
			seqs := make([]int64, len(evs))
			for i, ev := range evs {
				seqs[i] = ev.Seq
				for j := range eps {
					if eps[j].Wants(ev.Type) {
						ds = append(ds, store.WebhookDelivery{
							EventSeq: ev.Seq, EndpointID: eps[j].ID, ConnectionID: ev.ConnectionID,
							NextAttemptAt: &now, CreatedAt: now,
						})
					}
				}
			}
			if _, err := q.InsertWebhookDeliveries(ctx, ds); err != nil {
				return err
			}
			n = len(evs)
			return q.MarkEventsFannedOut(ctx, seqs, now)
		})
		if err != nil {
			return total, err
		}
		total += n
		if n > 0 {
			d.Wake() // new deliveries are due at once
		}
		if n < fanOutBatch {
			// Fewer than a batch: the rest, if any, is held by another dispatcher or arrived just now.
			return total, nil
		}
	}
}

// RunOnce fans out, claims one batch of due deliveries, sends them (concurrently) and records the
// outcomes. It returns how many deliveries it attempted. Tests drive it with an injected clock.
func (d *Dispatcher) RunOnce(ctx context.Context) (int, error) {
	if _, err := d.FanOut(ctx); err != nil {
		return 0, err
	}
	jobs, err := d.claim(ctx, d.batch, true)
	if err != nil || len(jobs) == 0 {
		return 0, err
	}
	outs := make([]outcome, len(jobs))
	sem := make(chan struct{}, d.concurrency)
	var wg sync.WaitGroup
	for i := range jobs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			outs[i] = d.send(ctx, jobs[i])
		})
	}
	wg.Wait()
	if err := d.finish(ctx, outs); err != nil {
		return 0, err
	}
	sent := 0
	for _, o := range outs {
		if !o.skipped {
			sent++
		}
	}
	return sent, nil
}

// Run dispatches until ctx ends. One loop fans events out; another keeps up to eight times Concurrency
// deliveries claimed and queued for Concurrency senders (large claims keep the database's share of each
// delivery small); a writer records outcomes in batches. On return
// every request it started has finished and been recorded, and deliveries claimed but not started are
// released for others.
func (d *Dispatcher) Run(ctx context.Context) error {
	slots := make(chan struct{}, 8*d.concurrency)
	jobs := make(chan job, cap(slots))
	results := make(chan outcome, cap(slots))
	// Requests in flight outlive ctx (each is bounded by the timeout), so a shutdown records them.
	sendCtx := context.WithoutCancel(ctx)

	var workers sync.WaitGroup
	for range d.concurrency {
		workers.Go(func() {
			for j := range jobs {
				if ctx.Err() != nil {
					results <- outcome{job: j, skipped: true} // not started: give it back
					continue
				}
				results <- d.send(sendCtx, j)
			}
		})
	}
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		d.write(sendCtx, results, slots)
	}()
	fanDone := make(chan struct{})
	go func() {
		defer close(fanDone)
		d.fanOutLoop(ctx)
	}()

	ticker := time.NewTicker(d.poll)
	defer ticker.Stop()
	for ctx.Err() == nil {
		free := cap(slots) - len(slots)
		claimed := 0
		if free > 0 {
			js, err := d.claim(ctx, min(free, d.batch), false)
			if err != nil && ctx.Err() == nil {
				d.log.ErrorContext(ctx, "webhook claim failed", "error", err)
			}
			claimed = len(js)
			for _, j := range js {
				slots <- struct{}{} // never blocks: only this loop takes slots, and free were counted
				jobs <- j           // never blocks: the queue is as long as there are slots
			}
		}
		// Go straight on only when a full batch came and there is room for more; otherwise wait for a
		// poll, a wake (the writer freeing slots, fan-out finding work) or the end.
		if claimed < d.batch || claimed >= free {
			select {
			case <-ctx.Done():
			case <-d.wake:
			case <-ticker.C:
			}
		}
	}
	close(jobs)
	workers.Wait()
	close(results)
	<-writerDone
	<-fanDone
	return nil
}

// fanOutLoop fans out new events every poll until ctx ends (FanOut wakes the claim loop).
func (d *Dispatcher) fanOutLoop(ctx context.Context) {
	ticker := time.NewTicker(d.poll)
	defer ticker.Stop()
	for {
		if _, err := d.FanOut(ctx); err != nil && ctx.Err() == nil {
			d.log.ErrorContext(ctx, "webhook fan-out failed", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// write records outcomes in batches (a transaction per batch rather than per attempt) and frees their
// slots, waking the claim loop.
func (d *Dispatcher) write(ctx context.Context, results <-chan outcome, slots chan struct{}) {
	const maxBatch = 128
	buf := make([]outcome, 0, maxBatch)
	flush := func() {
		if len(buf) == 0 {
			return
		}
		fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		if err := d.finish(fctx, buf); err != nil {
			// The leases lapse and the deliveries are sent again: at least once, never lost.
			d.log.ErrorContext(ctx, "recording webhook attempts failed", "error", err, "attempts", len(buf))
		}
		cancel()
		for range buf {
			<-slots
		}
		buf = buf[:0]
		d.Wake()
	}
	for o := range results {
		buf = append(buf, o)
		// Gather what else finishes within a few milliseconds, then write it all in one transaction: a
		// commit costs more than many rows.
		linger := time.NewTimer(5 * time.Millisecond)
	gather:
		for len(buf) < maxBatch {
			select {
			case o, ok := <-results:
				if !ok {
					break gather
				}
				buf = append(buf, o)
			case <-linger.C:
				break gather
			}
		}
		linger.Stop()
		flush()
	}
	flush()
}

// claim leases up to limit due deliveries and pairs each with its endpoint's URL and signer; reload
// reads the endpoints afresh.
func (d *Dispatcher) claim(ctx context.Context, limit int, reload bool) ([]job, error) {
	now := d.now()
	// The claim is one statement, atomic on its own; the payload read after it needs no transaction.
	ds, err := d.st.ClaimWebhookDeliveries(ctx, store.WebhookClaim{
		Owner: d.owner, Now: now, LeaseUntil: now.Add(d.lease), Limit: limit,
	})
	if err != nil || len(ds) == 0 {
		return nil, err
	}
	if err := d.refreshEndpoints(ctx, ds, reload); err != nil {
		d.release(ctx, jobsOf(ds))
		return nil, err
	}
	jobs := make([]job, 0, len(ds))
	var orphans []job
	d.mu.Lock()
	for _, del := range ds {
		j := job{d: del, claimedAt: now}
		ep := d.endpoints[del.EndpointID]
		if ep == nil {
			orphans = append(orphans, j) // disabled since the claim
			continue
		}
		j.url, j.signer = ep.url, d.signerFor(ep, now)
		if j.signer == nil {
			orphans = append(orphans, j)
			continue
		}
		jobs = append(jobs, j)
	}
	d.mu.Unlock()
	if len(orphans) > 0 {
		d.release(ctx, orphans)
	}
	return jobs, nil
}

func jobsOf(ds []store.WebhookDelivery) []job {
	out := make([]job, len(ds))
	for i, del := range ds {
		out[i] = job{d: del}
	}
	return out
}

// refreshEndpoints reloads the enabled endpoints, opening the secrets of those that changed. Unless
// reload is set it reads the database at most once per poll interval, or when a claimed delivery names
// an endpoint it does not know, so a changed URL or secret is used within a poll interval; deliveries of
// disabled endpoints never get here, since the claim takes only those of enabled ones.
func (d *Dispatcher) refreshEndpoints(ctx context.Context, claimed []store.WebhookDelivery, reload bool) error {
	d.mu.Lock()
	recent := !reload && time.Since(d.refreshedAt) < d.poll
	for _, del := range claimed {
		if d.endpoints[del.EndpointID] == nil {
			recent = false
			break
		}
	}
	d.mu.Unlock()
	if recent {
		return nil
	}
	eps, err := d.st.EnabledWebhookEndpoints(ctx)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.refreshedAt = time.Now()
	fresh := make(map[string]*endpointState, len(eps))
	for _, e := range eps {
		if old := d.endpoints[e.ID]; old != nil && old.updatedAt.Equal(e.UpdatedAt) && old.url == e.URL {
			fresh[e.ID] = old
			continue
		}
		set, err := openSecrets(d.keys, e.ID, e.Secrets)
		if err != nil {
			d.log.ErrorContext(ctx, "webhook endpoint skipped: its secrets cannot be opened", "endpoint", e.ID, "error", err)
			continue
		}
		fresh[e.ID] = &endpointState{updatedAt: e.UpdatedAt, url: e.URL, set: set}
		delete(d.gone, e.ID) // enabled again since its 410
	}
	d.endpoints = fresh
	return nil
}

// signerFor returns the endpoint's signer for its secrets active at now; d.mu is held.
func (d *Dispatcher) signerFor(ep *endpointState, now time.Time) *Signer {
	if ep.signer != nil && (ep.signerUntil == 0 || now.UnixMicro() < ep.signerUntil) {
		return ep.signer
	}
	active := ep.set.active(now)
	s, err := NewSigner(active...)
	if err != nil {
		d.log.Error("webhook endpoint has no usable secret", "error", err)
		return nil
	}
	ep.signer, ep.signerUntil = s, 0
	for _, e := range ep.set {
		if e.ExpiresAt > now.UnixMicro() && (ep.signerUntil == 0 || e.ExpiresAt < ep.signerUntil) {
			ep.signerUntil = e.ExpiresAt
		}
	}
	return s
}

// send makes one attempt, unless the endpoint has answered 410 meanwhile or the lease is too close to
// lapsing for the request to finish under it.
func (d *Dispatcher) send(ctx context.Context, j job) outcome {
	d.mu.Lock()
	gone := d.gone[j.d.EndpointID]
	d.mu.Unlock()
	at := d.now()
	if gone || at.After(j.claimedAt.Add(d.lease-d.sender.Timeout())) {
		return outcome{job: j, skipped: true}
	}
	res := d.sender.Send(ctx, Message{ID: j.d.EventID, URL: j.url, Body: j.d.Payload, Signer: j.signer, At: at})
	if res.Gone() {
		d.mu.Lock()
		d.gone[j.d.EndpointID] = true
		d.mu.Unlock()
	}
	return outcome{job: j, at: at, res: res}
}

// finish records outcomes in one transaction: the attempts, each delivery's next state per the schedule,
// and the disabling of endpoints that answered 410.
func (d *Dispatcher) finish(ctx context.Context, outs []outcome) error {
	results := make([]store.WebhookAttemptResult, 0, len(outs))
	var skipped []job
	gone := map[string]bool{}
	for _, o := range outs {
		if o.skipped {
			skipped = append(skipped, o.job)
			continue
		}
		r := store.WebhookAttemptResult{Attempt: attemptOf(o.job.d.ID, o.at, o.res)}
		n := o.job.d.Attempts + 1 // scheduled attempts made, this one included
		switch {
		case o.res.OK():
			r.Status = store.DeliveryDelivered
		case o.res.Gone():
			r.Status = store.DeliveryDisabled
			gone[o.job.d.EndpointID] = true
		case n >= len(d.schedule):
			r.Status = store.DeliveryFailed
		default:
			next := o.at.Add(max(d.schedule[n], o.res.RetryAfter))
			r.Status, r.NextAttemptAt = store.DeliveryPending, &next
		}
		results = append(results, r)
		d.logOutcome(ctx, o, r)
	}
	if len(results) > 0 {
		err := d.st.InTx(ctx, func(q *store.Queries) error {
			if _, err := q.FinishWebhookAttempts(ctx, d.owner, results); err != nil {
				return err
			}
			for id := range gone {
				if _, err := q.DisableWebhookEndpoint(ctx, id, goneReason, d.now()); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		for id := range gone {
			d.log.WarnContext(ctx, "webhook endpoint disabled: it answered 410 Gone", "endpoint", id)
		}
	}
	if len(skipped) > 0 {
		d.release(ctx, skipped)
	}
	return nil
}

func (d *Dispatcher) logOutcome(ctx context.Context, o outcome, r store.WebhookAttemptResult) {
	if r.Status == store.DeliveryDelivered {
		return
	}
	attrs := []any{"delivery", o.job.d.ID, "endpoint", o.job.d.EndpointID, "event", o.job.d.EventID,
		"attempt", o.job.d.Attempts + 1, "status_code", o.res.StatusCode, "error", r.Attempt.Error, "next", r.Status}
	if r.NextAttemptAt != nil {
		attrs = append(attrs, "next_attempt_at", r.NextAttemptAt.UTC().Format(time.RFC3339))
	}
	if r.Status == store.DeliveryFailed {
		d.log.WarnContext(ctx, "webhook delivery failed for good", attrs...)
		return
	}
	d.log.InfoContext(ctx, "webhook attempt failed", attrs...)
}

// release gives back leases on jobs that were not sent, so they are due again at once.
func (d *Dispatcher) release(ctx context.Context, js []job) {
	ids := make([]string, len(js))
	for i, j := range js {
		ids[i] = j.d.ID
	}
	if err := d.st.ReleaseWebhookDeliveries(ctx, d.owner, ids); err != nil && !errors.Is(err, context.Canceled) {
		d.log.ErrorContext(ctx, "releasing webhook deliveries failed; their leases will lapse", "error", err)
	}
}
