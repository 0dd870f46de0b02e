package store

import (
	"crypto/rand"
	"encoding/binary"
	"time"
)

// ID prefixes of the rows this package creates.
const (
	PrefixConnection = "con"
	PrefixSession    = "cs"
	PrefixEvent      = "evt"
)

// crockford is Crockford's base32 alphabet in lowercase: no i, l, o or u, so ids read aloud unambiguously.
const crockford = "0123456789abcdefghjkmnpqrstvwxyz"

// idLen is the length of the suffix: 128 bits in 5-bit characters.
const idLen = 26

// NewID returns prefix + "_" + 26 lowercase Crockford base32 characters encoding 48 bits of unix
// milliseconds then 80 random bits, so ids sort by creation time (ids made in the same millisecond sort
// randomly among themselves).
func NewID(prefix string) string {
	return newIDAt(prefix, time.Now())
}

func newIDAt(prefix string, t time.Time) string {
	var b [16]byte
	ms := uint64(t.UnixMilli())
	binary.BigEndian.PutUint16(b[0:2], uint16(ms>>32))
	binary.BigEndian.PutUint32(b[2:6], uint32(ms))
	_, _ = rand.Read(b[6:]) // crypto/rand.Read never returns an error since Go 1.24.
	hi, lo := binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])

	out := make([]byte, len(prefix)+1+idLen)
	copy(out, prefix)
	out[len(prefix)] = '_'
	for i := len(out) - 1; i > len(prefix); i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out)
}
