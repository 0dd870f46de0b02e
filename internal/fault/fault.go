// Package fault carries the domain's user-facing errors: a kind the HTTP,
// CLI and MCP surfaces map to their own codes, a snake_case code and a safe
// human sentence. Messages never contain secrets.
package fault

import (
	"errors"
	"fmt"
)

// Kind says which class of failure an error is, independent of transport.
type Kind int

// The kinds a surface maps to its own status codes.
const (
	Invalid      Kind = iota + 1 // the request is malformed or breaks a rule (400/422)
	Unauthorized                 // no or bad credentials (401)
	Forbidden                    // authenticated but not allowed (403)
	NotFound                     // no such thing for this caller (404)
	Conflict                     // state forbids it now (409)
	Gone                         // it existed but is over (410)
	Unavailable                  // a dependency is down (503)
	Upstream                     // a provider misbehaved (502)
)

// Error is a failure meant to be shown to the caller as it is.
type Error struct {
	Kind    Kind
	Code    string // snake_case, stable
	Message string // a human sentence, safe to show
	Err     error  // the cause, for logs; never shown
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// New returns an Error of kind with code and message.
func New(kind Kind, code, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an Error that keeps err as its hidden cause.
func Wrap(err error, kind Kind, code, message string) *Error {
	return &Error{Kind: kind, Code: code, Message: message, Err: err}
}

// As returns the Error in err's chain, if any.
func As(err error) (*Error, bool) {
	var fe *Error
	ok := errors.As(err, &fe)
	return fe, ok
}
