package webhook_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hitchdev/hitch/internal/fault"
	"github.com/hitchdev/hitch/internal/store"
	"github.com/hitchdev/hitch/internal/store/storetest"
	"github.com/hitchdev/hitch/internal/webhook"
)

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func faultCode(err error) string {
	if fe, ok := fault.As(err); ok {
		return fe.Code
	}
	return ""
}

func TestEndpointSecretsAreSealedAndNeverLogged(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		keys, _ := newKeys(t)
		var logs syncBuffer
		clk := newClock(tStart)
		svc := webhook.NewService(webhook.Options{Store: s, Keys: keys, Now: clk.Now, Log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
		ep, secret := createEndpoint(t, svc, "https://hooks.example/in", "connection.created")
		if !strings.HasPrefix(secret, "whsec_") || webhook.CheckSecret(secret) != nil {
			t.Fatalf("generated secret %q", secret)
		}
		_, rotated, err := svc.RotateSecret(ctx, ep.ID, webhook.RotateInput{})
		if err != nil {
			t.Fatal(err)
		}
		envSecret := webhook.NewSecret()
		if err := svc.SyncEnvEndpoint(ctx, "https://env.example/hook", envSecret); err != nil {
			t.Fatal(err)
		}
		var rows []struct {
			Secrets []byte `db:"secrets"`
			KeyID   string `db:"key_id"`
		}
		if err := s.DB().Select(&rows, "SELECT secrets, key_id FROM webhook_endpoints"); err != nil || len(rows) != 2 {
			t.Fatalf("rows %d %v", len(rows), err)
		}
		for _, r := range rows {
			if r.KeyID != keys.CurrentID() {
				t.Errorf("key_id %q, want %q", r.KeyID, keys.CurrentID())
			}
			for _, sec := range []string{secret, rotated, envSecret} {
				if bytes.Contains(r.Secrets, []byte(strings.TrimPrefix(sec, "whsec_"))) {
					t.Fatal("a secret is stored in the clear")
				}
			}
		}
		for _, sec := range []string{secret, rotated, envSecret} {
			if strings.Contains(logs.String(), strings.TrimPrefix(sec, "whsec_")) {
				t.Fatalf("a secret was logged: %s", logs.String())
			}
		}
		got, err := svc.GetEndpoint(ctx, ep.ID)
		if err != nil || len(got.Secrets) != 2 || got.Secrets[0].ExpiresAt != nil || got.Secrets[1].ExpiresAt == nil ||
			!got.Secrets[1].ExpiresAt.Equal(tStart.Add(webhook.DefaultRotationGrace)) {
			t.Fatalf("after rotation %+v %v", got, err)
		}
		clk.Advance(webhook.DefaultRotationGrace)
		if got, _ := svc.GetEndpoint(ctx, ep.ID); len(got.Secrets) != 1 {
			t.Fatalf("old secret still listed after its grace: %+v", got.Secrets)
		}
		zero := time.Duration(0)
		if got, _, err := svc.RotateSecret(ctx, ep.ID, webhook.RotateInput{Grace: &zero}); err != nil || len(got.Secrets) != 1 {
			t.Fatalf("rotation without grace: %+v %v", got.Secrets, err)
		}
		own := webhook.NewSecret()
		if _, back, err := svc.RotateSecret(ctx, ep.ID, webhook.RotateInput{Secret: own}); err != nil || back != own {
			t.Fatalf("rotation to a given secret: %v", err)
		}
		if _, _, err := svc.RotateSecret(ctx, webhook.EnvEndpointID, webhook.RotateInput{}); faultCode(err) != "endpoint_managed_by_env" {
			t.Fatalf("rotating the env endpoint: %v", err)
		}
		if _, _, err := svc.RotateSecret(ctx, "whe_nope", webhook.RotateInput{}); faultCode(err) != "endpoint_not_found" {
			t.Fatalf("rotating an unknown endpoint: %v", err)
		}
	})
}

func TestEndpointValidation(t *testing.T) {
	s := storetest.Open(t, store.FlavorSQLite)
	keys, _ := newKeys(t)
	svc := webhook.NewService(webhook.Options{Store: s, Keys: keys, Log: quietLog()})
	long := "https://x.example/" + strings.Repeat("a", 2100)
	tests := []struct {
		name string
		in   webhook.EndpointInput
		code string
	}{
		{"ok", webhook.EndpointInput{URL: "https://hooks.example/in?x=1"}, ""},
		{"http is allowed", webhook.EndpointInput{URL: "http://127.0.0.1:9000/in"}, ""},
		{"missing url", webhook.EndpointInput{}, "invalid_url"},
		{"relative", webhook.EndpointInput{URL: "/hooks"}, "invalid_url"},
		{"ftp", webhook.EndpointInput{URL: "ftp://hooks.example/in"}, "invalid_url"},
		{"no host", webhook.EndpointInput{URL: "https:///in"}, "invalid_url"},
		{"credentials", webhook.EndpointInput{URL: "https://u:p@hooks.example/in"}, "invalid_url"},
		{"fragment", webhook.EndpointInput{URL: "https://hooks.example/in#x"}, "invalid_url"},
		{"too long", webhook.EndpointInput{URL: long}, "invalid_url"},
		{"cloud metadata", webhook.EndpointInput{URL: "http://169.254.169.254/latest/meta-data/"}, "invalid_url"},
		{"link-local IPv6", webhook.EndpointInput{URL: "http://[fe80::1]/in"}, "invalid_url"},
		{"IPv4-mapped metadata", webhook.EndpointInput{URL: "http://[::ffff:169.254.169.254]/in"}, "invalid_url"},
		{"unspecified", webhook.EndpointInput{URL: "http://0.0.0.0:9000/in"}, "invalid_url"},
		{"private network is allowed", webhook.EndpointInput{URL: "http://10.0.0.5:8080/in"}, ""},
		{"unknown event type", webhook.EndpointInput{URL: "https://hooks.example/in", EventTypes: []string{"connection.updated"}}, "invalid_event_type"},
		{"bad secret", webhook.EndpointInput{URL: "https://hooks.example/in", Secret: "whsec_tooshort"}, "invalid_secret"},
		{"control character", webhook.EndpointInput{URL: "https://hooks.example/in", Description: "a\nb"}, "invalid_description"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := svc.CreateEndpoint(context.Background(), tt.in)
			if got := faultCode(err); got != tt.code || (tt.code == "" && err != nil) {
				t.Fatalf("CreateEndpoint: %v (code %q), want %q", err, got, tt.code)
			}
			if err != nil && tt.in.Secret != "" && strings.Contains(err.Error(), tt.in.Secret) {
				t.Fatal("the error repeats the secret")
			}
		})
	}
	e, _, _ := svc.CreateEndpoint(context.Background(), webhook.EndpointInput{URL: "https://hooks.example/a", EventTypes: []string{"connection.created", "connection.created"}})
	if len(e.EventTypes) != 1 {
		t.Fatalf("duplicate event types kept: %v", e.EventTypes)
	}
	bad := "connection.nope"
	if _, err := svc.UpdateEndpoint(context.Background(), e.ID, webhook.EndpointPatch{EventTypes: &[]string{bad}}); faultCode(err) != "invalid_event_type" {
		t.Fatalf("patch with a bad type: %v", err)
	}
}

func TestSyncEnvEndpoint(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		keys, _ := newKeys(t)
		clk := newClock(tStart)
		svc := webhook.NewService(webhook.Options{Store: s, Keys: keys, Now: clk.Now, Log: quietLog()})
		first := webhook.NewSecret()

		if err := svc.SyncEnvEndpoint(ctx, "", ""); err != nil {
			t.Fatalf("nothing configured: %v", err)
		}
		if _, err := svc.GetEndpoint(ctx, webhook.EnvEndpointID); faultCode(err) != "endpoint_not_found" {
			t.Fatalf("an env endpoint exists without configuration: %v", err)
		}
		if err := svc.SyncEnvEndpoint(ctx, "https://env.example/a", first); err != nil {
			t.Fatal(err)
		}
		e, err := svc.GetEndpoint(ctx, webhook.EnvEndpointID)
		if err != nil || e.Source != store.WebhookSourceEnv || e.URL != "https://env.example/a" || e.DisabledAt != nil || len(e.Secrets) != 1 {
			t.Fatalf("created %+v %v", e, err)
		}
		clk.Advance(time.Minute)
		if err := svc.SyncEnvEndpoint(ctx, "https://env.example/a", first); err != nil {
			t.Fatal(err)
		}
		if again, _ := svc.GetEndpoint(ctx, webhook.EnvEndpointID); !again.UpdatedAt.Equal(e.UpdatedAt) {
			t.Fatal("an unchanged configuration rewrote the endpoint")
		}
		// Disabled (as by a 410): a restart with the same settings leaves it disabled.
		if _, err := svc.DisableEndpoint(ctx, webhook.EnvEndpointID); err != nil {
			t.Fatal(err)
		}
		if err := svc.SyncEnvEndpoint(ctx, "https://env.example/a", first); err != nil {
			t.Fatal(err)
		}
		if again, _ := svc.GetEndpoint(ctx, webhook.EnvEndpointID); again.DisabledAt == nil {
			t.Fatal("a restart re-enabled an endpoint disabled on purpose")
		}
		// A new secret rotates in (the old one keeps signing for the grace) and enables it again.
		second := webhook.NewSecret()
		if err := svc.SyncEnvEndpoint(ctx, "https://env.example/a", second); err != nil {
			t.Fatal(err)
		}
		e, _ = svc.GetEndpoint(ctx, webhook.EnvEndpointID)
		if e.DisabledAt != nil || len(e.Secrets) != 2 || e.Secrets[1].ExpiresAt == nil {
			t.Fatalf("after a secret change %+v", e)
		}
		// The URL is the environment's to change, not the API's; the filter is the API's.
		other := "https://other.example/x"
		if _, err := svc.UpdateEndpoint(ctx, webhook.EnvEndpointID, webhook.EndpointPatch{URL: &other}); faultCode(err) != "endpoint_managed_by_env" {
			t.Fatalf("patching the env URL: %v", err)
		}
		types := []string{"connection.deleted"}
		if got, err := svc.UpdateEndpoint(ctx, webhook.EnvEndpointID, webhook.EndpointPatch{EventTypes: &types}); err != nil || len(got.EventTypes) != 1 {
			t.Fatalf("patching the env filter: %+v %v", got, err)
		}
		if err := svc.SyncEnvEndpoint(ctx, "https://env.example/b", second); err != nil {
			t.Fatal(err)
		}
		if e, _ := svc.GetEndpoint(ctx, webhook.EnvEndpointID); e.URL != "https://env.example/b" || len(e.EventTypes) != 1 {
			t.Fatalf("after a URL change %+v", e)
		}
		// Unset: disabled, not deleted (its delivery log stays).
		if err := svc.SyncEnvEndpoint(ctx, "", ""); err != nil {
			t.Fatal(err)
		}
		if e, _ := svc.GetEndpoint(ctx, webhook.EnvEndpointID); e.DisabledAt == nil {
			t.Fatal("the env endpoint stays enabled after HITCH_WEBHOOK_URL was removed")
		}
		if err := svc.SyncEnvEndpoint(ctx, "https://env.example/b", "whsec_bad"); err == nil || strings.Contains(err.Error(), "whsec_bad") {
			t.Fatalf("bad env secret: %v", err)
		}
	})
}

func TestSyncEnvEndpointConcurrently(t *testing.T) {
	s := storetest.Open(t, store.FlavorPostgres)
	keys, _ := newKeys(t)
	secret := webhook.NewSecret()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			svc := webhook.NewService(webhook.Options{Store: s, Keys: keys, Log: quietLog()})
			errs <- svc.SyncEnvEndpoint(context.Background(), "https://env.example/a", secret)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("replicas starting together: %v", err)
		}
	}
}
