package console

import (
	"strconv"
	"strings"
	"time"
)

// WebhooksPage lists the webhook endpoints.
type WebhooksPage struct {
	Page
	Endpoints []WebhookEndpointRow
	Pager     Pager
}

// WebhookEndpointRow is one endpoint in the list.
type WebhookEndpointRow struct {
	ID, URL, Description string
	DetailURL            string
	EventTypes           []string // empty: every event
	FromEnv              bool     // configured by HITCH_WEBHOOK_URL
	Enabled              bool
	DisabledReason       string
	DisabledAt           *time.Time
	CreatedAt            time.Time
}

// WebhookEventOption is one event type checkbox.
type WebhookEventOption struct {
	Type, Help string
	Checked    bool
}

// WebhookForm is the endpoint form's values and the messages beside its fields.
type WebhookForm struct {
	URL, Description string
	Events           []WebhookEventOption
	Enabled          bool
	URLError         string
	DescriptionError string
	EventsError      string
	Error            string // a message that belongs to no single field
}

// WebhookNewPage is the form that adds an endpoint.
type WebhookNewPage struct {
	Page
	Form WebhookForm
}

// WebhookSecretRow describes one signing secret in use, never its value.
type WebhookSecretRow struct {
	CreatedAt time.Time
	ExpiresAt *time.Time // nil: the current secret
}

// WebhookDetailPage is one endpoint: its settings, secrets and delivery log.
type WebhookDetailPage struct {
	Page
	Endpoint     WebhookEndpointRow
	UpdatedAt    time.Time
	Form         WebhookForm
	Secrets      []WebhookSecretRow
	GraceText    string // how long a replaced secret keeps signing ("24 hours")
	Status       string // the delivery log's status filter
	Statuses     []AppsOption
	Deliveries   []WebhookDeliveryRow
	DeliveryPage Pager
}

// WebhookDeliveryRow is one delivery in an endpoint's log.
type WebhookDeliveryRow struct {
	ID, URL        string
	EventID        string
	EventType      string
	ConnectionID   string
	ConnectionURL  string
	Status         string
	Attempts       int // scheduled attempts made
	Logged         int // attempts in the log, redeliveries included
	LastStatusCode int
	LastError      string
	NextAttemptAt  *time.Time
	DeliveredAt    *time.Time
	CreatedAt      time.Time
}

// WebhookAttemptRow is one request to the endpoint.
type WebhookAttemptRow struct {
	At         time.Time
	StatusCode int
	Error      string
	LatencyMS  int
	Response   string // the start of the response body
}

// WebhookDeliveryPage is one delivery with its attempts.
type WebhookDeliveryPage struct {
	Page
	Endpoint        WebhookEndpointRow
	Delivery        WebhookDeliveryRow
	Attempts        []WebhookAttemptRow
	Payload         string // the body sent, indented
	CanRedeliver    bool
	RedeliverReason string // why not, when CanRedeliver is false
}

// webhookStatusBadge maps a delivery status to a badge kind and label.
func webhookStatusBadge(status string) (string, string) {
	switch status {
	case "delivered":
		return "success", "Delivered"
	case "pending":
		return "accent", "Pending"
	case "failed":
		return "danger", "Failed"
	case "disabled":
		return "muted", "Stopped"
	}
	return "muted", status
}

func webhookBadgeKind(status string) string { k, _ := webhookStatusBadge(status); return k }

func webhookBadgeText(status string) string { _, t := webhookStatusBadge(status); return t }

// webhookEvents describes an endpoint's event filter.
func webhookEvents(types []string) string {
	if len(types) == 0 {
		return "All events"
	}
	return strings.Join(types, ", ")
}

// webhookHTTP shows an HTTP status, or a dash when there was no response.
func webhookHTTP(code int) string {
	if code == 0 {
		return "—"
	}
	return strconv.Itoa(code)
}

// webhookHTTPKind colours an HTTP status.
func webhookHTTPKind(code int) string {
	switch {
	case code == 0:
		return "muted"
	case code >= 200 && code < 300:
		return "success"
	case code == 410 || code >= 500:
		return "danger"
	}
	return "warn"
}

func webhookMS(ms int) string { return strconv.Itoa(ms) + " ms" }

func webhookItoa(n int) string { return strconv.Itoa(n) }

// webhookDisabledText explains a disabled endpoint.
func webhookDisabledText(e WebhookEndpointRow) string {
	s := "This endpoint is disabled"
	if e.DisabledReason != "" {
		s += " (" + e.DisabledReason + ")"
	}
	if e.DisabledAt != nil {
		s += " since " + Stamp(*e.DisabledAt)
	}
	return s + ". No events are sent to it. Enabling it sends the events recorded from then on; stopped deliveries can be redelivered."
}
