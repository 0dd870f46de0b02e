package webhook_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/hitchdev/hitch/internal/events"
	"github.com/hitchdev/hitch/internal/store"
	"github.com/hitchdev/hitch/internal/store/storetest"
	"github.com/hitchdev/hitch/internal/webhook"
)

var tStart = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

// record writes one event for connection conn, as the product's state changes do.
func record(t *testing.T, s *store.Store, typ, conn string, at time.Time) store.Event {
	t.Helper()
	var ev store.Event
	err := s.InTx(context.Background(), func(q *store.Queries) error {
		var err error
		ev, err = events.Record(context.Background(), q, typ, "acme", conn, map[string]any{"id": conn}, at)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// connectionOf reads data.connection.id from a payload.
func connectionOf(body []byte) string {
	var p struct {
		Data struct {
			Connection struct {
				ID string `json:"id"`
			} `json:"connection"`
		} `json:"data"`
	}
	_ = json.Unmarshal(body, &p)
	return p.Data.Connection.ID
}

// TestFailureInjection drives a dispatcher with an injected clock against a receiver that fails in every
// way the spec names, and checks the delivery log and the retry times against the schedule.
//
// Connection A's first event meets 500, a timeout, a closed connection and a 429 asking for 3 h (longer
// than the schedule's 2 h, so it wins), then 200; A's second event then meets 410. Connection B's event
// gets 503 on every attempt until the 410 disables the endpoint. After that nothing is sent, whatever
// the clock says.
func TestFailureInjection(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		clk := newClock(tStart)
		keys, _ := newKeys(t)
		opts := webhook.Options{Store: s, Keys: keys, Now: clk.Now, Log: quietLog(), Timeout: 250 * time.Millisecond}
		svc := webhook.NewService(opts)
		d := webhook.NewDispatcher(opts)

		var aCount int
		rc := newReceiver(t, clk.Now, func(_ int, w http.ResponseWriter, r *http.Request, body []byte) {
			if connectionOf(body) == "con_b" {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			aCount++
			switch aCount {
			case 1:
				w.WriteHeader(http.StatusInternalServerError)
				_, _ = w.Write([]byte(`{"error":"boom"}`))
			case 2: // time out
				select {
				case <-r.Context().Done():
				case <-time.After(5 * time.Second):
				}
			case 3: // close the connection without an answer
				if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
					_ = conn.Close()
				}
			case 4:
				w.Header().Set("Retry-After", "10800")
				w.WriteHeader(http.StatusTooManyRequests)
			case 5:
				w.WriteHeader(http.StatusOK)
			default:
				w.WriteHeader(http.StatusGone)
			}
		})
		ep, secret := createEndpoint(t, svc, rc.URL())
		a1 := record(t, s, events.ConnectionCreated, "con_a", tStart)
		a2 := record(t, s, events.ConnectionDeleted, "con_a", tStart)
		b1 := record(t, s, events.ConnectionCreated, "con_b", tStart)

		step := func(at time.Time, wantSent int) {
			t.Helper()
			clk.Set(at)
			n, err := d.RunOnce(ctx)
			if err != nil {
				t.Fatalf("RunOnce at %v: %v", at.Sub(tStart), err)
			}
			if n != wantSent {
				t.Fatalf("at +%v: %d sent, want %d", at.Sub(tStart), n, wantSent)
			}
		}
		a := tStart                   // A1's attempts: 0, +5s, +5m, +30m, then +3h (Retry-After over 2h)
		b := tStart                   // B1's attempts follow the plain schedule
		step(a, 2)                    // A1: 500, B1: 503
		step(a.Add(4*time.Second), 0) // nothing due; A2 waits behind A1
		step(a.Add(5*time.Second), 2) // A1: timeout, B1: 503
		step(a.Add(5*time.Second+5*time.Minute-time.Second), 0)
		step(a.Add(5*time.Second+5*time.Minute), 2)  // A1: closed, B1: 503
		step(a.Add(5*time.Second+35*time.Minute), 2) // A1: 429 Retry-After 3h, B1: 503
		bTimes := []time.Time{b, b.Add(5 * time.Second), b.Add(5*time.Second + 5*time.Minute), b.Add(5*time.Second + 35*time.Minute)}
		step(b.Add(5*time.Second+2*time.Hour+35*time.Minute), 1) // B1 only: A1 is held by its Retry-After
		bTimes = append(bTimes, b.Add(5*time.Second+2*time.Hour+35*time.Minute))
		aOK := a.Add(5*time.Second + 3*time.Hour + 35*time.Minute)
		step(aOK, 1) // A1: 200
		step(aOK, 1) // A2 is due at once after A1: 410, which disables the endpoint
		sentBefore := rc.count()

		// Nothing more goes out: not B1's retries, not new events, not days later.
		record(t, s, events.ConnectionReconnected, "con_b", aOK)
		for _, later := range []time.Duration{time.Minute, 5 * time.Hour, 80 * time.Hour} {
			step(aOK.Add(later), 0)
		}
		if rc.count() != sentBefore {
			t.Fatalf("%d requests after the 410", rc.count()-sentBefore)
		}

		byEvent := map[string]webhook.Delivery{}
		for _, dl := range deliveriesOf(t, svc, ep.ID) {
			byEvent[dl.EventID] = dl
		}
		if len(byEvent) != 3 {
			t.Fatalf("%d deliveries, want 3 (the event after the 410 is not fanned out to a disabled endpoint)", len(byEvent))
		}
		type want struct {
			at     time.Time
			status int
			err    string
		}
		check := func(name string, dl webhook.Delivery, status string, wants []want) {
			t.Helper()
			if dl.Status != status {
				t.Errorf("%s: status %s, want %s", name, dl.Status, status)
			}
			if len(dl.Log) != len(wants) {
				t.Fatalf("%s: %d attempts logged, want %d: %+v", name, len(dl.Log), len(wants), dl.Log)
			}
			for i, w := range wants {
				got := dl.Log[i]
				if !got.AttemptedAt.Equal(w.at) || got.StatusCode != w.status || !strings.Contains(got.Error, w.err) {
					t.Errorf("%s attempt %d: at +%v status %d error %q; want +%v, %d, %q", name, i+1,
						got.AttemptedAt.Sub(tStart), got.StatusCode, got.Error, w.at.Sub(tStart), w.status, w.err)
				}
			}
		}
		check("A1", byEvent[a1.ID], store.DeliveryDelivered, []want{
			{a, 500, "answered 500"},
			{a.Add(5 * time.Second), 0, "timed out"},
			{a.Add(5*time.Second + 5*time.Minute), 0, ""},
			{a.Add(5*time.Second + 35*time.Minute), 429, "answered 429"},
			{aOK, 200, ""},
		})
		if ex := byEvent[a1.ID].Log[0].ResponseExcerpt; ex != `{"error":"boom"}` {
			t.Errorf("response excerpt %q", ex)
		}
		if e := byEvent[a1.ID].Log[2].Error; e == "" {
			t.Error("the closed connection left no error in the log")
		}
		check("A2", byEvent[a2.ID], store.DeliveryDisabled, []want{{aOK, 410, "answered 410"}})
		bw := make([]want, len(bTimes))
		for i, at := range bTimes {
			bw[i] = want{at, 503, "answered 503"}
		}
		check("B1", byEvent[b1.ID], store.DeliveryDisabled, bw)
		if got, _ := svc.GetEndpoint(ctx, ep.ID); got.DisabledAt == nil || !strings.Contains(got.DisabledReason, "410") {
			t.Fatalf("endpoint not disabled by the 410: %+v", got)
		}

		// Every request carried the event id as webhook-id on every retry, and verifies.
		wh, _ := standardwebhooks.NewWebhook(secret)
		ids := map[string]bool{}
		for _, r := range rc.all() {
			if err := wh.VerifyIgnoringTimestamp(r.Body, r.Header); err != nil {
				t.Fatalf("signature: %v", err)
			}
			ids[r.Header.Get("webhook-id")] = true
		}
		if len(ids) != 3 || !ids[a1.ID] || !ids[a2.ID] || !ids[b1.ID] {
			t.Fatalf("webhook-ids %v, want the three event ids", ids)
		}

		// Nothing is lost: enabled again, the stopped delivery can be redelivered, same webhook-id.
		on := true
		if _, err := svc.UpdateEndpoint(ctx, ep.ID, webhook.EndpointPatch{Enabled: &on}); err != nil {
			t.Fatal(err)
		}
		rc.setRespond(func(_ int, w http.ResponseWriter, _ *http.Request, _ []byte) { w.WriteHeader(http.StatusOK) })
		again, err := svc.Redeliver(ctx, byEvent[b1.ID].ID)
		if err != nil || again.Status != store.DeliveryDelivered || len(again.Log) != len(bTimes)+1 {
			t.Fatalf("redeliver: %+v %v", again, err)
		}
		all := rc.all()
		if last := all[len(all)-1]; last.Header.Get("webhook-id") != b1.ID {
			t.Fatalf("redelivery webhook-id %q, want %q", last.Header.Get("webhook-id"), b1.ID)
		}
	})
}

// TestScheduleExhaustion checks that ten failed attempts, spaced by the schedule, fail the delivery, and
// that a Retry-After shorter than the schedule does not shorten it.
func TestScheduleExhaustion(t *testing.T) {
	s := storetest.Open(t, store.FlavorSQLite)
	ctx := context.Background()
	clk := newClock(tStart)
	keys, _ := newKeys(t)
	opts := webhook.Options{Store: s, Keys: keys, Now: clk.Now, Log: quietLog()}
	svc := webhook.NewService(opts)
	d := webhook.NewDispatcher(opts)
	rc := newReceiver(t, clk.Now, func(_ int, w http.ResponseWriter, _ *http.Request, _ []byte) {
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	ep, _ := createEndpoint(t, svc, rc.URL())
	record(t, s, events.ConnectionCreated, "con_a", tStart)

	var want []time.Time
	at := tStart
	for i, delay := range webhook.DefaultSchedule() {
		at = at.Add(delay)
		want = append(want, at)
		if delay > 0 {
			clk.Set(at.Add(-time.Second))
			if n, _ := d.RunOnce(ctx); n != 0 {
				t.Fatalf("attempt %d sent a second early", i+1)
			}
		}
		clk.Set(at)
		if n, err := d.RunOnce(ctx); n != 1 || err != nil {
			t.Fatalf("attempt %d at +%v: sent %d, %v", i+1, at.Sub(tStart), n, err)
		}
	}
	clk.Set(at.Add(1000 * time.Hour))
	if n, _ := d.RunOnce(ctx); n != 0 {
		t.Fatal("an eleventh attempt was made")
	}
	ds := deliveriesOf(t, svc, ep.ID)
	if len(ds) != 1 || ds[0].Status != store.DeliveryFailed || ds[0].Attempts != 10 || len(ds[0].Log) != 10 {
		t.Fatalf("delivery %+v", ds)
	}
	for i, a := range ds[0].Log {
		if !a.AttemptedAt.Equal(want[i]) {
			t.Errorf("attempt %d at +%v, want +%v", i+1, a.AttemptedAt.Sub(tStart), want[i].Sub(tStart))
		}
	}
	if got := want[len(want)-1].Sub(tStart); got != 75*time.Hour+35*time.Minute+5*time.Second {
		t.Fatalf("the schedule spans %v, want 75h35m5s as in the Standard Webhooks table", got)
	}
}
