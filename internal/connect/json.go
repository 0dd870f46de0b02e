package connect

import (
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/hitchdev/hitch/internal/store"
)

// AppendSummaryJSON appends the public shape of c, ViewSummary(c), as JSON: byte for byte what
// encoding/json writes for it (HTML-escaped strings, sorted input keys, RFC 3339 times), without the
// reflection or the intermediate strings. It is the renderer of connection lists; a test holds it to
// json.Marshal.
func AppendSummaryJSON(dst []byte, c *store.ConnectionSummary) []byte {
	dst = append(dst, `{"id":`...)
	dst = appendString(dst, c.ID)
	dst = append(dst, `,"name":`...)
	dst = appendString(dst, c.Name)
	dst = append(dst, `,"tenantKey":`...)
	dst = appendString(dst, c.TenantKey)
	dst = append(dst, `,"appKey":`...)
	dst = appendString(dst, c.AppKey)
	dst = append(dst, `,"authType":`...)
	dst = appendString(dst, c.AuthType)
	dst = append(dst, `,"disconnected":`...)
	dst = strconv.AppendBool(dst, c.Disconnected)
	dst = append(dst, `,"error":`...)
	if c.ErrorCode == "" {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, `{"code":`...)
		dst = appendString(dst, c.ErrorCode)
		dst = append(dst, `,"message":`...)
		dst = appendString(dst, c.ErrorMessage)
		dst = append(dst, '}')
	}
	dst = append(dst, `,"createdAt":`...)
	dst = appendStamp(dst, &c.CreatedAt)
	dst = append(dst, `,"updatedAt":`...)
	dst = appendStamp(dst, &c.UpdatedAt)
	dst = append(dst, `,"archivedAt":`...)
	dst = appendStamp(dst, c.ArchivedAt)
	dst = append(dst, `,"lastRefreshAt":`...)
	dst = appendStamp(dst, c.LastRefreshAt)
	dst = append(dst, `,"nextRefreshAt":`...)
	dst = appendStamp(dst, c.NextRefreshAt)
	dst = append(dst, `,"retryAttempts":`...)
	dst = strconv.AppendInt(dst, int64(c.RetryAttempts), 10)
	dst = append(dst, `,"input":`...)
	dst = appendInput(dst, c.Input)
	return append(dst, '}')
}

// appendStamp writes stamp(*t) as a JSON string, or null for nil.
func appendStamp(dst []byte, t *time.Time) []byte {
	if t == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, '"')
	dst = t.UTC().AppendFormat(dst, time.RFC3339)
	return append(dst, '"')
}

// appendInput writes a string map as encoding/json does: keys sorted, {} when empty or nil (View never
// renders a null input).
func appendInput(dst []byte, m map[string]string) []byte {
	if len(m) == 0 {
		return append(dst, "{}"...)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, k)
		dst = append(dst, ':')
		dst = appendString(dst, m[k])
	}
	return append(dst, '}')
}

// AppendJSONString appends s as a JSON string, escaped exactly as encoding/json escapes it.
func AppendJSONString(dst []byte, s string) []byte { return appendString(dst, s) }

// appendString is encoding/json's string encoder with HTML escaping on (the default of json.Marshal
// and json.Encoder): <, >, & and control characters become \u00XX (\b \f \n \r \t keep their short
// forms), invalid UTF-8 becomes \ufffd, and U+2028/U+2029 are escaped for JavaScript.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if htmlSafe[b] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

const hexDigits = "0123456789abcdef"

// htmlSafe holds the ASCII bytes encoding/json writes unescaped when escaping HTML: printable
// characters (DEL included) other than ", \, <, > and &.
var htmlSafe = func() (t [utf8.RuneSelf]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		t[b] = true
	}
	for _, b := range []byte{'"', '\\', '<', '>', '&'} {
		t[b] = false
	}
	return t
}()
