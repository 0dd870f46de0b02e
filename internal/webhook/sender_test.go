package webhook_test

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/hitchdev/hitch/internal/webhook"
)

func TestSend(t *testing.T) {
	secret := webhook.NewSecret()
	signer, _ := webhook.NewSigner(secret)
	body := []byte(`{"type":"connection.created","timestamp":"2026-05-01T12:00:00Z","data":{"connection":{"id":"con_1"}}}`)
	hang := make(chan struct{})
	t.Cleanup(func() { close(hang) })

	tests := []struct {
		name    string
		respond func(w http.ResponseWriter, r *http.Request)
		check   func(t *testing.T, r webhook.Result)
	}{
		{"2xx", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusAccepted)
			_, _ = w.Write([]byte("thanks"))
		}, func(t *testing.T, r webhook.Result) {
			if !r.OK() || r.StatusCode != 202 || r.Excerpt != "thanks" || r.Err != "" {
				t.Fatalf("%+v", r)
			}
		}},
		{"redirect is not followed", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/elsewhere" {
				t.Error("the redirect was followed")
			}
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		}, func(t *testing.T, r webhook.Result) {
			if r.OK() || r.StatusCode != 302 || !strings.Contains(r.Err, "redirect") {
				t.Fatalf("%+v", r)
			}
		}},
		{"answer is capped", func(w http.ResponseWriter, r *http.Request) {
			chunk := []byte(strings.Repeat("x", 32<<10))
			for range 64 { // 2 MiB, far past the read cap
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		}, func(t *testing.T, r webhook.Result) {
			if !r.OK() || len(r.Excerpt) != 1024 {
				t.Fatalf("status %d, excerpt of %d bytes", r.StatusCode, len(r.Excerpt))
			}
		}},
		{"timeout", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-hang:
			}
		}, func(t *testing.T, r webhook.Result) {
			if r.OK() || r.StatusCode != 0 || !strings.Contains(r.Err, "timed out") || r.Latency > 2*time.Second {
				t.Fatalf("%+v", r)
			}
		}},
		{"connection closed", func(w http.ResponseWriter, r *http.Request) {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				_ = conn.Close()
			}
		}, func(t *testing.T, r webhook.Result) {
			if r.OK() || r.StatusCode != 0 || r.Err == "" {
				t.Fatalf("%+v", r)
			}
		}},
		{"429 with Retry-After", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "90")
			w.WriteHeader(http.StatusTooManyRequests)
		}, func(t *testing.T, r webhook.Result) {
			if r.OK() || r.StatusCode != 429 || r.RetryAfter != 90*time.Second {
				t.Fatalf("%+v", r)
			}
		}},
		{"500 ignores Retry-After", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "90")
			w.WriteHeader(http.StatusInternalServerError)
		}, func(t *testing.T, r webhook.Result) {
			if r.OK() || r.StatusCode != 500 || r.RetryAfter != 0 {
				t.Fatalf("%+v", r)
			}
		}},
		{"410", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusGone) }, func(t *testing.T, r webhook.Result) {
			if !r.Gone() || r.OK() {
				t.Fatalf("%+v", r)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := newReceiver(t, nil, func(_ int, w http.ResponseWriter, r *http.Request, _ []byte) { tt.respond(w, r) })
			s := webhook.NewSender(300*time.Millisecond, nil)
			at := time.Now()
			res := s.Send(context.Background(), webhook.Message{ID: "evt_abc", URL: rc.URL() + "?token=s3cret", Body: body, Signer: signer, At: at})
			tt.check(t, res)
			if strings.Contains(res.Err, "s3cret") || strings.Contains(res.Err, rc.srv.URL) {
				t.Fatalf("error mentions the URL: %q", res.Err)
			}
			got := rc.all()
			if len(got) == 0 {
				t.Fatal("nothing received")
			}
			h := got[0].Header
			if h.Get("User-Agent") != "Hitch-Webhooks/1" || h.Get("Content-Type") != "application/json" ||
				h.Get("webhook-id") != "evt_abc" || h.Get("webhook-timestamp") != strconv.FormatInt(at.Unix(), 10) {
				t.Fatalf("headers %v", h)
			}
			if string(got[0].Body) != string(body) {
				t.Fatalf("body changed in transit: %s", got[0].Body)
			}
			wh, _ := standardwebhooks.NewWebhook(secret)
			if err := wh.Verify(got[0].Body, h); err != nil {
				t.Fatalf("official verifier: %v", err)
			}
		})
	}
}

func TestSendNetworkError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close() // nothing listens there now
	signer, _ := webhook.NewSigner(webhook.NewSecret())
	res := webhook.NewSender(time.Second, nil).Send(context.Background(), webhook.Message{ID: "evt_1", URL: "http://" + addr + "/x", Body: []byte("{}"), Signer: signer, At: time.Now()})
	if res.OK() || res.StatusCode != 0 || res.Err == "" || strings.Contains(res.Err, addr+"/x") {
		t.Fatalf("%+v", res)
	}
}

// A name that resolves to a forbidden address is refused when dialling, after DNS, so a hostname (or a
// rebinding DNS answer) cannot reach what a literal address could not. localhost's IPv4 stays allowed.
func TestSendRefusesForbiddenAddresses(t *testing.T) {
	signer, _ := webhook.NewSigner(webhook.NewSecret())
	for _, url := range []string{"http://169.254.169.254/latest/meta-data/", "http://[fe80::1%25lo]:9/x", "http://0.0.0.0:9/x", "http://224.0.0.1:9/x"} {
		res := webhook.NewSender(2*time.Second, nil).Send(context.Background(), webhook.Message{ID: "evt_1", URL: url, Body: []byte("{}"), Signer: signer, At: time.Now()})
		if res.OK() || res.StatusCode != 0 || !strings.Contains(res.Err, "link-local, multicast or unspecified") {
			t.Errorf("%s: %+v; want refused before connecting", url, res)
		}
	}
}
