// Package secrets encrypts credentials at rest with AES-256-GCM under a key ring.
//
// A key ring holds one or more named 256-bit keys; the first is current and seals
// new data, the others only open data sealed before a rotation.
package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
)

// Sealed format, version 1:
//
//	version (1) | key-id length (1) | key id | nonce (12) | ciphertext+tag
//
// The header (version, id length, id) is authenticated together with the
// caller's AAD, so neither can be altered without Open failing.
const (
	formatV1  = 1
	nonceSize = 12
	tagSize   = 16
	keySize   = 32
	maxIDLen  = 32
)

var (
	// ErrUnknownKey reports data sealed under a key id the ring does not hold.
	ErrUnknownKey = errors.New("secrets: data was sealed under an encryption key that is not configured")
	// ErrCorrupt reports sealed data that is malformed, altered, forged or bound to a different AAD.
	ErrCorrupt = errors.New("secrets: sealed data is corrupt or does not belong here")
)

// KeyRing is an immutable set of AES-256-GCM keys; the first key is current.
// It is safe for concurrent use.
type KeyRing struct {
	ids   []string // in spec order; ids[0] is current
	aeads map[string]cipher.AEAD
}

// Parse reads a key ring spec: "id:base64key,id2:base64key". Ids match
// [A-Za-z0-9_-]{1,32}; keys are 32 bytes in standard or URL base64, padded or not.
// Errors name entries by position and valid ids only, never key material.
func Parse(spec string) (*KeyRing, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, errors.New("secrets: key ring spec is empty")
	}
	entries := strings.Split(spec, ",")
	r := &KeyRing{ids: make([]string, 0, len(entries)), aeads: make(map[string]cipher.AEAD, len(entries))}
	for n, entry := range entries {
		pos := n + 1
		entry = strings.TrimSpace(entry)
		if entry == "" {
			return nil, fmt.Errorf("secrets: key ring entry %d is empty", pos)
		}
		id, encoded, ok := strings.Cut(entry, ":")
		if !ok {
			return nil, fmt.Errorf("secrets: key ring entry %d is not in the form id:base64key", pos)
		}
		id, encoded = strings.TrimSpace(id), strings.TrimSpace(encoded)
		if !validID(id) {
			return nil, fmt.Errorf("secrets: key ring entry %d: key id must be 1-32 characters from A-Z a-z 0-9 _ -", pos)
		}
		if _, dup := r.aeads[id]; dup {
			return nil, fmt.Errorf("secrets: key ring entry %d: key id %q is used more than once", pos, id)
		}
		key, err := decodeKey(encoded)
		if err != nil {
			return nil, fmt.Errorf("secrets: key ring entry %d (key id %q): %w", pos, id, err)
		}
		aead, err := newAEAD(key)
		clear(key)
		if err != nil {
			return nil, fmt.Errorf("secrets: key ring entry %d (key id %q): %w", pos, id, err)
		}
		r.ids = append(r.ids, id)
		r.aeads[id] = aead
	}
	return r, nil
}

// Generate returns a new random key in spec form, "id:base64key".
func Generate(id string) (string, error) {
	if !validID(id) {
		return "", errors.New("secrets: key id must be 1-32 characters from A-Z a-z 0-9 _ -")
	}
	key := make([]byte, keySize)
	if _, err := rand.Read(key); err != nil {
		return "", fmt.Errorf("secrets: generate key: %w", err)
	}
	defer clear(key)
	return id + ":" + base64.StdEncoding.EncodeToString(key), nil
}

// CurrentID names the key that Seal uses.
func (r *KeyRing) CurrentID() string {
	if r == nil || len(r.ids) == 0 {
		return ""
	}
	return r.ids[0]
}

// IDs lists the key ids in ring order, current first.
func (r *KeyRing) IDs() []string {
	if r == nil {
		return nil
	}
	return append([]string(nil), r.ids...)
}

// Seal encrypts plaintext under the current key. aad binds the result to its
// context (for example the owning row's id): Open must be given the same aad.
func (r *KeyRing) Seal(plaintext, aad []byte) ([]byte, error) {
	var nonce [nonceSize]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return nil, fmt.Errorf("secrets: read nonce: %w", err)
	}
	return r.sealWithNonce(r.CurrentID(), nonce, plaintext, aad)
}

// sealWithNonce exists so tests can build deterministic ciphertexts; everything
// else must go through Seal and its random nonce.
func (r *KeyRing) sealWithNonce(id string, nonce [nonceSize]byte, plaintext, aad []byte) ([]byte, error) {
	var aead cipher.AEAD
	if r != nil {
		aead = r.aeads[id]
	}
	if aead == nil {
		return nil, errors.New("secrets: key ring has no keys")
	}
	hlen := 2 + len(id)
	out := make([]byte, hlen, hlen+nonceSize+len(plaintext)+aead.Overhead())
	out[0] = formatV1
	out[1] = byte(len(id))
	copy(out[2:], id)
	out = append(out, nonce[:]...)
	return aead.Seal(out, nonce[:], plaintext, additionalData(out[:hlen], aad)), nil
}

// Open decrypts data produced by Seal with the same aad. It fails with
// ErrUnknownKey (naming the key id) when the key is not in the ring and with
// ErrCorrupt when the data is malformed, altered or bound to another aad.
func (r *KeyRing) Open(sealed, aad []byte) ([]byte, error) {
	id, hlen, err := parseHeader(sealed)
	if err != nil {
		return nil, err
	}
	var aead cipher.AEAD
	if r != nil {
		aead = r.aeads[id]
	}
	if aead == nil {
		return nil, fmt.Errorf("%w (key id %q)", ErrUnknownKey, id)
	}
	if len(sealed) < hlen+nonceSize+tagSize {
		return nil, fmt.Errorf("%w: too short", ErrCorrupt)
	}
	nonce := sealed[hlen : hlen+nonceSize]
	plain, err := aead.Open(nil, nonce, sealed[hlen+nonceSize:], additionalData(sealed[:hlen], aad))
	if err != nil {
		return nil, fmt.Errorf("%w: authentication failed", ErrCorrupt)
	}
	return plain, nil
}

// KeyID reports which key sealed the data, without decrypting it.
func (r *KeyRing) KeyID(sealed []byte) (string, error) {
	id, _, err := parseHeader(sealed)
	return id, err
}

// NeedsRotation reports whether the data was sealed under a key other than the
// current one. Data whose header cannot be read reports false: re-sealing it
// is impossible anyway, and Open reports why.
func (r *KeyRing) NeedsRotation(sealed []byte) bool {
	id, err := r.KeyID(sealed)
	return err == nil && id != r.CurrentID()
}

// SealJSON marshals v to JSON and seals it.
func (r *KeyRing) SealJSON(v any, aad []byte) ([]byte, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("secrets: marshal %T: %w", v, err)
	}
	defer clear(plain)
	return r.Seal(plain, aad)
}

// OpenJSON opens sealed data and unmarshals the JSON inside into v.
func (r *KeyRing) OpenJSON(sealed, aad []byte, v any) error {
	plain, err := r.Open(sealed, aad)
	if err != nil {
		return err
	}
	defer clear(plain)
	if err := json.Unmarshal(plain, v); err != nil {
		// The JSON error text can quote the decrypted value, so it is dropped.
		return fmt.Errorf("secrets: sealed JSON does not decode into %T", v)
	}
	return nil
}

// String describes the ring without key material.
func (r *KeyRing) String() string {
	if r == nil {
		return "secrets.KeyRing(nil)"
	}
	return fmt.Sprintf("secrets.KeyRing(current=%s, keys=%d)", r.CurrentID(), len(r.ids))
}

// GoString keeps %#v from printing the expanded keys.
func (r *KeyRing) GoString() string { return r.String() }

// LogValue keeps slog from printing the expanded keys.
func (r *KeyRing) LogValue() slog.Value { return slog.StringValue(r.String()) }

func parseHeader(sealed []byte) (id string, hlen int, err error) {
	if len(sealed) < 2 {
		return "", 0, fmt.Errorf("%w: too short", ErrCorrupt)
	}
	if sealed[0] != formatV1 {
		return "", 0, fmt.Errorf("%w: unsupported format version %d", ErrCorrupt, sealed[0])
	}
	n := int(sealed[1])
	if n == 0 || n > maxIDLen || len(sealed) < 2+n {
		return "", 0, fmt.Errorf("%w: bad key id length", ErrCorrupt)
	}
	id = string(sealed[2 : 2+n])
	if !validID(id) {
		return "", 0, fmt.Errorf("%w: bad key id", ErrCorrupt)
	}
	return id, 2 + n, nil
}

// additionalData authenticates the header along with the caller's aad; the
// header is length-prefixed, so the concatenation is unambiguous.
func additionalData(header, aad []byte) []byte {
	ad := make([]byte, 0, len(header)+len(aad))
	return append(append(ad, header...), aad...)
}

func validID(id string) bool {
	if len(id) == 0 || len(id) > maxIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func decodeKey(s string) ([]byte, error) {
	encodings := []*base64.Encoding{
		base64.StdEncoding.Strict(),
		base64.URLEncoding.Strict(),
		base64.RawStdEncoding.Strict(),
		base64.RawURLEncoding.Strict(),
	}
	for _, enc := range encodings {
		key, err := enc.DecodeString(s)
		if err != nil {
			continue
		}
		if len(key) != keySize {
			clear(key)
			return nil, fmt.Errorf("key must be %d bytes, got %d", keySize, len(key))
		}
		return key, nil
	}
	return nil, errors.New("key is not valid base64 (standard or URL alphabet)")
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("new cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("new GCM: %w", err)
	}
	return aead, nil
}
