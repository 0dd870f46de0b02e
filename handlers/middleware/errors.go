// Package middleware holds the Echo middleware every surface shares: request
// ids and logs, the JSON error envelope, bearer-token auth, CORS and metrics.
package middleware

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/hitchdev/hitch/internal/fault"
)

// Envelope is the body of every API error (spec section 3).
type Envelope struct {
	Error EnvelopeError `json:"error"`
}

// EnvelopeError is the inside of Envelope.
type EnvelopeError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Status maps a fault kind to its HTTP status.
func Status(k fault.Kind) int {
	switch k {
	case fault.Invalid:
		return http.StatusBadRequest
	case fault.Unauthorized:
		return http.StatusUnauthorized
	case fault.Forbidden:
		return http.StatusForbidden
	case fault.NotFound:
		return http.StatusNotFound
	case fault.Conflict:
		return http.StatusConflict
	case fault.Gone:
		return http.StatusGone
	case fault.Unavailable:
		return http.StatusServiceUnavailable
	case fault.Upstream:
		return http.StatusBadGateway
	}
	return http.StatusInternalServerError
}

// APIError is a handler's error with an explicit status, for failures that
// belong to the transport (bad query string, body too large).
type APIError struct {
	Status  int
	Code    string
	Message string
}

func (e *APIError) Error() string { return e.Message }

// BadRequest returns a 400 APIError.
func BadRequest(code, message string) *APIError {
	return &APIError{Status: http.StatusBadRequest, Code: code, Message: message}
}

// Describe turns any handler error into a status and envelope. Unknown
// errors become a 500 whose message hides the cause.
func Describe(err error) (int, EnvelopeError) {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status, EnvelopeError{ae.Code, ae.Message}
	}
	if fe, ok := fault.As(err); ok {
		return Status(fe.Kind), EnvelopeError{fe.Code, fe.Message}
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		switch he.Code {
		case http.StatusNotFound:
			return he.Code, EnvelopeError{"not_found", "No such route."}
		case http.StatusMethodNotAllowed:
			return he.Code, EnvelopeError{"method_not_allowed", "This method is not allowed on this route."}
		case http.StatusRequestEntityTooLarge:
			return he.Code, EnvelopeError{"request_too_large", "The request body is larger than 1 MiB."}
		case http.StatusUnsupportedMediaType:
			return he.Code, EnvelopeError{"unsupported_media_type", "Send the body as application/json."}
		case http.StatusTooManyRequests:
			return he.Code, EnvelopeError{"rate_limited", "Too many requests; slow down."}
		}
		if he.Code >= 400 && he.Code < 500 {
			return he.Code, EnvelopeError{"bad_request", http.StatusText(he.Code) + "."}
		}
	}
	return http.StatusInternalServerError, EnvelopeError{"internal_error", "An internal error occurred; it has been logged."}
}

// ErrorHandler writes every error as the JSON envelope and logs 5xx causes.
func ErrorHandler(log *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		status, body := Describe(err)
		if status >= 500 {
			log.ErrorContext(c.Request().Context(), "request failed",
				"request_id", c.Response().Header().Get(echo.HeaderXRequestID),
				"method", c.Request().Method, "path", c.Path(), "error", err)
		}
		if status == http.StatusUnauthorized {
			c.Response().Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		}
		if c.Request().Method == http.MethodHead {
			_ = c.NoContent(status)
			return
		}
		_ = c.JSON(status, Envelope{Error: body})
	}
}
