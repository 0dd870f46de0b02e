package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/hitchdev/hitch/internal/events"
	"github.com/hitchdev/hitch/internal/fault"
	"github.com/hitchdev/hitch/internal/store"
	"github.com/hitchdev/hitch/internal/webhook"
	views "github.com/hitchdev/hitch/views/console"
)

// Page sizes of the webhook lists.
const (
	webhookEndpointsPerPage  = 25
	webhookDeliveriesPerPage = 25
)

// webhookSecretLabel introduces a signing secret shown in a flash.
const webhookSecretLabel = "Signing secret — copy it now, it is not shown again"

// webhookEventHelp says what each event type means, for the form.
var webhookEventHelp = map[string]string{
	events.ConnectionCreated:      "A tenant connected an app.",
	events.ConnectionDeleted:      "A connection was archived.",
	events.ConnectionDisconnected: "A connection's credentials stopped working.",
	events.ConnectionReconnected:  "A disconnected connection works again.",
}

func (h *Handler) registerWebhooks(g *echo.Group) {
	g.GET("/webhooks", h.webhooksList)
	g.GET("/webhooks/new", h.webhookNewForm)
	g.POST("/webhooks/new", h.webhookCreate)
	g.GET("/webhooks/:id", h.webhookDetail)
	g.POST("/webhooks/:id", h.webhookUpdate)
	g.POST("/webhooks/:id/rotate", h.webhookRotate)
	g.GET("/webhooks/:id/deliveries/:did", h.webhookDelivery)
	g.POST("/webhooks/:id/deliveries/:did/redeliver", h.webhookRedeliver)
}

func (h *Handler) webhooksList(c echo.Context) error {
	cursor := c.QueryParam("cursor")
	eps, next, err := h.Webhooks.ListEndpoints(c.Request().Context(), webhookEndpointsPerPage, cursor)
	if err != nil {
		return pageCursorError(err)
	}
	p := views.WebhooksPage{Page: h.page(c, "Webhooks", views.SectionWebhooks)}
	for _, e := range eps {
		p.Endpoints = append(p.Endpoints, webhookRow(e))
	}
	p.Pager.Count = len(eps)
	if next != "" {
		p.Pager.NextURL = views.WithQuery("/console/webhooks", url.Values{"cursor": {next}})
	}
	if cursor != "" {
		p.Pager.FirstURL = "/console/webhooks"
	}
	return h.render(c, http.StatusOK, views.Webhooks(p))
}

// pageCursorError turns a cursor the store did not issue into a 400 page.
func pageCursorError(err error) error {
	if errors.Is(err, store.ErrInvalidCursor) {
		return fault.New(fault.Invalid, "invalid_cursor", "This page link is not valid any more. Go back to the first page.")
	}
	return err
}

func webhookURL(id string) string { return "/console/webhooks/" + url.PathEscape(id) }

func webhookRow(e webhook.Endpoint) views.WebhookEndpointRow {
	return views.WebhookEndpointRow{
		ID: e.ID, URL: e.URL, Description: e.Description, DetailURL: webhookURL(e.ID),
		EventTypes: e.EventTypes, FromEnv: e.Source == store.WebhookSourceEnv,
		Enabled: e.DisabledAt == nil, DisabledAt: e.DisabledAt, DisabledReason: e.DisabledReason,
		CreatedAt: e.CreatedAt,
	}
}

// webhookForm returns the form's values with the given event types checked.
func webhookForm(rawURL, description string, types []string, enabled bool) views.WebhookForm {
	f := views.WebhookForm{URL: rawURL, Description: description, Enabled: enabled}
	checked := make(map[string]bool, len(types))
	for _, t := range types {
		checked[t] = true
	}
	for _, t := range events.Types {
		f.Events = append(f.Events, views.WebhookEventOption{Type: t, Help: webhookEventHelp[t], Checked: checked[t]})
	}
	return f
}

// webhookFormError puts a refused save's message beside its field. It
// reports false for errors that are not the form's fault.
func webhookFormError(f *views.WebhookForm, err error) bool {
	fe, ok := fault.As(err)
	if !ok {
		return false
	}
	switch {
	case fe.Code == "invalid_url" || fe.Code == "endpoint_managed_by_env":
		f.URLError = fe.Message
	case fe.Code == "invalid_event_type":
		f.EventsError = fe.Message
	case fe.Code == "invalid_description":
		f.DescriptionError = fe.Message
	case fe.Kind == fault.Invalid:
		f.Error = fe.Message
	default:
		return false
	}
	return true
}

func (h *Handler) webhookNewForm(c echo.Context) error {
	p := views.WebhookNewPage{Page: h.page(c, "Add a webhook endpoint", views.SectionWebhooks), Form: webhookForm("", "", nil, true)}
	return h.render(c, http.StatusOK, views.WebhookNew(p))
}

func (h *Handler) webhookCreate(c echo.Context) error {
	form, err := formValues(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	in := webhook.EndpointInput{URL: form.Get("url"), Description: form.Get("description"), EventTypes: form["events"]}
	e, secret, err := h.Webhooks.CreateEndpoint(ctx, in)
	if err != nil {
		p := views.WebhookNewPage{Page: h.page(c, "Add a webhook endpoint", views.SectionWebhooks), Form: webhookForm(in.URL, in.Description, in.EventTypes, true)}
		if !webhookFormError(&p.Form, err) {
			return err
		}
		return h.render(c, http.StatusUnprocessableEntity, views.WebhookNew(p))
	}
	h.Log.InfoContext(ctx, "console: webhook endpoint created", "endpoint", e.ID, "admin", h.consoleActor(c))
	h.flash(c, views.Flash{
		Kind:        "success",
		Text:        "Endpoint added. Give your backend this signing secret so it can verify each request.",
		Secret:      secret,
		SecretLabel: webhookSecretLabel,
	})
	return redirect(c, webhookURL(e.ID))
}

// webhookStatuses are the delivery log's status filter choices.
var webhookStatuses = []views.AppsOption{
	{Value: "", Label: "All statuses"},
	{Value: store.DeliveryPending, Label: "Pending"},
	{Value: store.DeliveryDelivered, Label: "Delivered"},
	{Value: store.DeliveryFailed, Label: "Failed"},
	{Value: store.DeliveryDisabled, Label: "Stopped (endpoint disabled)"},
}

func (h *Handler) webhookDetail(c echo.Context) error {
	e, err := h.Webhooks.GetEndpoint(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	p, err := h.webhookDetailPage(c, e)
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, views.WebhookDetail(p))
}

// webhookDetailPage fills the endpoint page with its settings form and one
// page of its delivery log.
func (h *Handler) webhookDetailPage(c echo.Context, e webhook.Endpoint) (views.WebhookDetailPage, error) {
	row := webhookRow(e)
	p := views.WebhookDetailPage{
		Page:      h.page(c, "Webhook "+e.URL, views.SectionWebhooks),
		Endpoint:  row,
		UpdatedAt: e.UpdatedAt,
		Form:      webhookForm(e.URL, e.Description, e.EventTypes, row.Enabled),
		GraceText: graceText(webhook.DefaultRotationGrace),
		Status:    c.QueryParam("status"),
		Statuses:  webhookStatuses,
	}
	for _, s := range e.Secrets {
		p.Secrets = append(p.Secrets, views.WebhookSecretRow{CreatedAt: s.CreatedAt, ExpiresAt: s.ExpiresAt})
	}
	if !containsOption(p.Statuses, p.Status) {
		p.Status = ""
	}
	cursor := c.QueryParam("cursor")
	if c.Request().Method != http.MethodGet {
		cursor, p.Status = "", ""
	}
	ds, next, err := h.Webhooks.ListDeliveries(c.Request().Context(), e.ID, webhook.DeliveryQuery{Status: p.Status, Limit: webhookDeliveriesPerPage, Cursor: cursor})
	if err != nil {
		return p, pageCursorError(err)
	}
	for _, d := range ds {
		p.Deliveries = append(p.Deliveries, deliveryRow(e.ID, d.WebhookDelivery, len(d.Log)))
	}
	p.DeliveryPage.Count = len(ds)
	if next != "" {
		p.DeliveryPage.NextURL = views.WithQuery(webhookURL(e.ID), url.Values{"status": {p.Status}, "cursor": {next}})
	}
	if cursor != "" {
		p.DeliveryPage.FirstURL = views.WithQuery(webhookURL(e.ID), url.Values{"status": {p.Status}})
	}
	return p, nil
}

func deliveryRow(endpointID string, d store.WebhookDelivery, logged int) views.WebhookDeliveryRow {
	r := views.WebhookDeliveryRow{
		ID: d.ID, URL: webhookURL(endpointID) + "/deliveries/" + url.PathEscape(d.ID),
		EventID: d.EventID, EventType: d.EventType, ConnectionID: d.ConnectionID, Status: d.Status,
		Attempts: d.Attempts, Logged: logged, LastStatusCode: d.LastStatusCode, LastError: d.LastError,
		NextAttemptAt: d.NextAttemptAt, DeliveredAt: d.DeliveredAt, CreatedAt: d.CreatedAt,
	}
	if d.ConnectionID != "" {
		r.ConnectionURL = "/console/connections/" + url.PathEscape(d.ConnectionID)
	}
	return r
}

// graceText says a duration in whole hours or minutes ("24 hours").
func graceText(d time.Duration) string {
	if d >= time.Hour && d%time.Hour == 0 {
		h := int(d / time.Hour)
		if h == 1 {
			return "1 hour"
		}
		return strconv.Itoa(h) + " hours"
	}
	m := int(d / time.Minute)
	if m == 1 {
		return "1 minute"
	}
	return strconv.Itoa(m) + " minutes"
}

func (h *Handler) webhookUpdate(c echo.Context) error {
	ctx := c.Request().Context()
	e, err := h.Webhooks.GetEndpoint(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	form, err := formValues(c)
	if err != nil {
		return err
	}
	rawURL, desc, types := form.Get("url"), form.Get("description"), form["events"]
	if types == nil {
		types = []string{}
	}
	enabled := form.Get("enabled") == "true"
	patch := webhook.EndpointPatch{Description: &desc, EventTypes: &types, Enabled: &enabled}
	if e.Source != store.WebhookSourceEnv || rawURL != "" {
		patch.URL = &rawURL
	}
	updated, err := h.Webhooks.UpdateEndpoint(ctx, e.ID, patch)
	if err != nil {
		p, perr := h.webhookDetailPage(c, e)
		if perr != nil {
			return perr
		}
		p.Form = webhookForm(rawURL, desc, types, enabled)
		if !webhookFormError(&p.Form, err) {
			return err
		}
		return h.render(c, http.StatusUnprocessableEntity, views.WebhookDetail(p))
	}
	h.Log.InfoContext(ctx, "console: webhook endpoint updated", "endpoint", e.ID, "enabled", enabled, "admin", h.consoleActor(c))
	text := "Endpoint saved."
	switch {
	case e.DisabledAt == nil && updated.DisabledAt != nil:
		text = "Endpoint saved and disabled: no events are sent to it, and its pending deliveries are stopped."
	case e.DisabledAt != nil && updated.DisabledAt == nil:
		text = "Endpoint saved and enabled: events recorded from now on are sent to it."
	}
	h.flash(c, views.Flash{Kind: "success", Text: text})
	return redirect(c, webhookURL(e.ID))
}

func (h *Handler) webhookRotate(c echo.Context) error {
	ctx := c.Request().Context()
	id := c.Param("id")
	e, secret, err := h.Webhooks.RotateSecret(ctx, id, webhook.RotateInput{})
	if fe, ok := fault.As(err); ok && fe.Kind == fault.Conflict {
		h.flash(c, views.Flash{Kind: "error", Text: fe.Message})
		return redirect(c, webhookURL(id))
	}
	if err != nil {
		return err
	}
	h.Log.InfoContext(ctx, "console: webhook secret rotated", "endpoint", e.ID, "admin", h.consoleActor(c))
	h.flash(c, views.Flash{
		Kind: "success",
		Text: "Secret rotated. The previous secret keeps signing for " + graceText(webhook.DefaultRotationGrace) +
			", so update your backend within that time.",
		Secret:      secret,
		SecretLabel: webhookSecretLabel,
	})
	return redirect(c, webhookURL(e.ID))
}

// endpointDelivery loads the endpoint and the delivery named by the path,
// refusing a delivery that belongs to another endpoint.
func (h *Handler) endpointDelivery(c echo.Context) (webhook.Endpoint, store.WebhookDelivery, error) {
	ctx := c.Request().Context()
	e, err := h.Webhooks.GetEndpoint(ctx, c.Param("id"))
	if err != nil {
		return webhook.Endpoint{}, store.WebhookDelivery{}, err
	}
	d, err := h.Store.GetWebhookDelivery(ctx, c.Param("did"))
	if errors.Is(err, store.ErrNotFound) || (err == nil && d.EndpointID != e.ID) {
		return e, d, fault.New(fault.NotFound, "delivery_not_found", "This endpoint has no such delivery.")
	}
	return e, d, err
}

func (h *Handler) webhookDelivery(c echo.Context) error {
	e, d, err := h.endpointDelivery(c)
	if err != nil {
		return err
	}
	attempts, err := h.Store.ListWebhookAttempts(c.Request().Context(), []string{d.ID})
	if err != nil {
		return err
	}
	p := views.WebhookDeliveryPage{
		Page:         h.page(c, d.EventType+" delivery", views.SectionWebhooks),
		Endpoint:     webhookRow(e),
		Delivery:     deliveryRow(e.ID, d, len(attempts)),
		CanRedeliver: e.DisabledAt == nil,
	}
	if !p.CanRedeliver {
		p.RedeliverReason = "The endpoint is disabled; enable it before redelivering."
	}
	for _, a := range attempts {
		p.Attempts = append(p.Attempts, views.WebhookAttemptRow{At: a.AttemptedAt, StatusCode: a.StatusCode, Error: a.Error, LatencyMS: a.LatencyMS, Response: a.ResponseExcerpt})
	}
	var buf bytes.Buffer
	if json.Indent(&buf, d.Payload, "", "  ") == nil {
		p.Payload = buf.String()
	} else {
		p.Payload = string(d.Payload)
	}
	return h.render(c, http.StatusOK, views.WebhookDeliveryDetail(p))
}

func (h *Handler) webhookRedeliver(c echo.Context) error {
	e, d, err := h.endpointDelivery(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	back := webhookURL(e.ID) + "/deliveries/" + url.PathEscape(d.ID)
	out, err := h.Webhooks.Redeliver(ctx, d.ID)
	if fe, ok := fault.As(err); ok && fe.Kind == fault.Conflict {
		h.flash(c, views.Flash{Kind: "error", Text: fe.Message})
		return redirect(c, back)
	}
	if err != nil {
		return err
	}
	h.Log.InfoContext(ctx, "console: webhook redelivered", "delivery", d.ID, "endpoint", e.ID, "admin", h.consoleActor(c))
	fl := views.Flash{Kind: "error", Text: "Redelivery sent, but no attempt was logged."}
	if n := len(out.Log); n > 0 {
		a := out.Log[n-1]
		switch {
		case a.Error == "" && a.StatusCode >= 200 && a.StatusCode < 300:
			fl = views.Flash{Kind: "success", Text: "Redelivered: the endpoint answered " + strconv.Itoa(a.StatusCode) + "."}
		case a.Error != "":
			fl.Text = "Redelivery failed: " + strings.TrimSuffix(a.Error, ".") + "."
		default:
			fl.Text = "Redelivery failed: the endpoint answered " + strconv.Itoa(a.StatusCode) + "."
		}
	}
	h.flash(c, fl)
	return redirect(c, back)
}
