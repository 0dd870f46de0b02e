package console

import (
	"strconv"
	"time"
)

// DashboardPage is the console's front page: is anything broken, and where.
type DashboardPage struct {
	Page
	Stats      DashboardStats
	WindowDays int // days the charts and rates cover
	// AsOf is when the tiles and charts were read when they are a recent copy
	// (large installs); zero when they are live.
	AsOf time.Time

	Sessions  StackedBars // connect sessions per day by outcome
	Refreshes StackedBars // refresh attempts per day by outcome
	TopApps   HBars       // live connections per app

	// Attention lists the most recently disconnected connections, newest first.
	Attention []AttentionItem
}

// DashboardStats are the numbers of the tiles.
type DashboardStats struct {
	Active, Disconnected, Archived int
	// SessionsStarted and SessionsCompleted cover the window.
	SessionsStarted, SessionsCompleted int
	// RefreshAttempts and RefreshSucceeded cover the window.
	RefreshAttempts, RefreshSucceeded int
}

// ConnectRate is the share of the window's connect sessions that completed.
func (s DashboardStats) ConnectRate() string { return Percent(s.SessionsCompleted, s.SessionsStarted) }

// RefreshRate is the share of the window's refresh attempts that succeeded.
func (s DashboardStats) RefreshRate() string { return Percent(s.RefreshSucceeded, s.RefreshAttempts) }

// AttentionItem is one disconnected connection on the dashboard.
type AttentionItem struct {
	ID, Name             string
	TenantKey            string
	AppKey, AppName      string
	Logo                 string // "" shows the monogram
	ErrorCode, ErrorText string
	Since                time.Time // when it was last updated, which a disconnection does
}

// URL is the connection's console page.
func (a AttentionItem) URL() string { return "/console/connections/" + a.ID }

// Sub is the line under the name: the tenant, after the app when the name
// is not the app's.
func (a AttentionItem) Sub() string {
	if a.Name == a.AppName {
		return a.TenantKey
	}
	return a.AppName + " · " + a.TenantKey
}

// DisconnectedURL lists the disconnected connections.
const DisconnectedURL = "/console/connections?state=disconnected"

// Percent writes part of whole as a percentage with at most one decimal,
// rounded down so that it shows 100% only when nothing was missed; "—" when
// whole is 0.
func Percent(part, whole int) string {
	if whole <= 0 {
		return "—"
	}
	tenths := int64(part) * 1000 / int64(whole)
	s := strconv.FormatInt(tenths/10, 10)
	if r := tenths % 10; r != 0 {
		s += "." + strconv.FormatInt(r, 10)
	}
	return s + "%"
}

// dashStatClass is a tile's class; tone "danger" colours its value.
func dashStatClass(tone string) string {
	if tone == "" {
		return "c-panel c-stat"
	}
	return "c-panel c-stat c-stat--" + tone
}

// Thousands writes n with comma thousands separators: 12,345.
func Thousands(n int) string {
	s := strconv.Itoa(n)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		return "-" + s
	}
	return s
}

// disconnectedTone colours the Disconnected tile red while any need attention.
func disconnectedTone(n int) string {
	if n > 0 {
		return "danger"
	}
	return ""
}

// ofTotal writes "5 of 1,234 sessions", or "No sessions yet" when total is 0.
func ofTotal(part, total int, one, many string) string {
	if total == 0 {
		return "No " + many + " yet"
	}
	return Thousands(part) + " of " + countOf(total, one, many)
}

// countOf is Plural with thousands separators: "1 session", "1,234 sessions".
func countOf(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return Thousands(n) + " " + many
}

// dashboardLede says what the page covers and, for a recent copy, how old it is.
func dashboardLede(p DashboardPage) string {
	s := "Every tenant's connections at a glance. Rates and charts cover the last " + strconv.Itoa(p.WindowDays) + " days (UTC)."
	if !p.AsOf.IsZero() {
		s += " Figures as of " + p.AsOf.UTC().Format("15:04:05") + " UTC; the list of disconnected connections is live."
	}
	return s
}
