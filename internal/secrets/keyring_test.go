package secrets

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func mustGenerate(t testing.TB, id string) string {
	t.Helper()
	spec, err := Generate(id)
	if err != nil {
		t.Fatalf("Generate(%q): %v", id, err)
	}
	return spec
}

func mustParse(t testing.TB, spec string) *KeyRing {
	t.Helper()
	r, err := Parse(spec)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return r
}

func TestSealOpenRoundTrip(t *testing.T) {
	r := mustParse(t, mustGenerate(t, "main"))
	tests := []struct {
		name       string
		plain, aad []byte
	}{
		{"empty", nil, nil},
		{"text", []byte("refresh-token-value"), []byte("conn_123")},
		{"binary", bytes.Repeat([]byte{0, 255, 7}, 1000), []byte("conn_456")},
		{"no aad", []byte("x"), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sealed, err := r.Seal(tc.plain, tc.aad)
			if err != nil {
				t.Fatal(err)
			}
			if len(tc.plain) > 3 && bytes.Contains(sealed, tc.plain) {
				t.Fatal("sealed output contains the plaintext")
			}
			got, err := r.Open(sealed, tc.aad)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tc.plain) {
				t.Fatalf("Open = %q, want %q", got, tc.plain)
			}
			if id, err := r.KeyID(sealed); err != nil || id != "main" {
				t.Fatalf("KeyID = %q, %v", id, err)
			}
		})
	}
}

func TestSealFormat(t *testing.T) {
	r := mustParse(t, mustGenerate(t, "abc"))
	plain := []byte("hello")
	sealed, err := r.Seal(plain, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sealed[0] != 1 || sealed[1] != 3 || string(sealed[2:5]) != "abc" {
		t.Fatalf("header = %v", sealed[:5])
	}
	if want := 1 + 1 + 3 + 12 + len(plain) + 16; len(sealed) != want {
		t.Fatalf("len = %d, want %d", len(sealed), want)
	}
	again, _ := r.Seal(plain, nil)
	if bytes.Equal(sealed[5:17], again[5:17]) {
		t.Fatal("two seals used the same nonce")
	}
}

func TestOpenWrongAAD(t *testing.T) {
	r := mustParse(t, mustGenerate(t, "k"))
	a, _ := r.Seal([]byte("secret A"), []byte("conn_a"))
	b, _ := r.Seal([]byte("secret B"), []byte("conn_b"))
	for _, tc := range []struct {
		name   string
		sealed []byte
		aad    string
	}{
		{"swapped a", a, "conn_b"},
		{"swapped b", b, "conn_a"},
		{"missing aad", a, ""},
		{"prefix aad", a, "conn_"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := r.Open(tc.sealed, []byte(tc.aad)); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Open = %v, want ErrCorrupt", err)
			}
		})
	}
}

func TestOpenTamperEveryByte(t *testing.T) {
	r := mustParse(t, mustGenerate(t, "key-1")+","+mustGenerate(t, "key-2"))
	sealed, err := r.Seal([]byte("some credential"), []byte("row"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range sealed {
		for _, flip := range []byte{0x01, 0x80, 0xff} {
			bad := bytes.Clone(sealed)
			bad[i] ^= flip
			if _, err := r.Open(bad, []byte("row")); !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnknownKey) {
				t.Fatalf("byte %d ^ %#x: Open = %v, want ErrCorrupt or ErrUnknownKey", i, flip, err)
			}
		}
	}
	relabeled := bytes.Clone(sealed)
	relabeled[6] = '2' // "key-1" -> "key-2", a key the ring holds
	if _, err := r.Open(relabeled, []byte("row")); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("relabeled to another held key: Open = %v, want ErrCorrupt", err)
	}
	for n := range len(sealed) {
		if _, err := r.Open(sealed[:n], []byte("row")); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("truncated to %d: Open = %v, want ErrCorrupt", n, err)
		}
	}
	if _, err := r.Open(append(bytes.Clone(sealed), 0), []byte("row")); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("extended: Open = %v, want ErrCorrupt", err)
	}
}

func TestOpenUnknownKey(t *testing.T) {
	old := mustParse(t, mustGenerate(t, "retired"))
	sealed, _ := old.Seal([]byte("x"), nil)
	r := mustParse(t, mustGenerate(t, "current"))
	_, err := r.Open(sealed, nil)
	if !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("Open = %v, want ErrUnknownKey", err)
	}
	if !strings.Contains(err.Error(), `"retired"`) {
		t.Fatalf("error %q does not name the key id", err)
	}
	// Same id, different key material: a forgery, not an unknown key.
	other := mustParse(t, mustGenerate(t, "retired"))
	if _, err := other.Open(sealed, nil); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open under other key material = %v, want ErrCorrupt", err)
	}
}

func TestRotation(t *testing.T) {
	oldSpec := mustGenerate(t, "v1")
	before := mustParse(t, oldSpec)
	sealedOld, _ := before.Seal([]byte("token"), []byte("c1"))
	if before.NeedsRotation(sealedOld) {
		t.Fatal("fresh data needs rotation")
	}

	after := mustParse(t, mustGenerate(t, "v2")+","+oldSpec)
	if after.CurrentID() != "v2" {
		t.Fatalf("CurrentID = %q", after.CurrentID())
	}
	if !after.NeedsRotation(sealedOld) {
		t.Fatal("data under the old key does not need rotation")
	}
	plain, err := after.Open(sealedOld, []byte("c1"))
	if err != nil || string(plain) != "token" {
		t.Fatalf("old key no longer opens: %q, %v", plain, err)
	}
	resealed, err := after.Seal(plain, []byte("c1"))
	if err != nil {
		t.Fatal(err)
	}
	if after.NeedsRotation(resealed) {
		t.Fatal("resealed data still needs rotation")
	}
	if id, _ := after.KeyID(resealed); id != "v2" {
		t.Fatalf("KeyID = %q, want v2", id)
	}
	if after.NeedsRotation([]byte{9, 9}) {
		t.Fatal("corrupt data reported as needing rotation")
	}
	if _, err := after.KeyID([]byte{1}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("KeyID(short) = %v", err)
	}
}

func TestSealJSON(t *testing.T) {
	type creds struct {
		AccessToken string `json:"accessToken"`
		Expiry      int64  `json:"expiry"`
	}
	r := mustParse(t, mustGenerate(t, "j"))
	in := creds{AccessToken: "at-123", Expiry: 42}
	sealed, err := r.SealJSON(in, []byte("conn"))
	if err != nil {
		t.Fatal(err)
	}
	var out creds
	if err := r.OpenJSON(sealed, []byte("conn"), &out); err != nil {
		t.Fatal(err)
	}
	if out != in {
		t.Fatalf("OpenJSON = %+v, want %+v", out, in)
	}
	if err := r.OpenJSON(sealed, []byte("other"), &out); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("OpenJSON wrong aad = %v", err)
	}

	secretNum, _ := r.Seal([]byte(`{"accessToken": 987654321}`), nil)
	err = r.OpenJSON(secretNum, nil, &out)
	if err == nil || strings.Contains(err.Error(), "987654321") {
		t.Fatalf("OpenJSON type mismatch = %v (must fail without quoting the value)", err)
	}
	if _, err := r.SealJSON(make(chan int), nil); err == nil {
		t.Fatal("SealJSON(chan) succeeded")
	}
}

func TestParse(t *testing.T) {
	key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 32)) // has + and /
	urlKey := base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 32))
	rawKey := base64.RawStdEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 32))
	rawURLKey := base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 32))
	short := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 16))
	long := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 33))

	tests := []struct {
		name    string
		spec    string
		wantIDs []string // nil means an error is expected
	}{
		{"one std", "a:" + key, []string{"a"}},
		{"url", "a:" + urlKey, []string{"a"}},
		{"raw std", "a:" + rawKey, []string{"a"}},
		{"raw url", "a:" + rawURLKey, []string{"a"}},
		{"two", "new:" + key + ",old:" + urlKey, []string{"new", "old"}},
		{"spaces", "  a : " + key + " , b:" + key + "\n", []string{"a", "b"}},
		{"id charset", "A-z_09:" + key, []string{"A-z_09"}},
		{"id 32", strings.Repeat("i", 32) + ":" + key, []string{strings.Repeat("i", 32)}},

		{"empty", "", nil},
		{"blank", "  \n", nil},
		{"no colon", key, nil},
		{"empty id", ":" + key, nil},
		{"id 33", strings.Repeat("i", 33) + ":" + key, nil},
		{"id dot", "a.b:" + key, nil},
		{"id unicode", "clé:" + key, nil},
		{"empty key", "a:", nil},
		{"short key", "a:" + short, nil},
		{"long key", "a:" + long, nil},
		{"not base64", "a:" + strings.Repeat("!", 44), nil},
		{"mixed alphabet", "a:" + strings.Replace(urlKey, "_", "/", 1), nil},
		{"duplicate", "a:" + key + ",a:" + urlKey, nil},
		{"trailing comma", "a:" + key + ",", nil},
		{"empty middle", "a:" + key + ",,b:" + key, nil},
		{"extra colon", "a:" + key + ":x", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Parse(tc.spec)
			if tc.wantIDs == nil {
				if err == nil {
					t.Fatalf("Parse succeeded with ids %v", r.IDs())
				}
				for _, k := range []string{key, urlKey, short, long} {
					if strings.Contains(err.Error(), k) {
						t.Fatalf("error %q echoes key material", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := r.IDs(); fmt.Sprint(got) != fmt.Sprint(tc.wantIDs) {
				t.Fatalf("IDs = %v, want %v", got, tc.wantIDs)
			}
			if r.CurrentID() != tc.wantIDs[0] {
				t.Fatalf("CurrentID = %q", r.CurrentID())
			}
		})
	}
}

func TestParseAcceptsEveryEncodingOfTheSameKey(t *testing.T) {
	raw := bytes.Repeat([]byte{0xfb, 0xef, 0x01}, 11)[:32]
	std := mustParse(t, "k:"+base64.StdEncoding.EncodeToString(raw))
	sealed, _ := std.Seal([]byte("p"), nil)
	for _, enc := range []*base64.Encoding{base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		r := mustParse(t, "k:"+enc.EncodeToString(raw))
		if _, err := r.Open(sealed, nil); err != nil {
			t.Fatalf("key decoded differently: %v", err)
		}
	}
}

func TestGenerate(t *testing.T) {
	a, b := mustGenerate(t, "x"), mustGenerate(t, "x")
	if a == b {
		t.Fatal("Generate returned the same key twice")
	}
	if !strings.HasPrefix(a, "x:") {
		t.Fatalf("Generate = %q", a[:2])
	}
	mustParse(t, a)
	for _, bad := range []string{"", "a b", strings.Repeat("z", 33)} {
		if _, err := Generate(bad); err == nil {
			t.Fatalf("Generate(%q) succeeded", bad)
		}
	}
}

func TestNoKeyMaterialInFormatting(t *testing.T) {
	spec := mustGenerate(t, "fmt")
	r := mustParse(t, spec)
	key := strings.TrimPrefix(spec, "fmt:")
	raw, _ := base64.StdEncoding.DecodeString(key)
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(verb, r)
		if strings.Contains(out, key) || strings.Contains(out, string(raw)) || !strings.Contains(out, "fmt") {
			t.Fatalf("%s = %q", verb, out)
		}
	}
}

func TestZeroRing(t *testing.T) {
	var r *KeyRing
	if _, err := r.Seal([]byte("x"), nil); err == nil {
		t.Fatal("nil ring sealed")
	}
	sealed, _ := mustParse(t, mustGenerate(t, "z")).Seal([]byte("x"), nil)
	if _, err := r.Open(sealed, nil); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("nil ring Open = %v", err)
	}
}

func BenchmarkSeal(b *testing.B) {
	r := mustParse(b, mustGenerate(b, "bench"))
	plain := bytes.Repeat([]byte("a"), 512)
	aad := []byte("conn_0123456789")
	b.SetBytes(int64(len(plain)))
	for b.Loop() {
		if _, err := r.Seal(plain, aad); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	r := mustParse(b, mustGenerate(b, "bench"))
	plain := bytes.Repeat([]byte("a"), 512)
	aad := []byte("conn_0123456789")
	sealed, _ := r.Seal(plain, aad)
	b.SetBytes(int64(len(plain)))
	for b.Loop() {
		if _, err := r.Open(sealed, aad); err != nil {
			b.Fatal(err)
		}
	}
}
