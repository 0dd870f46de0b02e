package auth

import (
	"crypto"
	"crypto/hmac"
	_ "crypto/sha256" // registers the hashes used to forge tokens
	_ "crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

const testWorkspace = "ws_test"

var (
	testSecret  = []byte("0123456789abcdef0123456789abcdef-workspace")
	otherSecret = []byte("fedcba9876543210fedcba9876543210-elsewhere")
	testNow     = time.Unix(1_700_000_000, 0)
)

func newTestIssuer(t testing.TB) *Issuer {
	t.Helper()
	iss, err := NewIssuer(testWorkspace, testSecret, func() time.Time { return testNow })
	if err != nil {
		t.Fatal(err)
	}
	return iss
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// forge builds a compact JWS by hand so tests control every byte. alg picks
// the MAC actually computed ("none" means an empty signature), independent of
// what the header claims.
func forge(header, payload, alg string, secret []byte) string {
	input := b64(header) + "." + b64(payload)
	var h crypto.Hash
	switch alg {
	case "none":
		return input + "."
	case "HS256":
		h = crypto.SHA256
	case "HS384":
		h = crypto.SHA384
	case "HS512":
		h = crypto.SHA512
	default:
		panic("forge: unknown alg " + alg)
	}
	mac := hmac.New(h.New, secret)
	mac.Write([]byte(input))
	return input + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// claims renders a payload from the standard valid one with fields overridden;
// a nil value deletes the field.
func claims(over map[string]any) string {
	c := map[string]any{
		"workspaceKey": testWorkspace,
		"tenantKey":    "tenant-1",
		"name":         "Acme",
		"iat":          testNow.Unix(),
		"exp":          testNow.Add(time.Hour).Unix(),
	}
	for k, v := range over {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	out, err := json.Marshal(c)
	if err != nil {
		panic(err)
	}
	return string(out)
}

const hs256 = `{"alg":"HS256","typ":"JWT"}`

func TestVerify(t *testing.T) {
	in := func(d time.Duration) int64 { return testNow.Add(d).Unix() }
	exp1h := time.Unix(in(time.Hour), 0)
	tenant := func(key, name string) *Principal {
		return &Principal{WorkspaceKey: testWorkspace, TenantKey: key, TenantName: name, ExpiresAt: exp1h}
	}
	longKey := strings.Repeat("k", 256)
	tests := []struct {
		name    string
		token   string
		want    *Principal // set when the token must verify
		wantErr error
	}{
		{"valid HS256", forge(hs256, claims(nil), "HS256", testSecret), tenant("tenant-1", "Acme"), nil},
		{"valid HS512", forge(`{"alg":"HS512"}`, claims(nil), "HS512", testSecret), tenant("tenant-1", "Acme"), nil},
		{"no typ header", forge(`{"alg":"HS256"}`, claims(nil), "HS256", testSecret), tenant("tenant-1", "Acme"), nil},
		{"no name", forge(hs256, claims(map[string]any{"name": nil}), "HS256", testSecret), tenant("tenant-1", ""), nil},
		{"admin", forge(hs256, claims(map[string]any{"tenantKey": nil, "name": nil, "isAdmin": true}), "HS256", testSecret),
			&Principal{WorkspaceKey: testWorkspace, Admin: true, ExpiresAt: exp1h}, nil},
		{"admin with tenant", forge(hs256, claims(map[string]any{"isAdmin": true}), "HS256", testSecret),
			&Principal{WorkspaceKey: testWorkspace, TenantKey: "tenant-1", TenantName: "Acme", Admin: true, ExpiresAt: exp1h}, nil},
		{"isAdmin false", forge(hs256, claims(map[string]any{"isAdmin": false}), "HS256", testSecret), tenant("tenant-1", "Acme"), nil},
		{"legacy iss", forge(hs256, claims(map[string]any{"workspaceKey": nil, "iss": testWorkspace}), "HS256", testSecret), tenant("tenant-1", "Acme"), nil},
		{"legacy id", forge(hs256, claims(map[string]any{"tenantKey": nil, "id": "legacy-7"}), "HS256", testSecret), tenant("legacy-7", "Acme"), nil},
		{"legacy iss and id", forge(hs256, claims(map[string]any{"workspaceKey": nil, "tenantKey": nil, "iss": testWorkspace, "id": "t"}), "HS256", testSecret), tenant("t", "Acme"), nil},
		{"workspaceKey wins over iss", forge(hs256, claims(map[string]any{"iss": "someone-else"}), "HS256", testSecret), tenant("tenant-1", "Acme"), nil},
		{"tenantKey wins over id", forge(hs256, claims(map[string]any{"id": 12}), "HS256", testSecret), tenant("tenant-1", "Acme"), nil},
		{"tenant 255 chars", forge(hs256, claims(map[string]any{"tenantKey": strings.Repeat("é", 255)}), "HS256", testSecret), tenant(strings.Repeat("é", 255), "Acme"), nil},
		{"tenant untrimmed", forge(hs256, claims(map[string]any{"tenantKey": " t "}), "HS256", testSecret), tenant(" t ", "Acme"), nil},
		{"exp exactly 24h", forge(hs256, claims(map[string]any{"exp": in(24 * time.Hour)}), "HS256", testSecret),
			&Principal{WorkspaceKey: testWorkspace, TenantKey: "tenant-1", TenantName: "Acme", ExpiresAt: time.Unix(in(24*time.Hour), 0)}, nil},
		{"exp 24h plus leeway", forge(hs256, claims(map[string]any{"exp": in(24*time.Hour + time.Minute)}), "HS256", testSecret),
			&Principal{WorkspaceKey: testWorkspace, TenantKey: "tenant-1", TenantName: "Acme", ExpiresAt: time.Unix(in(24*time.Hour+time.Minute), 0)}, nil},
		{"expired within leeway", forge(hs256, claims(map[string]any{"exp": in(-30 * time.Second)}), "HS256", testSecret),
			&Principal{WorkspaceKey: testWorkspace, TenantKey: "tenant-1", TenantName: "Acme", ExpiresAt: time.Unix(in(-30*time.Second), 0)}, nil},
		{"nbf past", forge(hs256, claims(map[string]any{"nbf": in(-time.Hour)}), "HS256", testSecret), tenant("tenant-1", "Acme"), nil},
		{"nbf within leeway", forge(hs256, claims(map[string]any{"nbf": in(30 * time.Second)}), "HS256", testSecret), tenant("tenant-1", "Acme"), nil},
		{"aud names workspace", forge(hs256, claims(map[string]any{"aud": testWorkspace}), "HS256", testSecret), tenant("tenant-1", "Acme"), nil},
		{"aud list names workspace", forge(hs256, claims(map[string]any{"aud": []string{"x", testWorkspace}}), "HS256", testSecret), tenant("tenant-1", "Acme"), nil},
		{"unknown claims ignored", forge(hs256, claims(map[string]any{"foo": map[string]any{"bar": 1}}), "HS256", testSecret), tenant("tenant-1", "Acme"), nil},

		// Algorithm and signature.
		{"alg none unsigned", forge(`{"alg":"none"}`, claims(nil), "none", nil), nil, ErrSignature},
		{"alg None unsigned", forge(`{"alg":"None"}`, claims(nil), "none", nil), nil, ErrSignature},
		{"alg none with mac", forge(`{"alg":"none"}`, claims(nil), "HS256", testSecret), nil, ErrSignature},
		{"HS384", forge(`{"alg":"HS384"}`, claims(nil), "HS384", testSecret), nil, ErrSignature},
		{"RS256 header, HMAC with secret", forge(`{"alg":"RS256"}`, claims(nil), "HS256", testSecret), nil, ErrSignature},
		{"ES256 header", forge(`{"alg":"ES256"}`, claims(nil), "HS256", testSecret), nil, ErrSignature},
		{"PS256 header", forge(`{"alg":"PS256"}`, claims(nil), "HS256", testSecret), nil, ErrSignature},
		{"EdDSA header", forge(`{"alg":"EdDSA"}`, claims(nil), "HS256", testSecret), nil, ErrSignature},
		{"unknown alg", forge(`{"alg":"HS1024"}`, claims(nil), "HS256", testSecret), nil, ErrSignature},
		{"header says HS512, signed HS256", forge(`{"alg":"HS512"}`, claims(nil), "HS256", testSecret), nil, ErrSignature},
		{"wrong secret", forge(hs256, claims(nil), "HS256", otherSecret), nil, ErrSignature},
		{"wrong secret and wrong types", forge(hs256, claims(map[string]any{"exp": "soon"}), "HS256", otherSecret), nil, ErrSignature},
		{"signature of other payload", swapPayload(forge(hs256, claims(nil), "HS256", testSecret), claims(map[string]any{"isAdmin": true})), nil, ErrSignature},
		{"empty signature", strings.TrimSuffix(forge(hs256, claims(nil), "none", nil), "."), nil, ErrMalformed},
		{"stripped signature", forge(hs256, claims(nil), "none", nil), nil, ErrSignature},

		// Shape.
		{"empty", "", nil, ErrMalformed},
		{"garbage", "not a token", nil, ErrMalformed},
		{"four segments", forge(hs256, claims(nil), "HS256", testSecret) + ".x", nil, ErrMalformed},
		{"padded segment", b64(hs256) + "=." + b64(claims(nil)) + ".c2ln", nil, ErrMalformed},
		{"standard base64 alphabet", stdAlphabetToken(t), nil, ErrMalformed},
		{"header not JSON", forge(`{alg:HS256}`, claims(nil), "HS256", testSecret), nil, ErrMalformed},
		{"header null", forge(`null`, claims(nil), "HS256", testSecret), nil, ErrMalformed},
		{"no alg", forge(`{"typ":"JWT"}`, claims(nil), "HS256", testSecret), nil, ErrMalformed},
		{"alg number", forge(`{"alg":256}`, claims(nil), "HS256", testSecret), nil, ErrMalformed},
		{"payload array", forge(hs256, `[1,2]`, "HS256", testSecret), nil, ErrMalformed},
		{"payload string", forge(hs256, `"x"`, "HS256", testSecret), nil, ErrMalformed},
		{"payload truncated", forge(hs256, `{"exp":1`, "HS256", testSecret), nil, ErrMalformed},
		{"crit header", forge(`{"alg":"HS256","crit":["exp"]}`, claims(nil), "HS256", testSecret), nil, ErrMalformed},
		{"too long", forge(hs256, claims(map[string]any{"pad": strings.Repeat("p", MaxTokenLen)}), "HS256", testSecret), nil, ErrMalformed},

		// Time.
		{"missing exp", forge(hs256, claims(map[string]any{"exp": nil}), "HS256", testSecret), nil, ErrClaims},
		{"exp zero", forge(hs256, claims(map[string]any{"exp": 0}), "HS256", testSecret), nil, ErrClaims},
		{"exp over 24h", forge(hs256, claims(map[string]any{"exp": in(24*time.Hour + 61*time.Second)}), "HS256", testSecret), nil, ErrClaims},
		{"exp far future", forge(hs256, claims(map[string]any{"exp": in(365 * 24 * time.Hour)}), "HS256", testSecret), nil, ErrClaims},
		{"expired", forge(hs256, claims(map[string]any{"exp": in(-61 * time.Second)}), "HS256", testSecret), nil, ErrExpired},
		{"expired long ago", forge(hs256, claims(map[string]any{"exp": 1}), "HS256", testSecret), nil, ErrExpired},
		{"nbf future", forge(hs256, claims(map[string]any{"nbf": in(2 * time.Minute)}), "HS256", testSecret), nil, ErrNotYetValid},

		// Workspace.
		{"wrong workspace", forge(hs256, claims(map[string]any{"workspaceKey": "ws_other"}), "HS256", testSecret), nil, ErrClaims},
		{"wrong legacy iss", forge(hs256, claims(map[string]any{"workspaceKey": nil, "iss": "ws_other"}), "HS256", testSecret), nil, ErrClaims},
		{"no workspace", forge(hs256, claims(map[string]any{"workspaceKey": nil}), "HS256", testSecret), nil, ErrClaims},
		{"empty workspace", forge(hs256, claims(map[string]any{"workspaceKey": ""}), "HS256", testSecret), nil, ErrClaims},
		{"workspace case", forge(hs256, claims(map[string]any{"workspaceKey": "WS_TEST"}), "HS256", testSecret), nil, ErrClaims},
		{"aud elsewhere", forge(hs256, claims(map[string]any{"aud": "other-service"}), "HS256", testSecret), nil, ErrClaims},

		// Tenant.
		{"tenant 256 chars", forge(hs256, claims(map[string]any{"tenantKey": longKey}), "HS256", testSecret), nil, ErrClaims},
		{"empty tenant", forge(hs256, claims(map[string]any{"tenantKey": ""}), "HS256", testSecret), nil, ErrClaims},
		{"empty legacy id", forge(hs256, claims(map[string]any{"tenantKey": nil, "id": ""}), "HS256", testSecret), nil, ErrClaims},
		{"missing tenant", forge(hs256, claims(map[string]any{"tenantKey": nil}), "HS256", testSecret), nil, ErrClaims},
		{"missing tenant, isAdmin false", forge(hs256, claims(map[string]any{"tenantKey": nil, "isAdmin": false}), "HS256", testSecret), nil, ErrClaims},
		{"tenant control char", forge(hs256, claims(map[string]any{"tenantKey": "a\u0007b"}), "HS256", testSecret), nil, ErrClaims},
		{"tenant newline", forge(hs256, claims(map[string]any{"tenantKey": "a\nb"}), "HS256", testSecret), nil, ErrClaims},
		{"tenant C1 control", forge(hs256, claims(map[string]any{"tenantKey": "a\u0085b"}), "HS256", testSecret), nil, ErrClaims},
		{"admin empty tenant", forge(hs256, claims(map[string]any{"tenantKey": "", "isAdmin": true}), "HS256", testSecret), nil, ErrClaims},

		// Type confusion.
		{"isAdmin string", forge(hs256, claims(map[string]any{"tenantKey": nil, "isAdmin": "true"}), "HS256", testSecret), nil, ErrClaims},
		{"isAdmin number", forge(hs256, claims(map[string]any{"isAdmin": 1}), "HS256", testSecret), nil, ErrClaims},
		{"exp string", forge(hs256, claims(map[string]any{"exp": "123"}), "HS256", testSecret), nil, ErrClaims},
		{"exp string of valid time", forge(hs256, claims(map[string]any{"exp": fmt.Sprint(in(time.Hour))}), "HS256", testSecret), nil, ErrClaims},
		{"exp null", forge(hs256, `{"workspaceKey":"ws_test","tenantKey":"t","exp":null}`, "HS256", testSecret), nil, ErrClaims},
		{"exp bool", forge(hs256, claims(map[string]any{"exp": true}), "HS256", testSecret), nil, ErrClaims},
		{"nbf string", forge(hs256, claims(map[string]any{"nbf": "0"}), "HS256", testSecret), nil, ErrClaims},
		{"iat string", forge(hs256, claims(map[string]any{"iat": "now"}), "HS256", testSecret), nil, ErrClaims},
		{"tenantKey number", forge(hs256, claims(map[string]any{"tenantKey": 42}), "HS256", testSecret), nil, ErrClaims},
		{"tenantKey array", forge(hs256, claims(map[string]any{"tenantKey": []string{"a"}}), "HS256", testSecret), nil, ErrClaims},
		{"tenantKey null", forge(hs256, `{"workspaceKey":"ws_test","tenantKey":null,"exp":1700003600}`, "HS256", testSecret), nil, ErrClaims},
		{"legacy id number", forge(hs256, claims(map[string]any{"tenantKey": nil, "id": 42}), "HS256", testSecret), nil, ErrClaims},
		{"workspaceKey number", forge(hs256, claims(map[string]any{"workspaceKey": 7}), "HS256", testSecret), nil, ErrClaims},
		{"iss number", forge(hs256, claims(map[string]any{"workspaceKey": nil, "iss": 7}), "HS256", testSecret), nil, ErrClaims},
		{"sub number", forge(hs256, claims(map[string]any{"sub": 7}), "HS256", testSecret), nil, ErrClaims},
		{"aud number", forge(hs256, claims(map[string]any{"aud": 7}), "HS256", testSecret), nil, ErrClaims},
		{"aud list with number", forge(hs256, claims(map[string]any{"aud": []any{testWorkspace, 1}}), "HS256", testSecret), nil, ErrClaims},
		{"aud empty list", forge(hs256, claims(map[string]any{"aud": []string{}}), "HS256", testSecret), nil, ErrClaims},
		{"name number", forge(hs256, claims(map[string]any{"name": 7}), "HS256", testSecret), nil, ErrClaims},
	}
	iss := newTestIssuer(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := iss.Verify(tc.token)
			if tc.want != nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if !got.ExpiresAt.Equal(tc.want.ExpiresAt) {
					t.Fatalf("ExpiresAt = %v, want %v", got.ExpiresAt, tc.want.ExpiresAt)
				}
				got.ExpiresAt = tc.want.ExpiresAt
				if got != *tc.want {
					t.Fatalf("Verify = %+v, want %+v", got, *tc.want)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Verify error = %v, want %v", err, tc.wantErr)
			}
			if got != (Principal{}) {
				t.Fatalf("failed Verify returned a principal: %+v", got)
			}
			assertNoTokenMaterial(t, err, tc.token)
		})
	}
}

// assertNoTokenMaterial fails if an error message quotes any segment of the token.
func assertNoTokenMaterial(t *testing.T, err error, token string) {
	t.Helper()
	msg := err.Error()
	for seg := range strings.SplitSeq(token, ".") {
		if len(seg) >= 8 && strings.Contains(msg, seg) {
			t.Fatalf("error %q quotes the token", msg)
		}
	}
	for _, secretish := range []string{"tenant-1", "Acme", string(testSecret)} {
		if strings.Contains(msg, secretish) {
			t.Fatalf("error %q quotes token contents", msg)
		}
	}
}

// stdAlphabetToken is correctly MACed but its header segment uses the
// standard base64 alphabet, which JWS does not allow.
func stdAlphabetToken(t *testing.T) string {
	header := `{"alg":"HS256","x":"?>?~~~"}`
	seg := base64.RawStdEncoding.EncodeToString([]byte(header))
	if !strings.ContainsAny(seg, "+/") {
		t.Fatalf("header %s encodes without + or /", seg)
	}
	input := seg + "." + b64(claims(nil))
	mac := hmac.New(crypto.SHA256.New, testSecret)
	mac.Write([]byte(input))
	return input + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func swapPayload(token, payload string) string {
	parts := strings.Split(token, ".")
	parts[1] = b64(payload)
	return strings.Join(parts, ".")
}

func TestVerifyClock(t *testing.T) {
	now := testNow
	iss, err := NewIssuer(testWorkspace, testSecret, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	tok, err := iss.Mint(Principal{TenantKey: "t"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		at      time.Duration
		wantErr error
	}{
		{0, nil},
		{59 * time.Minute, nil},
		{time.Hour + 59*time.Second, nil},
		{time.Hour + 61*time.Second, ErrExpired},
		{-2 * time.Minute, nil}, // iat in the future is not an error: it is not required
	}
	for _, s := range steps {
		now = testNow.Add(s.at)
		if _, err := iss.Verify(tok); !errors.Is(err, s.wantErr) || (s.wantErr == nil && err != nil) {
			t.Fatalf("at +%s: Verify = %v, want %v", s.at, err, s.wantErr)
		}
	}
}

func TestMint(t *testing.T) {
	iss := newTestIssuer(t)
	tests := []struct {
		name       string
		p          Principal
		ttl        time.Duration
		wantClaims map[string]any
	}{
		{"tenant", Principal{TenantKey: "t1", TenantName: "Acme"}, time.Hour, map[string]any{
			"workspaceKey": testWorkspace, "tenantKey": "t1", "name": "Acme",
			"iat": float64(testNow.Unix()), "exp": float64(testNow.Add(time.Hour).Unix()),
		}},
		{"tenant no name", Principal{WorkspaceKey: testWorkspace, TenantKey: "t1"}, time.Minute, map[string]any{
			"workspaceKey": testWorkspace, "tenantKey": "t1",
			"iat": float64(testNow.Unix()), "exp": float64(testNow.Add(time.Minute).Unix()),
		}},
		{"admin", Principal{Admin: true}, MaxTTL, map[string]any{
			"workspaceKey": testWorkspace, "isAdmin": true,
			"iat": float64(testNow.Unix()), "exp": float64(testNow.Add(MaxTTL).Unix()),
		}},
		{"admin with tenant", Principal{Admin: true, TenantKey: "t2"}, time.Hour, map[string]any{
			"workspaceKey": testWorkspace, "isAdmin": true, "tenantKey": "t2",
			"iat": float64(testNow.Unix()), "exp": float64(testNow.Add(time.Hour).Unix()),
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := iss.Mint(tc.p, tc.ttl)
			if err != nil {
				t.Fatal(err)
			}
			parts := strings.Split(tok, ".")
			if len(parts) != 3 {
				t.Fatalf("token has %d segments", len(parts))
			}
			var header, payload map[string]any
			decodeSegment(t, parts[0], &header)
			decodeSegment(t, parts[1], &payload)
			if header["alg"] != "HS256" {
				t.Fatalf("header = %v", header)
			}
			if fmt.Sprint(payload) != fmt.Sprint(tc.wantClaims) {
				t.Fatalf("claims = %v, want %v", payload, tc.wantClaims)
			}
			// An independent MAC over the signing input must match.
			if want := forge(decodeString(t, parts[0]), decodeString(t, parts[1]), "HS256", testSecret); want != tok {
				t.Fatal("signature is not HS256 under the workspace secret")
			}
			got, err := iss.Verify(tok)
			if err != nil {
				t.Fatalf("Verify(Mint) = %v", err)
			}
			want := tc.p
			want.WorkspaceKey = testWorkspace
			want.ExpiresAt = testNow.Add(tc.ttl)
			if got != want {
				t.Fatalf("Verify(Mint) = %+v, want %+v", got, want)
			}
		})
	}
}

func TestMintRefuses(t *testing.T) {
	iss := newTestIssuer(t)
	tests := []struct {
		name string
		p    Principal
		ttl  time.Duration
	}{
		{"zero ttl", Principal{TenantKey: "t"}, 0},
		{"negative ttl", Principal{TenantKey: "t"}, -time.Second},
		{"ttl over 24h", Principal{TenantKey: "t"}, MaxTTL + time.Second},
		{"no tenant", Principal{TenantName: "n"}, time.Hour},
		{"long tenant", Principal{TenantKey: strings.Repeat("x", 256)}, time.Hour},
		{"control tenant", Principal{TenantKey: "a\x00"}, time.Hour},
		{"other workspace", Principal{WorkspaceKey: "ws_other", TenantKey: "t"}, time.Hour},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tok, err := iss.Mint(tc.p, tc.ttl); err == nil {
				t.Fatalf("Mint succeeded: %s", tok)
			}
		})
	}
}

func TestNewIssuer(t *testing.T) {
	if _, err := NewIssuer(testWorkspace, testSecret[:31], nil); err == nil {
		t.Fatal("accepted a 31-byte secret")
	}
	if _, err := NewIssuer("", testSecret, nil); err == nil {
		t.Fatal("accepted an empty workspace key")
	}
	secret := []byte(string(testSecret))
	iss, err := NewIssuer(testWorkspace, secret, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := iss.Mint(Principal{TenantKey: "t"}, time.Minute) // real clock
	if err != nil {
		t.Fatal(err)
	}
	clear(secret)
	if _, err := iss.Verify(tok); err != nil {
		t.Fatalf("issuer depends on the caller's secret slice: %v", err)
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		if out := fmt.Sprintf(verb, iss); strings.Contains(out, string(testSecret[:16])) {
			t.Fatalf("%s prints the secret: %s", verb, out)
		}
	}
}

func TestSentinelsAreDistinct(t *testing.T) {
	all := []error{ErrMalformed, ErrSignature, ErrExpired, ErrNotYetValid, ErrClaims}
	for i, a := range all {
		for j, b := range all {
			if i != j && errors.Is(a, b) {
				t.Fatalf("%v matches %v", a, b)
			}
		}
	}
}

func decodeString(t *testing.T, seg string) string {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func decodeSegment(t *testing.T, seg string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(decodeString(t, seg)), v); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkVerify(b *testing.B) {
	iss := newTestIssuer(b)
	tok, err := iss.Mint(Principal{TenantKey: "tenant-1", TenantName: "Acme"}, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := iss.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyFirstSight is a token's first verification: parse, MAC and claims.
func BenchmarkVerifyFirstSight(b *testing.B) {
	iss := newTestIssuer(b)
	tok, err := iss.Mint(Principal{TenantKey: "tenant-1", TenantName: "Acme"}, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		clear(iss.accepted)
		if _, err := iss.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyRejectForged(b *testing.B) {
	iss := newTestIssuer(b)
	tok := forge(hs256, claims(nil), "HS256", otherSecret)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := iss.Verify(tok); !errors.Is(err, ErrSignature) {
			b.Fatal(err)
		}
	}
}

// TestVerifyRemembersOnlyWhatTheClockAllows: a token that verified once is accepted from memory with the
// same principal, but every time rule is applied again on each call, and rejections are never remembered.
func TestVerifyRemembersOnlyWhatTheClockAllows(t *testing.T) {
	now := testNow
	iss, err := NewIssuer(testWorkspace, testSecret, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	tok := forge(hs256, claims(map[string]any{"nbf": testNow.Add(10 * time.Minute).Unix()}), "HS256", testSecret)
	steps := []struct {
		at      time.Duration
		wantErr error
	}{
		{0, ErrNotYetValid},
		{9 * time.Minute, nil}, // within the leeway of nbf
		{20 * time.Minute, nil},
		{8 * time.Minute, ErrNotYetValid}, // the clock went back before nbf's leeway: remembered or not, refused
		{30 * time.Minute, nil},
		{time.Hour + 61*time.Second, ErrExpired},
		{-24 * time.Hour, ErrNotYetValid},
	}
	var first Principal
	for _, s := range steps {
		now = testNow.Add(s.at)
		p, err := iss.Verify(tok)
		if !errors.Is(err, s.wantErr) || (s.wantErr == nil && err != nil) {
			t.Fatalf("at +%s: Verify = %v, want %v", s.at, err, s.wantErr)
		}
		if err == nil {
			if first.TenantKey == "" {
				first = p
			} else if p != first {
				t.Fatalf("at +%s: remembered principal %+v, first %+v", s.at, p, first)
			}
		}
	}

	// A token more than 24 h ahead is refused whether or not it was remembered.
	now = testNow
	far := forge(hs256, claims(map[string]any{"exp": testNow.Add(MaxTTL).Unix()}), "HS256", testSecret)
	if _, err := iss.Verify(far); err != nil {
		t.Fatal(err)
	}
	now = testNow.Add(-2 * time.Minute)
	if _, err := iss.Verify(far); !errors.Is(err, ErrClaims) {
		t.Fatalf("remembered token now more than 24 h ahead: %v, want ErrClaims", err)
	}

	// The memory is bounded.
	now = testNow
	for n := range maxAccepted + 10 {
		tok := forge(hs256, claims(map[string]any{"tenantKey": fmt.Sprint("t", n)}), "HS256", testSecret)
		if _, err := iss.Verify(tok); err != nil {
			t.Fatal(err)
		}
	}
	iss.mu.RLock()
	n := len(iss.accepted)
	iss.mu.RUnlock()
	if n > maxAccepted {
		t.Fatalf("%d tokens remembered, bound %d", n, maxAccepted)
	}
}
