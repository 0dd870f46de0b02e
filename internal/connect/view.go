package connect

import (
	"time"

	"github.com/hitchdev/hitch/internal/store"
)

// Connection is the public shape of a connection (spec section 3). It has no
// field that could carry a credential, so marshalling it can never leak one.
type Connection struct {
	ID            string            `json:"id"`
	Name          string            `json:"name"`
	TenantKey     string            `json:"tenantKey"`
	AppKey        string            `json:"appKey"`
	AuthType      string            `json:"authType"`
	Disconnected  bool              `json:"disconnected"`
	Error         *ErrorInfo        `json:"error"`
	CreatedAt     string            `json:"createdAt"`
	UpdatedAt     string            `json:"updatedAt"`
	ArchivedAt    *string           `json:"archivedAt"`
	LastRefreshAt *string           `json:"lastRefreshAt"`
	NextRefreshAt *string           `json:"nextRefreshAt"`
	RetryAttempts int               `json:"retryAttempts"`
	Input         map[string]string `json:"input"`
}

// ErrorInfo is a connection's last refresh error.
type ErrorInfo struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// View renders a stored connection in its public shape.
func View(c store.Connection) Connection { return ViewSummary(c.Summary()) }

// ViewSummary renders a listed connection in its public shape.
func ViewSummary(c store.ConnectionSummary) Connection {
	v := Connection{
		ID:            c.ID,
		Name:          c.Name,
		TenantKey:     c.TenantKey,
		AppKey:        c.AppKey,
		AuthType:      c.AuthType,
		Disconnected:  c.Disconnected,
		CreatedAt:     stamp(c.CreatedAt),
		UpdatedAt:     stamp(c.UpdatedAt),
		ArchivedAt:    stampPtr(c.ArchivedAt),
		LastRefreshAt: stampPtr(c.LastRefreshAt),
		NextRefreshAt: stampPtr(c.NextRefreshAt),
		RetryAttempts: c.RetryAttempts,
		Input:         c.Input,
	}
	if v.Input == nil {
		v.Input = map[string]string{}
	}
	if c.ErrorCode != "" {
		v.Error = &ErrorInfo{Code: c.ErrorCode, Message: c.ErrorMessage}
	}
	return v
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func stampPtr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := stamp(*t)
	return &s
}
