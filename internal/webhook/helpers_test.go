package webhook_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hitchdev/hitch/internal/secrets"
	"github.com/hitchdev/hitch/internal/store"
	"github.com/hitchdev/hitch/internal/webhook"
)

// clock is an injectable clock that moves only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *clock { return &clock{t: t} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// received is one request as the receiver saw it.
type received struct {
	Header http.Header
	Body   []byte
	At     time.Time // the receiver's clock (the injected one when given)
}

// receiver is a real HTTP server that records every request and answers with respond.
type receiver struct {
	srv     *httptest.Server
	mu      sync.Mutex
	reqs    []received
	now     func() time.Time
	respond func(n int, w http.ResponseWriter, r *http.Request, body []byte) // n counts from 0
}

func newReceiver(t *testing.T, now func() time.Time, respond func(n int, w http.ResponseWriter, r *http.Request, body []byte)) *receiver {
	t.Helper()
	if now == nil {
		now = time.Now
	}
	rc := &receiver{now: now, respond: respond}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		n := len(rc.reqs)
		rc.reqs = append(rc.reqs, received{Header: r.Header.Clone(), Body: body, At: rc.now()})
		respond := rc.respond
		rc.mu.Unlock()
		if respond == nil {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		respond(n, w, r, body)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) URL() string { return rc.srv.URL + "/hooks" }

// setRespond changes how the receiver answers from the next request on.
func (rc *receiver) setRespond(f func(n int, w http.ResponseWriter, r *http.Request, body []byte)) {
	rc.mu.Lock()
	rc.respond = f
	rc.mu.Unlock()
}

func (rc *receiver) all() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.reqs...)
}

func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.reqs)
}

// newKeys returns a fresh key ring and its spec.
func newKeys(t testing.TB) (*secrets.KeyRing, string) {
	t.Helper()
	spec, err := secrets.Generate("k1")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := secrets.Parse(spec)
	if err != nil {
		t.Fatal(err)
	}
	return keys, spec
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// createEndpoint stores an endpoint through the service and returns it with its secret.
func createEndpoint(t testing.TB, svc *webhook.Service, url string, types ...string) (webhook.Endpoint, string) {
	t.Helper()
	e, secret, err := svc.CreateEndpoint(context.Background(), webhook.EndpointInput{URL: url, EventTypes: types})
	if err != nil {
		t.Fatalf("CreateEndpoint: %v", err)
	}
	return e, secret
}

// runUntil calls RunOnce until cond holds or a real-time limit passes.
func runUntil(t *testing.T, d *webhook.Dispatcher, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached by dispatching")
		}
		if _, err := d.RunOnce(context.Background()); err != nil {
			t.Fatalf("RunOnce: %v", err)
		}
	}
}

// nodeCase is one request for the npm verifier.
type nodeCase struct {
	Secret  string            `json:"secret"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
}

func caseOf(secret string, r received) nodeCase {
	return nodeCase{Secret: secret, Body: string(r.Body), Headers: map[string]string{
		"webhook-id": r.Header.Get("webhook-id"), "webhook-timestamp": r.Header.Get("webhook-timestamp"),
		"webhook-signature": r.Header.Get("webhook-signature"),
	}}
}

// nodeVerify checks cases with the npm standardwebhooks package under Node and returns, per case, ""
// when it verified or the library's error. It skips the test where Node or the package is missing,
// except under CI, where both must be there.
func nodeVerify(t *testing.T, cases []nodeCase) []string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node is not installed; CI needs it for the standardwebhooks verifier")
		}
		t.Skip("node not installed: the npm standardwebhooks verifier cannot run")
	}
	script, _ := filepath.Abs(filepath.Join("testdata", "verify.mjs"))
	if _, err := os.Stat(filepath.Join("..", "..", "node_modules", "standardwebhooks", "package.json")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node_modules/standardwebhooks is missing: run npm ci")
		}
		t.Skip("npm package standardwebhooks not installed (npm ci)")
	}
	in := filepath.Join(t.TempDir(), "cases.json")
	raw, _ := json.Marshal(cases)
	if err := os.WriteFile(in, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, node, script, in).Output()
	if err != nil {
		t.Fatalf("node verifier: %v", err)
	}
	var res []struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(out, &res); err != nil || len(res) != len(cases) {
		t.Fatalf("node verifier output %q: %v", out, err)
	}
	errs := make([]string, len(res))
	for i, r := range res {
		if !r.OK {
			errs[i] = r.Error
			if errs[i] == "" {
				errs[i] = "failed"
			}
		}
	}
	return errs
}

// signatures splits a webhook-signature header.
func signatures(h http.Header) []string { return strings.Fields(h.Get("webhook-signature")) }

// deliveriesOf lists every delivery of an endpoint with its log.
func deliveriesOf(t *testing.T, svc *webhook.Service, endpointID string) []webhook.Delivery {
	t.Helper()
	ds, _, err := svc.ListDeliveries(context.Background(), endpointID, webhook.DeliveryQuery{Limit: store.MaxLimit})
	if err != nil {
		t.Fatalf("ListDeliveries: %v", err)
	}
	return ds
}
