package auth

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func FuzzVerify(f *testing.F) {
	iss := newTestIssuer(f)
	valid, err := iss.Mint(Principal{TenantKey: "tenant-1", TenantName: "Acme"}, time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	admin, _ := iss.Mint(Principal{Admin: true}, time.Hour)
	for _, seed := range []string{
		valid,
		admin,
		forge(`{"alg":"HS512"}`, claims(nil), "HS512", testSecret),
		forge(`{"alg":"none"}`, claims(nil), "none", nil),
		forge(`{"alg":"RS256"}`, claims(nil), "HS256", testSecret),
		forge(hs256, claims(map[string]any{"isAdmin": "true", "tenantKey": nil}), "HS256", testSecret),
		forge(hs256, claims(map[string]any{"exp": "123"}), "HS256", testSecret),
		forge(hs256, claims(map[string]any{"workspaceKey": nil, "iss": testWorkspace, "tenantKey": nil, "id": "x"}), "HS256", testSecret),
		"",
		"a.b.c",
		"..",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, token string) {
		checkVerify(t, iss, token)
	})
}

// FuzzVerifyClaims signs fuzzed headers and payloads with the real secret, so
// that inputs get past the signature and exercise claim validation.
func FuzzVerifyClaims(f *testing.F) {
	iss := newTestIssuer(f)
	for _, seed := range []struct{ header, payload string }{
		{hs256, claims(nil)},
		{`{"alg":"HS512"}`, claims(map[string]any{"tenantKey": nil, "isAdmin": true})},
		{hs256, claims(map[string]any{"workspaceKey": nil, "iss": testWorkspace, "tenantKey": nil, "id": "x"})},
		{hs256, claims(map[string]any{"exp": "123", "isAdmin": "true"})},
		{hs256, claims(map[string]any{"aud": []string{testWorkspace}, "nbf": testNow.Unix()})},
		{hs256, `{"workspaceKey":"ws_test","tenantKey":"t","exp":1700003600.5}`},
		{`{"alg":"HS256","crit":[]}`, claims(nil)},
	} {
		f.Add(seed.header, seed.payload)
	}
	f.Fuzz(func(t *testing.T, header, payload string) {
		alg := "HS256"
		if strings.Contains(header, "HS512") {
			alg = "HS512"
		}
		checkVerify(t, iss, forge(header, payload, alg, testSecret))
	})
}

func checkVerify(t *testing.T, iss *Issuer, token string) {
	t.Helper()
	sentinels := []error{ErrMalformed, ErrSignature, ErrExpired, ErrNotYetValid, ErrClaims}
	p, err := iss.Verify(token)
	if err != nil {
		n := 0
		for _, s := range sentinels {
			if errors.Is(err, s) {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("error %q matches %d sentinels, want exactly 1", err, n)
		}
		if len(token) >= 16 && strings.Contains(err.Error(), token) {
			t.Fatalf("error quotes the token")
		}
		if p != (Principal{}) {
			t.Fatalf("failed Verify returned %+v", p)
		}
		return
	}
	// Anything accepted must satisfy the contract, whoever produced it.
	var header map[string]any
	if seg, _, _ := strings.Cut(token, "."); json.Unmarshal(mustDecode(t, seg), &header) != nil {
		t.Fatal("accepted a token whose header is not a JSON object")
	}
	if alg := header["alg"]; alg != "HS256" && alg != "HS512" {
		t.Fatalf("accepted alg %v", alg)
	}
	if _, ok := header["crit"]; ok {
		t.Fatal("accepted a crit header")
	}
	if p.WorkspaceKey != testWorkspace {
		t.Fatalf("accepted workspace %q", p.WorkspaceKey)
	}
	if !p.Admin && p.TenantKey == "" {
		t.Fatal("accepted a tenant token without tenantKey")
	}
	if p.TenantKey != "" && (utf8.RuneCountInString(p.TenantKey) > MaxTenantKeyLen || !utf8.ValidString(p.TenantKey)) {
		t.Fatalf("accepted tenantKey of %d characters", utf8.RuneCountInString(p.TenantKey))
	}
	if d := p.ExpiresAt.Sub(testNow); d > MaxTTL+time.Minute || d < -time.Minute {
		t.Fatalf("accepted exp %s from now", d)
	}
	if len(token) > MaxTokenLen {
		t.Fatal("accepted an oversized token")
	}
}

func mustDecode(t *testing.T, seg string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatalf("accepted a token with an undecodable segment: %v", err)
	}
	return b
}
