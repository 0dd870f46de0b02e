package store_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/hitchdev/hitch/internal/store"
	"github.com/hitchdev/hitch/internal/store/storetest"
)

func mustEndpoint(t *testing.T, q *store.Queries, types ...string) store.WebhookEndpoint {
	t.Helper()
	e := store.WebhookEndpoint{
		URL: "https://hooks.example/in", EventTypes: types, Secrets: []byte("sealed"), KeyID: "k1",
		Source: store.WebhookSourceAPI, CreatedAt: t0, UpdatedAt: t0,
	}
	if err := q.InsertWebhookEndpoint(context.Background(), &e); err != nil {
		t.Fatalf("InsertWebhookEndpoint: %v", err)
	}
	return e
}

func mustEvent(t *testing.T, q *store.Queries, conn, typ string) store.Event {
	t.Helper()
	e := store.Event{Type: typ, TenantKey: "acme", ConnectionID: conn, Payload: []byte(`{"n":1}`), CreatedAt: t0}
	if err := q.InsertEvent(context.Background(), &e); err != nil {
		t.Fatalf("InsertEvent: %v", err)
	}
	return e
}

// fanOut does what the dispatcher does: deliveries for every unfanned event to every matching endpoint.
func fanOut(t *testing.T, s *store.Store, now time.Time) int {
	t.Helper()
	ctx := context.Background()
	n := 0
	err := s.InTx(ctx, func(q *store.Queries) error {
		evs, err := q.ClaimUnfannedEvents(ctx, 1000)
		if err != nil {
			return err
		}
		eps, err := q.LockEnabledWebhookEndpoints(ctx)
		if err != nil {
			return err
		}
		var ds []store.WebhookDelivery
		var seqs []int64
		for _, ev := range evs {
			seqs = append(seqs, ev.Seq)
			for _, ep := range eps {
				if ep.Wants(ev.Type) {
					ds = append(ds, store.WebhookDelivery{EventSeq: ev.Seq, EndpointID: ep.ID, ConnectionID: ev.ConnectionID, NextAttemptAt: &now, CreatedAt: now})
				}
			}
		}
		k, err := q.InsertWebhookDeliveries(ctx, ds)
		n = int(k)
		if err != nil {
			return err
		}
		return q.MarkEventsFannedOut(ctx, seqs, now)
	})
	if err != nil {
		t.Fatalf("fan out: %v", err)
	}
	return n
}

func claim(t *testing.T, s *store.Store, owner string, now time.Time, limit int) []store.WebhookDelivery {
	t.Helper()
	ds, err := s.ClaimWebhookDeliveries(context.Background(), store.WebhookClaim{Owner: owner, Now: now, LeaseUntil: now.Add(time.Minute), Limit: limit})
	if err != nil {
		t.Fatalf("ClaimWebhookDeliveries: %v", err)
	}
	return ds
}

func eventIDs(ds []store.WebhookDelivery) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.EventID
	}
	sort.Strings(out)
	return out
}

func TestWebhookEndpoints(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		a := mustEndpoint(t, s.Queries)
		// Ids order by millisecond; within one they are random, so b must come a millisecond later.
		time.Sleep(2 * time.Millisecond)
		b := mustEndpoint(t, s.Queries, "connection.created", "connection.deleted")
		got, err := s.GetWebhookEndpoint(ctx, b.ID)
		if err != nil || got.URL != b.URL || len(got.EventTypes) != 2 || string(got.Secrets) != "sealed" || got.KeyID != "k1" ||
			got.Source != store.WebhookSourceAPI || got.DisabledAt != nil || !got.CreatedAt.Equal(t0.Truncate(time.Microsecond)) {
			t.Fatalf("GetWebhookEndpoint = %+v, %v", got, err)
		}
		if !got.Wants("connection.deleted") || got.Wants("connection.reconnected") || !a.Wants("connection.reconnected") {
			t.Fatal("Wants does not follow the event type filter (empty means all)")
		}
		if _, err := s.GetWebhookEndpoint(ctx, "whe_nope"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown id: %v", err)
		}
		dup := a
		if err := s.InsertWebhookEndpoint(ctx, &dup); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("duplicate id: %v", err)
		}

		page1, next, err := s.ListWebhookEndpoints(ctx, store.WebhookEndpointFilter{Limit: 1})
		if err != nil || len(page1) != 1 || page1[0].ID != b.ID || next == "" {
			t.Fatalf("first page %v %q %v", page1, next, err)
		}
		page2, next, err := s.ListWebhookEndpoints(ctx, store.WebhookEndpointFilter{Limit: 1, Cursor: next})
		if err != nil || len(page2) != 1 || page2[0].ID != a.ID || next != "" {
			t.Fatalf("second page %v %q %v", page2, next, err)
		}
		if _, _, err := s.ListWebhookEndpoints(ctx, store.WebhookEndpointFilter{Cursor: "!!"}); !errors.Is(err, store.ErrInvalidCursor) {
			t.Fatalf("bad cursor: %v", err)
		}

		got.URL, got.EventTypes, got.Description, got.UpdatedAt = "https://other.example/x", nil, "d", t0.Add(time.Hour)
		if err := s.UpdateWebhookEndpoint(ctx, &got); err != nil {
			t.Fatal(err)
		}
		if again, _ := s.GetWebhookEndpoint(ctx, b.ID); again.URL != "https://other.example/x" || len(again.EventTypes) != 0 || again.Description != "d" {
			t.Fatalf("update not stored: %+v", again)
		}
		missing := got
		missing.ID = "whe_missing"
		if err := s.UpdateWebhookEndpoint(ctx, &missing); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("update of unknown id: %v", err)
		}

		en, err := s.EnabledWebhookEndpoints(ctx)
		if err != nil || len(en) != 2 {
			t.Fatalf("enabled %v %v", en, err)
		}
		if changed, err := s.DisableWebhookEndpoint(ctx, a.ID, "gone", t0); err != nil || !changed {
			t.Fatalf("disable: %v %v", changed, err)
		}
		if changed, err := s.DisableWebhookEndpoint(ctx, a.ID, "again", t0.Add(time.Hour)); err != nil || changed {
			t.Fatalf("second disable: %v %v", changed, err)
		}
		if off, _ := s.GetWebhookEndpoint(ctx, a.ID); off.DisabledAt == nil || off.DisabledReason != "gone" {
			t.Fatalf("disable kept the first reason? %+v", off)
		}
		if _, err := s.DisableWebhookEndpoint(ctx, "whe_missing", "x", t0); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("disable unknown: %v", err)
		}
		if en, _ := s.EnabledWebhookEndpoints(ctx); len(en) != 1 || en[0].ID != b.ID {
			t.Fatalf("enabled after disable: %v", en)
		}
	})
}

func TestWebhookFanOutIsIdempotentAndFiltered(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		all := mustEndpoint(t, s.Queries)
		created := mustEndpoint(t, s.Queries, "connection.created")
		off := mustEndpoint(t, s.Queries)
		if _, err := s.DisableWebhookEndpoint(ctx, off.ID, "off", t0); err != nil {
			t.Fatal(err)
		}
		e1 := mustEvent(t, s.Queries, "con_a", "connection.created")
		mustEvent(t, s.Queries, "con_a", "connection.deleted")
		if ok, err := s.HasUnfannedEvents(ctx); err != nil || !ok {
			t.Fatalf("HasUnfannedEvents = %v, %v", ok, err)
		}
		if n := fanOut(t, s, t0); n != 3 {
			t.Fatalf("fan-out wrote %d deliveries, want 3 (2 to the catch-all, 1 to the created-only endpoint)", n)
		}
		if ok, _ := s.HasUnfannedEvents(ctx); ok {
			t.Fatal("events still unfanned")
		}
		if n := fanOut(t, s, t0); n != 0 {
			t.Fatalf("second fan-out wrote %d", n)
		}
		// Writing the same deliveries again is skipped, not an error.
		n, err := s.InsertWebhookDeliveries(ctx, []store.WebhookDelivery{{EventSeq: e1.Seq, EndpointID: all.ID, NextAttemptAt: &t0}})
		if err != nil || n != 0 {
			t.Fatalf("re-insert: %d %v", n, err)
		}
		for _, tc := range []struct {
			ep   string
			want int
		}{{all.ID, 2}, {created.ID, 1}, {off.ID, 0}} {
			ds, _, err := s.ListWebhookDeliveries(ctx, store.WebhookDeliveryFilter{EndpointID: tc.ep})
			if err != nil || len(ds) != tc.want {
				t.Errorf("endpoint %s has %d deliveries (%v), want %d", tc.ep, len(ds), err, tc.want)
			}
			for _, d := range ds {
				if d.Status != store.DeliveryPending || d.ConnectionID != "con_a" || d.EventID == "" || d.Payload != nil {
					t.Errorf("listed delivery %+v", d)
				}
			}
		}
	})
}

func TestClaimWebhookDeliveriesKeepsConnectionOrder(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ep := mustEndpoint(t, s.Queries)
		a1 := mustEvent(t, s.Queries, "con_a", "connection.created")
		b1 := mustEvent(t, s.Queries, "con_b", "connection.created")
		a2 := mustEvent(t, s.Queries, "con_a", "connection.disconnected")
		fanOut(t, s, t0)

		first := claim(t, s, "w1", t0, 10)
		if got := eventIDs(first); len(got) != 2 || !contains(got, a1.ID) || !contains(got, b1.ID) {
			t.Fatalf("first claim %v, want the first event of each connection", got)
		}
		for _, d := range first {
			if string(d.Payload) != `{"n":1}` || d.EndpointID != ep.ID {
				t.Fatalf("claimed delivery lacks payload or endpoint: %+v", d)
			}
		}
		if more := claim(t, s, "w2", t0, 10); len(more) != 0 {
			t.Fatalf("leased or blocked deliveries claimed again: %v", eventIDs(more))
		}
		// a1 fails and is rescheduled: a2 must still wait for it.
		var a1d, b1d store.WebhookDelivery
		for _, d := range first {
			if d.EventID == a1.ID {
				a1d = d
			} else {
				b1d = d
			}
		}
		later := t0.Add(5 * time.Second)
		finish(t, s, "w1", a1d, 500, store.DeliveryPending, &later)
		finish(t, s, "w1", b1d, 200, store.DeliveryDelivered, nil)
		if got := claim(t, s, "w2", t0.Add(time.Second), 10); len(got) != 0 {
			t.Fatalf("claimed %v while con_a's first event is retrying", eventIDs(got))
		}
		retry := claim(t, s, "w2", later, 10)
		if len(retry) != 1 || retry[0].EventID != a1.ID || retry[0].Attempts != 1 || retry[0].LastStatusCode != 500 {
			t.Fatalf("retry claim %+v", retry)
		}
		finish(t, s, "w2", retry[0], 204, store.DeliveryDelivered, nil)
		next := claim(t, s, "w2", later, 10)
		if len(next) != 1 || next[0].EventID != a2.ID {
			t.Fatalf("after delivery the next event of con_a is due: %v", eventIDs(next))
		}
	})
}

func finish(t *testing.T, s *store.Store, owner string, d store.WebhookDelivery, code int, status string, next *time.Time) int {
	t.Helper()
	n, err := s.FinishWebhookAttempts(context.Background(), owner, []store.WebhookAttemptResult{{
		Attempt: store.WebhookAttempt{DeliveryID: d.ID, AttemptedAt: t0, StatusCode: code, LatencyMS: 3, ResponseExcerpt: "ok"},
		Status:  status, NextAttemptAt: next,
	}})
	if err != nil {
		t.Fatalf("FinishWebhookAttempts: %v", err)
	}
	return n
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestClaimWaitsForEarlierUnfannedEvent(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		ep := mustEndpoint(t, s.Queries)
		early := mustEvent(t, s.Queries, "con_a", "connection.created")
		late := mustEvent(t, s.Queries, "con_a", "connection.deleted")
		// Only the later event has been fanned out (as when the earlier one committed late).
		if _, err := s.InsertWebhookDeliveries(ctx, []store.WebhookDelivery{{EventSeq: late.Seq, EndpointID: ep.ID, ConnectionID: "con_a", NextAttemptAt: &t0}}); err != nil {
			t.Fatal(err)
		}
		if err := s.MarkEventsFannedOut(ctx, []int64{late.Seq}, t0); err != nil {
			t.Fatal(err)
		}
		if got := claim(t, s, "w", t0, 10); len(got) != 0 {
			t.Fatalf("claimed %v before the earlier event was fanned out", eventIDs(got))
		}
		fanOut(t, s, t0)
		if got := claim(t, s, "w", t0, 10); len(got) != 1 || got[0].EventID != early.ID {
			t.Fatalf("claim %v, want the earlier event first", eventIDs(got))
		}
	})
}

func TestWebhookLeases(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		ep := mustEndpoint(t, s.Queries)
		mustEvent(t, s.Queries, "con_a", "connection.created")
		fanOut(t, s, t0)
		d := claim(t, s, "dead", t0, 1)
		if len(d) != 1 {
			t.Fatal("nothing claimed")
		}
		// The lease lapses after a minute: another owner takes it over.
		if got := claim(t, s, "alive", t0.Add(59*time.Second), 1); len(got) != 0 {
			t.Fatal("claimed under a live lease")
		}
		taken := claim(t, s, "alive", t0.Add(time.Minute), 1)
		if len(taken) != 1 {
			t.Fatal("lapsed lease not reclaimed")
		}
		// The old owner's late result is logged but does not change the delivery.
		if n := finish(t, s, "dead", d[0], 200, store.DeliveryDelivered, nil); n != 0 {
			t.Fatalf("stale owner updated %d deliveries", n)
		}
		if n := finish(t, s, "alive", taken[0], 200, store.DeliveryDelivered, nil); n != 1 {
			t.Fatalf("owner updated %d deliveries", n)
		}
		got, err := s.GetWebhookDelivery(ctx, d[0].ID)
		if err != nil || got.Status != store.DeliveryDelivered || got.Attempts != 1 || got.DeliveredAt == nil || got.NextAttemptAt != nil {
			t.Fatalf("delivery after finish %+v %v", got, err)
		}
		log, err := s.ListWebhookAttempts(ctx, []string{d[0].ID})
		if err != nil || len(log) != 2 || log[0].StatusCode != 200 || log[0].LatencyMS != 3 || log[0].ResponseExcerpt != "ok" {
			t.Fatalf("attempt log %+v %v", log, err)
		}

		// Release gives a claim back at once, only for its owner.
		mustEvent(t, s.Queries, "con_b", "connection.created")
		fanOut(t, s, t0)
		c := claim(t, s, "w", t0, 1)
		if err := s.ReleaseWebhookDeliveries(ctx, "someone-else", []string{c[0].ID}); err != nil {
			t.Fatal(err)
		}
		if got := claim(t, s, "w2", t0, 1); len(got) != 0 {
			t.Fatal("another owner released my lease")
		}
		if err := s.ReleaseWebhookDeliveries(ctx, "w", []string{c[0].ID}); err != nil {
			t.Fatal(err)
		}
		if got := claim(t, s, "w2", t0, 1); len(got) != 1 {
			t.Fatal("released delivery not claimable")
		}
		_ = ep
	})
}

func TestDisableStopsPendingDeliveries(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		ep := mustEndpoint(t, s.Queries)
		other := mustEndpoint(t, s.Queries)
		mustEvent(t, s.Queries, "con_a", "connection.created")
		mustEvent(t, s.Queries, "con_b", "connection.created")
		fanOut(t, s, t0)
		leased := claim(t, s, "w", t0, 1) // one of them under a lease
		if len(leased) != 1 {
			t.Fatal("nothing claimed")
		}
		err := s.InTx(ctx, func(q *store.Queries) error {
			_, err := q.DisableWebhookEndpoint(ctx, ep.ID, "410", t0)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		ds, _, _ := s.ListWebhookDeliveries(ctx, store.WebhookDeliveryFilter{EndpointID: ep.ID})
		for _, d := range ds {
			if d.Status != store.DeliveryDisabled || d.NextAttemptAt != nil {
				t.Errorf("delivery of disabled endpoint: %+v", d)
			}
		}
		pending, _, _ := s.ListWebhookDeliveries(ctx, store.WebhookDeliveryFilter{EndpointID: other.ID, Status: store.DeliveryPending})
		if len(pending) != 2 {
			t.Fatalf("the other endpoint lost deliveries: %d pending", len(pending))
		}
		for _, d := range claim(t, s, "w2", t0.Add(time.Hour), 10) {
			if d.EndpointID == ep.ID {
				t.Fatal("claimed a delivery of a disabled endpoint")
			}
		}
	})
}

func TestRecordWebhookRedelivery(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		mustEndpoint(t, s.Queries)
		mustEvent(t, s.Queries, "con_a", "connection.created")
		fanOut(t, s, t0)
		d := claim(t, s, "w", t0, 1)[0]
		finish(t, s, "w", d, 500, store.DeliveryFailed, nil)

		a := store.WebhookAttempt{DeliveryID: d.ID, AttemptedAt: t0.Add(time.Hour), StatusCode: 502, Error: "the endpoint answered 502"}
		if err := s.RecordWebhookRedelivery(ctx, &a, false); err != nil || a.ID == "" {
			t.Fatalf("failed redelivery: %v %q", err, a.ID)
		}
		got, _ := s.GetWebhookDelivery(ctx, d.ID)
		if got.Status != store.DeliveryFailed || got.LastStatusCode != 502 || got.Attempts != 1 {
			t.Fatalf("after failed redelivery %+v", got)
		}
		ok := store.WebhookAttempt{DeliveryID: d.ID, AttemptedAt: t0.Add(2 * time.Hour), StatusCode: 200}
		if err := s.RecordWebhookRedelivery(ctx, &ok, true); err != nil {
			t.Fatal(err)
		}
		got, _ = s.GetWebhookDelivery(ctx, d.ID)
		if got.Status != store.DeliveryDelivered || got.LastStatusCode != 200 || got.LastError != "" || got.DeliveredAt == nil ||
			!got.DeliveredAt.Equal(t0.Add(2*time.Hour).Truncate(time.Microsecond)) || string(got.Payload) != `{"n":1}` {
			t.Fatalf("after redelivery %+v", got)
		}
		if log, _ := s.ListWebhookAttempts(ctx, []string{d.ID}); len(log) != 3 {
			t.Fatalf("%d attempts logged, want 3", len(log))
		}
		missing := store.WebhookAttempt{DeliveryID: "whd_missing", AttemptedAt: t0}
		if err := s.RecordWebhookRedelivery(ctx, &missing, true); err == nil {
			t.Fatal("redelivery of an unknown delivery recorded")
		}
	})
}

func TestClaimWebhookDeliveriesConcurrently(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		mustEndpoint(t, s.Queries)
		const conns, perConn = 60, 3
		err := s.InTx(ctx, func(q *store.Queries) error {
			for i := range perConn {
				for c := range conns {
					mustEvent(t, q, fmt.Sprintf("con_%03d", c), []string{"connection.created", "connection.disconnected", "connection.deleted"}[i])
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		fanOut(t, s, t0)

		// Four claimers deliver everything; every delivery is claimed by exactly one, and no connection
		// ever has two deliveries out at once.
		var (
			mu       sync.Mutex
			seen     = map[string]int{}
			inflight = map[string]bool{}
			order    = map[string][]int64{}
			wg       sync.WaitGroup
			failures []string
		)
		for w := range 4 {
			owner := fmt.Sprintf("w%d", w)
			wg.Go(func() {
				for idle := 0; idle < 20; {
					ds, err := s.ClaimWebhookDeliveries(ctx, store.WebhookClaim{Owner: owner, Now: t0, LeaseUntil: t0.Add(time.Hour), Limit: 7})
					if err != nil {
						mu.Lock()
						failures = append(failures, err.Error())
						mu.Unlock()
						return
					}
					if len(ds) == 0 {
						idle++
						time.Sleep(5 * time.Millisecond)
						continue
					}
					idle = 0
					mu.Lock()
					for _, d := range ds {
						seen[d.ID]++
						if inflight[d.ConnectionID] {
							failures = append(failures, "two deliveries of "+d.ConnectionID+" out at once")
						}
						inflight[d.ConnectionID] = true
						order[d.ConnectionID] = append(order[d.ConnectionID], d.EventSeq)
					}
					mu.Unlock()
					results := make([]store.WebhookAttemptResult, len(ds))
					for i, d := range ds {
						results[i] = store.WebhookAttemptResult{Attempt: store.WebhookAttempt{DeliveryID: d.ID, AttemptedAt: t0, StatusCode: 200}, Status: store.DeliveryDelivered}
					}
					mu.Lock()
					for _, d := range ds {
						inflight[d.ConnectionID] = false
					}
					mu.Unlock()
					if _, err := s.FinishWebhookAttempts(ctx, owner, results); err != nil {
						mu.Lock()
						failures = append(failures, err.Error())
						mu.Unlock()
						return
					}
				}
			})
		}
		wg.Wait()
		if len(failures) > 0 {
			t.Fatalf("failures: %v", failures[:min(len(failures), 5)])
		}
		if len(seen) != conns*perConn {
			t.Fatalf("%d deliveries claimed, want %d", len(seen), conns*perConn)
		}
		for id, n := range seen {
			if n != 1 {
				t.Fatalf("delivery %s claimed %d times", id, n)
			}
		}
		for c, seqs := range order {
			if !sort.SliceIsSorted(seqs, func(i, j int) bool { return seqs[i] < seqs[j] }) {
				t.Fatalf("connection %s delivered out of order: %v", c, seqs)
			}
		}
	})
}
