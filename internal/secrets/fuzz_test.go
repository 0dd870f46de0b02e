package secrets

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// fuzzSpecs are fixed so that a corpus entry means the same thing on every run.
const (
	fuzzSpecCurrent = "cur:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
	fuzzSpecOld     = "old:Hx4dHBsaGRgXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA="
)

func FuzzOpen(f *testing.F) {
	r := mustParse(f, fuzzSpecCurrent+","+fuzzSpecOld)
	aad := []byte("conn_1")
	// Fuzz workers rerun this setup, so the genuine ciphertexts must be
	// deterministic: fixed nonces instead of Seal's random ones.
	var genuine [][]byte
	for i, p := range []string{"", "x", "a longer credential value"} {
		for _, id := range []string{"cur", "old"} {
			s, err := r.sealWithNonce(id, [nonceSize]byte{byte(i), 7}, []byte(p), aad)
			if err != nil {
				f.Fatal(err)
			}
			genuine = append(genuine, s)
			f.Add(s)
		}
	}
	f.Add([]byte{})
	f.Add([]byte{1, 3, 'z', 'z', 'z'})
	f.Add([]byte{2, 3, 'c', 'u', 'r'})
	f.Fuzz(func(t *testing.T, sealed []byte) {
		plain, err := r.Open(sealed, aad)
		if err == nil {
			// GCM must never accept anything Seal did not produce.
			for _, g := range genuine {
				if bytes.Equal(g, sealed) {
					return
				}
			}
			t.Fatalf("forged input opened to %q", plain)
		}
		if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnknownKey) {
			t.Fatalf("Open error %v is neither ErrCorrupt nor ErrUnknownKey", err)
		}
		if id, kerr := r.KeyID(sealed); kerr == nil && !validID(id) {
			t.Fatalf("KeyID returned invalid id %q", id)
		}
		_ = r.NeedsRotation(sealed)
	})
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		fuzzSpecCurrent,
		fuzzSpecCurrent + "," + fuzzSpecOld,
		"a:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
		"a:-_-_AwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
		"",
		",",
		"a:",
		":b",
		"a:b:c",
		"cur:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=,cur:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		r, err := Parse(spec)
		if err != nil {
			// Errors may name valid ids but never echo key material.
			entries := strings.Split(spec, ",")
			var ids []string
			for _, entry := range entries {
				id, _, _ := strings.Cut(entry, ":")
				ids = append(ids, id)
			}
			allIDs := strings.Join(ids, ",")
			for _, entry := range entries {
				_, key, ok := strings.Cut(entry, ":")
				if ok && len(key) >= 12 && strings.Contains(err.Error(), key) && !strings.Contains(allIDs, key) {
					t.Fatalf("error %q echoes key material %q", err, key)
				}
			}
			return
		}
		ids := r.IDs()
		if len(ids) == 0 || r.CurrentID() != ids[0] {
			t.Fatalf("ids %v, current %q", ids, r.CurrentID())
		}
		seen := map[string]bool{}
		for _, id := range ids {
			if !validID(id) || seen[id] {
				t.Fatalf("bad or duplicate id %q in %v", id, ids)
			}
			seen[id] = true
		}
		sealed, err := r.Seal([]byte("p"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if p, err := r.Open(sealed, nil); err != nil || string(p) != "p" {
			t.Fatalf("round trip: %q, %v", p, err)
		}
	})
}
