package webhook_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/hitchdev/hitch/internal/webhook"
)

// The published test vector of the Standard Webhooks libraries.
const (
	vectorSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorTimestamp = 1614265330
	vectorPayload   = `{"test": 2432232314}`
	vectorSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func TestSignMatchesPublishedVector(t *testing.T) {
	s, err := webhook.NewSigner(vectorSecret)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Sign(vectorID, time.Unix(vectorTimestamp, 0), []byte(vectorPayload))
	if err != nil || got != vectorSignature {
		t.Fatalf("Sign = %q, %v; want %q", got, err, vectorSignature)
	}
	// And by hand, from the spec's definition: base64(HMAC-SHA256(key, id.timestamp.body)).
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(vectorSecret, "whsec_"))
	m := hmac.New(sha256.New, key)
	m.Write([]byte(vectorID + "." + strconv.Itoa(vectorTimestamp) + "." + vectorPayload))
	if want := "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil)); want != got {
		t.Fatalf("hand-computed %q differs from %q", want, got)
	}
}

func TestSignWithSeveralSecrets(t *testing.T) {
	a, b := webhook.NewSecret(), webhook.NewSecret()
	s, err := webhook.NewSigner(a, b)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now()
	body := []byte(`{"type":"connection.created"}`)
	header, err := s.Sign("evt_1", at, body)
	if err != nil {
		t.Fatal(err)
	}
	if sigs := strings.Fields(header); len(sigs) != 2 || !strings.HasPrefix(sigs[0], "v1,") || !strings.HasPrefix(sigs[1], "v1,") {
		t.Fatalf("header %q: want two space-separated v1 signatures", header)
	}
	h := http.Header{}
	h.Set("webhook-id", "evt_1")
	h.Set("webhook-timestamp", strconv.FormatInt(at.Unix(), 10))
	h.Set("webhook-signature", header)
	for _, secret := range []string{a, b} {
		wh, _ := standardwebhooks.NewWebhook(secret)
		if err := wh.Verify(body, h); err != nil {
			t.Errorf("official verifier refuses a signature: %v", err)
		}
	}
	other, _ := standardwebhooks.NewWebhook(webhook.NewSecret())
	if err := other.Verify(body, h); err == nil {
		t.Error("a third secret verified")
	}
	if err := (func() error { wh, _ := standardwebhooks.NewWebhook(a); return wh.Verify([]byte(`{"type":"x"}`), h) })(); err == nil {
		t.Error("a changed body verified")
	}
}

func TestCheckSecret(t *testing.T) {
	tests := []struct {
		name   string
		secret string
		ok     bool
	}{
		{"generated", webhook.NewSecret(), true},
		{"vector (24 bytes)", vectorSecret, true},
		{"64 bytes", "whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 64)), true},
		{"no prefix", strings.TrimPrefix(vectorSecret, "whsec_"), false},
		{"too short", "whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 23)), false},
		{"too long", "whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 65)), false},
		{"not base64", "whsec_not*base64*at*all*xxxxxxxxxxxxxxxxx", false},
		{"url alphabet", "whsec_" + base64.URLEncoding.EncodeToString([]byte(strings.Repeat("\xfb\xff", 16))), false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := webhook.CheckSecret(tt.secret)
			if (err == nil) != tt.ok {
				t.Fatalf("CheckSecret = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, webhook.ErrInvalidSecret) {
				t.Fatalf("error %v is not ErrInvalidSecret", err)
			}
			if err != nil && len(tt.secret) > 10 && strings.Contains(err.Error(), tt.secret[6:]) {
				t.Fatalf("error repeats the secret: %v", err)
			}
		})
	}
}

func TestSignerRefusesAmbiguousIDs(t *testing.T) {
	s, _ := webhook.NewSigner(webhook.NewSecret())
	for _, id := range []string{"evt.1", "evt 1"} {
		if _, err := s.Sign(id, time.Now(), []byte("{}")); err == nil {
			t.Errorf("Sign(%q) succeeded", id)
		}
	}
	if _, err := webhook.NewSigner(); err == nil {
		t.Error("a signer without secrets was built")
	}
	if _, err := webhook.NewSigner("whsec_short"); !errors.Is(err, webhook.ErrInvalidSecret) {
		t.Errorf("bad secret: %v", err)
	}
}
