package console

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/hitchdev/hitch/internal/store"
	views "github.com/hitchdev/hitch/views/console"
)

// dashboardDays is how many UTC days, today included, the dashboard's rates
// and charts cover.
const dashboardDays = 14

// dashboardAttention is how many disconnected connections the dashboard lists.
const dashboardAttention = 8

// dashboardTopApps is how many apps the top-apps chart shows.
const dashboardTopApps = 8

// Series of the dashboard's charts, bottom of the stack first.
var (
	sessionSeries = []views.ChartSeries{
		{Name: "Completed", Tone: views.ToneSuccess},
		{Name: "Failed", Tone: views.ToneDanger},
		{Name: "Cancelled", Tone: views.ToneMuted},
		{Name: "Expired", Tone: views.ToneWarn},
		{Name: "Pending", Tone: views.ToneAccent},
	}
	refreshSeries = []views.ChartSeries{
		{Name: "Succeeded", Tone: views.ToneSuccess},
		{Name: "Transient failure", Tone: views.ToneWarn},
		{Name: "Permanent failure", Tone: views.ToneDanger},
	}
	appSeries = []views.ChartSeries{
		{Name: "Active", Tone: views.ToneSuccess},
		{Name: "Disconnected", Tone: views.ToneDanger},
	}
)

func (h *Handler) registerDashboard(g *echo.Group) {
	g.GET("", h.dashboard)
}

// dashboardData is what the dashboard reads from the store.
type dashboardData struct {
	aggregates
	broken []store.Connection // the latest disconnected connections
	asOf   time.Time          // when the aggregates were read; zero when live
}

// aggregates are the dashboard's whole-table figures: the part whose cost
// grows with the tables.
type aggregates struct {
	counts  store.ConnectionCounts
	byApp   []store.AppCount
	funnel  []store.SessionDay
	refresh []store.RefreshDay
}

// Aggregates that take longer than slowAggregates to read are reused for
// aggregateTTL: on a small install the dashboard is always live, on a large
// one (100,000 connections) it costs one read per half minute per process
// instead of one per view. The attention list is always live.
const (
	slowAggregates = 50 * time.Millisecond
	aggregateTTL   = 30 * time.Second
)

// aggregateCache holds the last slow aggregates of this process.
type aggregateCache struct {
	mu    sync.Mutex
	since time.Time // the window they cover
	at    time.Time // when they were read
	v     aggregates
}

func (a *aggregateCache) get(since, now time.Time) (aggregates, time.Time, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.at.IsZero() || !a.since.Equal(since) || now.Sub(a.at) >= aggregateTTL || now.Before(a.at) {
		return aggregates{}, time.Time{}, false
	}
	return a.v, a.at, true
}

func (a *aggregateCache) put(since, at time.Time, v aggregates) {
	a.mu.Lock()
	a.since, a.at, a.v = since, at, v
	a.mu.Unlock()
}

// loadDashboard runs the dashboard's independent queries side by side: the
// page waits for the slowest instead of their sum.
func (h *Handler) loadDashboard(ctx context.Context, since, now time.Time) (dashboardData, error) {
	var (
		d    dashboardData
		wg   sync.WaitGroup
		errs [4]error
	)
	run := func(i int, fn func() error) {
		wg.Go(func() { errs[i] = fn() })
	}
	run(0, func() (err error) { d.broken, err = h.Store.RecentlyDisconnected(ctx, dashboardAttention); return })
	start := time.Now()
	cached, at, ok := h.aggregates.get(since, now)
	if ok {
		d.aggregates, d.asOf = cached, at
	} else {
		run(1, func() (err error) {
			d.counts, d.byApp, err = h.Store.TallyConnections(ctx)
			d.byApp = d.byApp[:min(len(d.byApp), dashboardTopApps)]
			return
		})
		run(2, func() (err error) { d.funnel, err = h.Store.SessionFunnel(ctx, since, now); return })
		run(3, func() (err error) { d.refresh, err = h.Store.RefreshActivity(ctx, since); return })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return dashboardData{}, err
		}
	}
	if !ok && time.Since(start) > slowAggregates {
		h.aggregates.put(since, now, d.aggregates)
	}
	return d, nil
}

func (h *Handler) dashboard(c echo.Context) error {
	now := h.Now().UTC()
	since := views.DayOf(now).AddDate(0, 0, -(dashboardDays - 1))
	d, err := h.loadDashboard(c.Request().Context(), since, now)
	if err != nil {
		return err
	}

	p := views.DashboardPage{Page: h.page(c, "Dashboard", views.SectionDashboard), WindowDays: dashboardDays, AsOf: d.asOf}
	p.Stats.Active, p.Stats.Disconnected, p.Stats.Archived = d.counts.Active, d.counts.Disconnected, d.counts.Archived

	sessions := make([]views.DayCounts, len(d.funnel))
	for i, s := range d.funnel {
		p.Stats.SessionsStarted += s.Started
		p.Stats.SessionsCompleted += s.Completed
		// Expired already counts pending sessions past their expiry; what is
		// left is still open.
		pending := max(0, s.Started-s.Completed-s.Failed-s.Cancelled-s.Expired)
		sessions[i] = views.DayCounts{Day: s.Day, Values: []int{s.Completed, s.Failed, s.Cancelled, s.Expired, pending}}
	}
	p.Sessions = views.LayoutStackedBars(views.DayBarsBox, sessionSeries, views.FillDays(since, dashboardDays, len(sessionSeries), sessions))

	refreshes := make([]views.DayCounts, len(d.refresh))
	for i, r := range d.refresh {
		p.Stats.RefreshAttempts += r.Success + r.Transient + r.Permanent
		p.Stats.RefreshSucceeded += r.Success
		refreshes[i] = views.DayCounts{Day: r.Day, Values: []int{r.Success, r.Transient, r.Permanent}}
	}
	p.Refreshes = views.LayoutStackedBars(views.DayBarsBox, refreshSeries, views.FillDays(since, dashboardDays, len(refreshSeries), refreshes))

	rows := make([]views.HBarRow, len(d.byApp))
	for i, a := range d.byApp {
		name, _ := h.dashAppLook(a.AppKey)
		rows[i] = views.HBarRow{Label: name, Values: []int{a.Active, a.Disconnected},
			URL: views.WithQuery("/console/connections", url.Values{"app": {a.AppKey}})}
	}
	p.TopApps = views.LayoutHBars(appSeries, rows)

	for _, con := range d.broken {
		name, logo := h.dashAppLook(con.AppKey)
		item := views.AttentionItem{
			ID: con.ID, Name: con.Name, TenantKey: con.TenantKey, AppKey: con.AppKey, AppName: name, Logo: logo,
			ErrorCode: con.ErrorCode, ErrorText: con.ErrorMessage, Since: con.UpdatedAt,
		}
		if item.Name == "" {
			item.Name = name
		}
		p.Attention = append(p.Attention, item)
	}
	return h.render(c, http.StatusOK, views.Dashboard(p))
}

// dashAppLook is an app's display name and a logo the page's CSP lets load (one
// served by Hitch); an app no longer in the catalog goes by its key.
func (h *Handler) dashAppLook(key string) (name, logo string) {
	a, ok := h.Catalog.Get(key)
	if !ok {
		return key, ""
	}
	if strings.HasPrefix(a.Logo, "/") && !strings.HasPrefix(a.Logo, "//") {
		logo = a.Logo
	}
	return a.Name, logo
}
