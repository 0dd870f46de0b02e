package api

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/hitchdev/hitch/handlers/middleware"
	"github.com/hitchdev/hitch/internal/fault"
	"github.com/hitchdev/hitch/internal/webhook"
)

// The webhook endpoint management API (spec section 8, for the console and automation). Admin tokens only.

// requireAdmin lets through only admin tokens; it runs after authn.Require.
func requireAdmin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if !middleware.Principal(c).Admin {
			return fault.New(fault.Forbidden, "admin_required", "Webhook endpoints are managed with an admin token.")
		}
		return next(c)
	}
}

// endpointView is one webhook endpoint in the API. Secret is set only in the answers to create and
// rotate-secret.
type endpointView struct {
	ID             string       `json:"id"`
	URL            string       `json:"url"`
	Description    string       `json:"description"`
	EventTypes     []string     `json:"eventTypes"`
	Source         string       `json:"source"`
	Enabled        bool         `json:"enabled"`
	DisabledAt     *string      `json:"disabledAt"`
	DisabledReason *string      `json:"disabledReason"`
	Secrets        []secretView `json:"secrets"`
	CreatedAt      string       `json:"createdAt"`
	UpdatedAt      string       `json:"updatedAt"`
	Secret         string       `json:"secret,omitempty"`
}

// secretView describes a signing secret without revealing it.
type secretView struct {
	CreatedAt string  `json:"createdAt"`
	ExpiresAt *string `json:"expiresAt"`
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func optTime(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := rfc3339(*t)
	return &s
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func viewEndpoint(e webhook.Endpoint) endpointView {
	v := endpointView{
		ID: e.ID, URL: e.URL, Description: e.Description, EventTypes: nonNil(e.EventTypes), Source: e.Source,
		Enabled: e.DisabledAt == nil, DisabledAt: optTime(e.DisabledAt), DisabledReason: optString(e.DisabledReason),
		Secrets: make([]secretView, len(e.Secrets)), CreatedAt: rfc3339(e.CreatedAt), UpdatedAt: rfc3339(e.UpdatedAt),
	}
	for i, s := range e.Secrets {
		v.Secrets[i] = secretView{CreatedAt: rfc3339(s.CreatedAt), ExpiresAt: optTime(s.ExpiresAt)}
	}
	return v
}

// deliveryView is one delivery with its attempt log.
type deliveryView struct {
	ID             string        `json:"id"`
	EndpointID     string        `json:"endpointId"`
	EventID        string        `json:"eventId"`
	EventType      string        `json:"eventType"`
	ConnectionID   *string       `json:"connectionId"`
	Status         string        `json:"status"`
	AttemptCount   int           `json:"attemptCount"`
	NextAttemptAt  *string       `json:"nextAttemptAt"`
	LastStatusCode *int          `json:"lastStatusCode"`
	LastError      *string       `json:"lastError"`
	CreatedAt      string        `json:"createdAt"`
	UpdatedAt      string        `json:"updatedAt"`
	DeliveredAt    *string       `json:"deliveredAt"`
	Attempts       []attemptView `json:"attempts"`
}

// attemptView is one request in a delivery's log.
type attemptView struct {
	ID              string  `json:"id"`
	AttemptedAt     string  `json:"attemptedAt"`
	StatusCode      *int    `json:"statusCode"`
	LatencyMS       int     `json:"latencyMs"`
	ResponseExcerpt *string `json:"responseExcerpt"`
	Error           *string `json:"error"`
}

func optCode(code int) *int {
	if code == 0 {
		return nil
	}
	return &code
}

func viewDelivery(d webhook.Delivery) deliveryView {
	v := deliveryView{
		ID: d.ID, EndpointID: d.EndpointID, EventID: d.EventID, EventType: d.EventType,
		ConnectionID: optString(d.ConnectionID), Status: d.Status, AttemptCount: d.Attempts,
		NextAttemptAt: optTime(d.NextAttemptAt), LastStatusCode: optCode(d.LastStatusCode),
		LastError: optString(d.LastError), CreatedAt: rfc3339(d.CreatedAt), UpdatedAt: rfc3339(d.UpdatedAt),
		DeliveredAt: optTime(d.DeliveredAt), Attempts: make([]attemptView, len(d.Log)),
	}
	for i, a := range d.Log {
		v.Attempts[i] = attemptView{
			ID: a.ID, AttemptedAt: rfc3339(a.AttemptedAt), StatusCode: optCode(a.StatusCode), LatencyMS: a.LatencyMS,
			ResponseExcerpt: optString(a.ResponseExcerpt), Error: optString(a.Error),
		}
	}
	return v
}

func (h *Handler) listWebhookEndpoints(c echo.Context) error {
	limit, err := queryInt(c, "limit", 100, 1, 500)
	if err != nil {
		return err
	}
	rows, next, err := h.Webhooks.ListEndpoints(c.Request().Context(), limit, c.QueryParam("cursor"))
	if err != nil {
		return cursorError(err)
	}
	items := make([]endpointView, len(rows))
	for i, e := range rows {
		items[i] = viewEndpoint(e)
	}
	return c.JSON(http.StatusOK, page{Items: items, Cursor: cursorValue(next)})
}

// endpointRequest is the body of POST /webhooks/endpoints.
type endpointRequest struct {
	URL         string   `json:"url"`
	Description string   `json:"description"`
	EventTypes  []string `json:"eventTypes"`
	Secret      string   `json:"secret"`
}

func (h *Handler) createWebhookEndpoint(c echo.Context) error {
	var req endpointRequest
	if err := decodeJSON(c.Request(), &req); err != nil {
		return err
	}
	e, secret, err := h.Webhooks.CreateEndpoint(c.Request().Context(), webhook.EndpointInput{
		URL: req.URL, Description: req.Description, EventTypes: req.EventTypes, Secret: req.Secret,
	})
	if err != nil {
		return err
	}
	v := viewEndpoint(e)
	v.Secret = secret
	return c.JSON(http.StatusCreated, v)
}

func (h *Handler) getWebhookEndpoint(c echo.Context) error {
	e, err := h.Webhooks.GetEndpoint(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, viewEndpoint(e))
}

// endpointPatchRequest is the body of PATCH /webhooks/endpoints/{id}; absent fields stay as they are.
type endpointPatchRequest struct {
	URL         *string   `json:"url"`
	Description *string   `json:"description"`
	EventTypes  *[]string `json:"eventTypes"`
	Enabled     *bool     `json:"enabled"`
}

func (h *Handler) updateWebhookEndpoint(c echo.Context) error {
	var req endpointPatchRequest
	if err := decodeJSON(c.Request(), &req); err != nil {
		return err
	}
	if req.EventTypes != nil && *req.EventTypes == nil {
		// "eventTypes": null reads as "every type", like [].
		req.EventTypes = &[]string{}
	}
	e, err := h.Webhooks.UpdateEndpoint(c.Request().Context(), c.Param("id"), webhook.EndpointPatch{
		URL: req.URL, Description: req.Description, EventTypes: req.EventTypes, Enabled: req.Enabled,
	})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, viewEndpoint(e))
}

func (h *Handler) disableWebhookEndpoint(c echo.Context) error {
	e, err := h.Webhooks.DisableEndpoint(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, viewEndpoint(e))
}

// rotateRequest is the optional body of POST /webhooks/endpoints/{id}/rotate-secret.
type rotateRequest struct {
	Secret       string `json:"secret"`
	GraceSeconds *int64 `json:"graceSeconds"`
}

func (h *Handler) rotateWebhookSecret(c echo.Context) error {
	var req rotateRequest
	if c.Request().ContentLength != 0 {
		if err := decodeJSON(c.Request(), &req); err != nil {
			return err
		}
	}
	in := webhook.RotateInput{Secret: req.Secret}
	if req.GraceSeconds != nil {
		if *req.GraceSeconds < 0 || *req.GraceSeconds > int64(webhook.MaxRotationGrace/time.Second) {
			return middleware.BadRequest("invalid_grace", "graceSeconds must be from 0 to 604800.")
		}
		g := time.Duration(*req.GraceSeconds) * time.Second
		in.Grace = &g
	}
	e, secret, err := h.Webhooks.RotateSecret(c.Request().Context(), c.Param("id"), in)
	if err != nil {
		return err
	}
	v := viewEndpoint(e)
	v.Secret = secret
	return c.JSON(http.StatusOK, v)
}

func (h *Handler) listWebhookDeliveries(c echo.Context) error {
	limit, err := queryInt(c, "limit", 100, 1, 500)
	if err != nil {
		return err
	}
	rows, next, err := h.Webhooks.ListDeliveries(c.Request().Context(), c.Param("id"), webhook.DeliveryQuery{
		Status: c.QueryParam("status"), Limit: limit, Cursor: c.QueryParam("cursor"),
	})
	if err != nil {
		return cursorError(err)
	}
	items := make([]deliveryView, len(rows))
	for i, d := range rows {
		items[i] = viewDelivery(d)
	}
	return c.JSON(http.StatusOK, page{Items: items, Cursor: cursorValue(next)})
}

func (h *Handler) redeliverWebhook(c echo.Context) error {
	d, err := h.Webhooks.Redeliver(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, viewDelivery(d))
}
