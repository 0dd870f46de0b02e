package console

import (
	"context"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/a-h/templ"
)

var chartDay0 = time.Date(2025, 11, 1, 0, 0, 0, 0, time.UTC)

var chartTestSeries = []ChartSeries{{"Completed", ToneSuccess}, {"Failed", ToneDanger}, {"Pending", ToneAccent}}

func chartNear(a, b float64) bool { return math.Abs(a-b) < 1e-6 }

func TestChartNiceAxis(t *testing.T) {
	tests := []struct {
		max  int
		want []int
	}{
		{-3, []int{0}},
		{0, []int{0}},
		{1, []int{0, 1, 2}},
		{2, []int{0, 1, 2}},
		{3, []int{0, 1, 2, 3}},
		{4, []int{0, 1, 2, 3, 4}},
		{5, []int{0, 2, 4, 6}},
		{7, []int{0, 2, 4, 6, 8}},
		{9, []int{0, 5, 10}},
		{10, []int{0, 5, 10}},
		{11, []int{0, 5, 10, 15}},
		{40, []int{0, 10, 20, 30, 40}},
		{41, []int{0, 20, 40, 60}},
		{99, []int{0, 50, 100}},
		{123456, []int{0, 50000, 100000, 150000}},
		{2_000_001, []int{0, 1_000_000, 2_000_000, 3_000_000}},
	}
	for _, tt := range tests {
		if got := NiceAxis(tt.max); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("NiceAxis(%d) = %v; want %v", tt.max, got, tt.want)
		}
	}
	// Every count: 3 to 5 ticks from 0, a 1-2-5 step, the top covering max.
	for m := 1; m <= 20000; m++ {
		ticks := NiceAxis(m)
		if n := len(ticks); n < 3 || n > 5 {
			t.Fatalf("NiceAxis(%d) has %d ticks: %v", m, n, ticks)
		}
		step := ticks[1]
		for step%10 == 0 {
			step /= 10
		}
		if step != 1 && step != 2 && step != 5 {
			t.Fatalf("NiceAxis(%d) step %d is not 1, 2 or 5 × 10^n", m, ticks[1])
		}
		if top := ticks[len(ticks)-1]; top < m || top-ticks[1] >= m && len(ticks) > 3 {
			t.Fatalf("NiceAxis(%d) = %v does not fit max snugly", m, ticks)
		}
	}
}

func TestChartFillDays(t *testing.T) {
	got := FillDays(chartDay0.Add(15*time.Hour), 14, 3, []DayCounts{
		{Day: chartDay0.AddDate(0, 0, -1), Values: []int{9, 9, 9}},                  // before the range
		{Day: chartDay0, Values: []int{1, 2, 3}},                                    // first day
		{Day: chartDay0.AddDate(0, 0, 5).Add(23 * time.Hour), Values: []int{4}},     // late in a day, short
		{Day: chartDay0.AddDate(0, 0, 5).Add(time.Hour), Values: []int{1, 1, 1, 7}}, // same day again, long
		{Day: chartDay0.AddDate(0, 0, 13), Values: []int{0, 0, 6}},                  // last day
		{Day: chartDay0.AddDate(0, 0, 14), Values: []int{9, 9, 9}},                  // after the range
	})
	if len(got) != 14 {
		t.Fatalf("FillDays gave %d days; want 14", len(got))
	}
	want := map[int][]int{0: {1, 2, 3}, 5: {5, 1, 1}, 13: {0, 0, 6}}
	for i, d := range got {
		if !d.Day.Equal(chartDay0.AddDate(0, 0, i)) || d.Day.Location() != time.UTC {
			t.Errorf("day %d is %v; want %v", i, d.Day, chartDay0.AddDate(0, 0, i))
		}
		w, ok := want[i]
		if !ok {
			w = []int{0, 0, 0}
		}
		if !reflect.DeepEqual(d.Values, w) {
			t.Errorf("day %d values %v; want %v", i, d.Values, w)
		}
	}
	if got := FillDays(chartDay0, 3, 2, nil); len(got) != 3 || !reflect.DeepEqual(got[2].Values, []int{0, 0}) {
		t.Errorf("FillDays with no data = %+v; want 3 zero days", got)
	}
}

func TestChartStackedBars(t *testing.T) {
	box := DayBarsBox
	days := func(vals ...[]int) []DayCounts {
		out := make([]DayCounts, len(vals))
		for i, v := range vals {
			out[i] = DayCounts{Day: chartDay0.AddDate(0, 0, i), Values: v}
		}
		return out
	}
	tests := []struct {
		name      string
		days      []DayCounts
		empty     bool
		ticks     []string
		rects     int
		legend    []int
		total     int
		tallestPx float64 // height of the tallest bar
	}{
		{"all zeros", FillDays(chartDay0, 14, 3, nil), true, []string{"0"}, 0, []int{0, 0, 0}, 0, 0},
		{"one day", days([]int{3, 1, 0}), false, []string{"0", "1", "2", "3", "4"}, 2, []int{3, 1, 0}, 4, box.PlotHeight()},
		{"large values", days([]int{120000, 3000, 456}, []int{50, 0, 0}), false, []string{"0", "50k", "100k", "150k"}, 4, []int{120050, 3000, 456}, 123506, 123456.0 / 150000 * box.PlotHeight()},
		{"negative ignored", days([]int{-5, 2, 0}), false, []string{"0", "1", "2"}, 1, []int{0, 2, 0}, 2, box.PlotHeight()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch := LayoutStackedBars(box, chartTestSeries, tt.days)
			if ch.Empty != tt.empty {
				t.Errorf("Empty = %v; want %v", ch.Empty, tt.empty)
			}
			var labels []string
			for _, tk := range ch.Ticks {
				labels = append(labels, tk.Label)
			}
			if !reflect.DeepEqual(labels, tt.ticks) {
				t.Errorf("ticks %v; want %v", labels, tt.ticks)
			}
			if ch.Ticks[0].Y != box.Baseline() {
				t.Errorf("tick 0 at y %v; want the baseline %v", ch.Ticks[0].Y, box.Baseline())
			}
			if len(ch.Ticks) > 1 && !chartNear(ch.Ticks[len(ch.Ticks)-1].Y, box.Top) {
				t.Errorf("top tick at y %v; want the plot top %v", ch.Ticks[len(ch.Ticks)-1].Y, box.Top)
			}
			if len(ch.Rects) != tt.rects {
				t.Errorf("%d rects; want %d: %+v", len(ch.Rects), tt.rects, ch.Rects)
			}
			if ch.Total != tt.total {
				t.Errorf("Total = %d; want %d", ch.Total, tt.total)
			}
			for i, l := range ch.Legend {
				if l.Total != tt.legend[i] || l.Name != chartTestSeries[i].Name {
					t.Errorf("legend %d = %+v; want %s %d", i, l, chartTestSeries[i].Name, tt.legend[i])
				}
			}
			tallest := 0.0
			for _, r := range ch.Rects {
				tallest = math.Max(tallest, box.Baseline()-r.Y)
				if r.X < box.Left || r.X+r.W > box.Width-box.Right || r.H <= 0 {
					t.Errorf("rect %+v leaves the plot", r)
				}
			}
			if !chartNear(tallest, tt.tallestPx) {
				t.Errorf("tallest bar %v px; want %v", tallest, tt.tallestPx)
			}
			if len(ch.XLabels) == 0 || ch.XLabels[len(ch.XLabels)-1].Text != tt.days[len(tt.days)-1].Day.Format("Jan 2") {
				t.Errorf("x labels %+v; want the last day labelled", ch.XLabels)
			}
		})
	}
}

func TestChartStackingOrder(t *testing.T) {
	ch := LayoutStackedBars(DayBarsBox, chartTestSeries, []DayCounts{
		{Day: chartDay0, Values: []int{5, 3, 2}},
		{Day: chartDay0.AddDate(0, 0, 1), Values: []int{0, 4, 0}},
	})
	var tones []string
	for _, r := range ch.Rects {
		tones = append(tones, r.Tone)
	}
	if want := []string{ToneSuccess, ToneDanger, ToneAccent, ToneDanger}; !reflect.DeepEqual(tones, want) {
		t.Fatalf("rect tones %v; want %v", tones, want)
	}
	// Day one: series bottom up, each segment sitting on the previous one.
	base := DayBarsBox.Baseline()
	for i, r := range ch.Rects[:3] {
		if !chartNear(r.Y+r.H, base) {
			t.Errorf("segment %d ends at %v; want %v", i, r.Y+r.H, base)
		}
		base = r.Y
	}
	// Top of the axis is 10 (max 10): the bar fills the plot height.
	if !chartNear(base, DayBarsBox.Top) {
		t.Errorf("bar top at %v; want %v", base, DayBarsBox.Top)
	}
	if ch.Rects[0].Title != "Nov 1: 5 completed" || ch.Rects[3].Title != "Nov 2: 4 failed" {
		t.Errorf("titles %q, %q", ch.Rects[0].Title, ch.Rects[3].Title)
	}
	if ch.Rects[3].X <= ch.Rects[0].X || ch.Rects[3].W != ch.Rects[0].W {
		t.Errorf("day two's bar %+v is not right of day one's %+v", ch.Rects[3], ch.Rects[0])
	}
}

func TestChartTinySegmentsShow(t *testing.T) {
	ch := LayoutStackedBars(DayBarsBox, chartTestSeries, []DayCounts{{Day: chartDay0, Values: []int{10000, 1, 1}}})
	if len(ch.Rects) != 3 {
		t.Fatalf("%d rects; want 3", len(ch.Rects))
	}
	for _, r := range ch.Rects[1:] {
		if r.H < minSegment {
			t.Errorf("segment %q is %v high; want at least %v", r.Title, r.H, minSegment)
		}
	}
	total := ch.Rects[0].H + ch.Rects[1].H + ch.Rects[2].H
	if want := 10002.0 / float64(ch.Top) * DayBarsBox.PlotHeight(); !chartNear(total, want) {
		t.Errorf("bar height %v; want the true %v", total, want)
	}
}

func TestChartXLabelsSpaced(t *testing.T) {
	ch := LayoutStackedBars(DayBarsBox, chartTestSeries, FillDays(chartDay0, 14, 3, nil))
	if n := len(ch.XLabels); n < 3 || n > 8 {
		t.Fatalf("%d x labels for 14 days; want a few", n)
	}
	for i := 1; i < len(ch.XLabels); i++ {
		if gap := ch.XLabels[i].X - ch.XLabels[i-1].X; gap < 50 {
			t.Errorf("labels %q and %q are %v apart", ch.XLabels[i-1].Text, ch.XLabels[i].Text, gap)
		}
	}
	if got := ch.XLabels[len(ch.XLabels)-1].Text; got != "Nov 14" {
		t.Errorf("last label %q; want Nov 14", got)
	}
}

func TestChartHBars(t *testing.T) {
	series := []ChartSeries{{"Active", ToneSuccess}, {"Disconnected", ToneDanger}}
	if ch := LayoutHBars(series, nil); !ch.Empty || len(ch.Lines) != 0 {
		t.Errorf("no rows: Empty %v, %d lines", ch.Empty, len(ch.Lines))
	}
	if ch := LayoutHBars(series, []HBarRow{{Label: "Zero", Values: []int{0, 0}}}); !ch.Empty {
		t.Error("rows of zeros should be Empty")
	}
	ch := LayoutHBars(series, []HBarRow{
		{Label: "HubSpot", Values: []int{30, 10}},
		{Label: "A very long application name indeed", Values: []int{20, 0}},
		{Label: "Slack", Values: []int{0, 3}},
	})
	if ch.Empty || len(ch.Lines) != 3 || ch.Max != 40 {
		t.Fatalf("Empty %v, %d lines, Max %d", ch.Empty, len(ch.Lines), ch.Max)
	}
	pw := ch.Box.PlotWidth()
	first := ch.Lines[0]
	if len(first.Rects) != 2 || !chartNear(first.Rects[0].W+first.Rects[1].W, pw) || first.Rects[1].X != first.Rects[0].X+first.Rects[0].W {
		t.Errorf("the longest row %+v should fill %v, segments side by side", first.Rects, pw)
	}
	if first.Rects[0].Tone != ToneSuccess || first.Rects[1].Tone != ToneDanger {
		t.Errorf("row tones %s, %s", first.Rects[0].Tone, first.Rects[1].Tone)
	}
	if w := ch.Lines[1].Rects[0].W; !chartNear(w, pw/2) {
		t.Errorf("20 of 40 is %v wide; want %v", w, pw/2)
	}
	if l := ch.Lines[1].Label.Text; l != "A very long appl…" || ch.Lines[1].Full != "A very long application name indeed" {
		t.Errorf("long label %q (full %q)", l, ch.Lines[1].Full)
	}
	if len(ch.Lines[2].Rects) != 1 || ch.Lines[2].Rects[0].Tone != ToneDanger || ch.Lines[2].Value.Text != "3" {
		t.Errorf("third row %+v", ch.Lines[2])
	}
	if y0, y1 := ch.Lines[0].Rects[0].Y, ch.Lines[1].Rects[0].Y; y1 <= y0 {
		t.Errorf("rows are not top to bottom: %v then %v", y0, y1)
	}
	if ch.Box.Height < ch.Lines[2].Rects[0].Y+ch.Lines[2].Rects[0].H {
		t.Errorf("box height %v cuts the last row", ch.Box.Height)
	}
}

func TestChartNumbers(t *testing.T) {
	for _, tt := range []struct {
		got, want string
	}{
		{Percent(0, 0), "—"}, {Percent(0, 7), "0%"}, {Percent(7, 7), "100%"}, {Percent(999, 1000), "99.9%"},
		{Percent(9999, 10000), "99.9%"}, {Percent(1, 3), "33.3%"}, {Percent(1, 2), "50%"},
		{Thousands(0), "0"}, {Thousands(999), "999"}, {Thousands(1000), "1,000"}, {Thousands(1234567), "1,234,567"}, {Thousands(-12345), "-12,345"},
		{ShortCount(950), "950"}, {ShortCount(1500), "1.5k"}, {ShortCount(20000), "20k"}, {ShortCount(1_200_000), "1.2M"},
		{chartNum(1.0 / 3), "0.33"}, {chartNum(12), "12"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q; want %q", tt.got, tt.want)
		}
	}
}

func chartRender(t *testing.T, c templ.Component) string {
	t.Helper()
	var b strings.Builder
	if err := c.Render(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestChartRender(t *testing.T) {
	empty := LayoutStackedBars(DayBarsBox, chartTestSeries, FillDays(chartDay0, 14, 3, nil))
	html := chartRender(t, DayBarsChart("c1", "Connect sessions per day", dayBarsDesc(empty, "connect sessions"), empty))
	for _, want := range []string{`<title id="c1-title">Connect sessions per day</title>`, `aria-labelledby="c1-title c1-desc"`,
		`No connect sessions from Nov 1 to Nov 14.`, `No data yet`, `<table class="sr-only">`} {
		if !strings.Contains(html, want) {
			t.Errorf("empty chart lacks %q", want)
		}
	}
	if n := strings.Count(html, "<rect"); n != 0 {
		t.Errorf("empty chart has %d rects", n)
	}

	ch := LayoutStackedBars(DayBarsBox, chartTestSeries, FillDays(chartDay0, 14, 3, []DayCounts{
		{Day: chartDay0.AddDate(0, 0, 2), Values: []int{4, 1, 0}},
		{Day: chartDay0.AddDate(0, 0, 9), Values: []int{2, 0, 1}},
	}))
	html = chartRender(t, DayBarsChart("c2", "Connect sessions per day", dayBarsDesc(ch, "connect sessions"), ch))
	if n := strings.Count(html, "<rect"); n != 4 {
		t.Errorf("chart has %d rects; want 4", n)
	}
	for _, want := range []string{`class="s-success"`, `class="s-danger"`, `class="s-accent"`, `class="k-success"`,
		"8 connect sessions from Nov 1 to Nov 14: 6 completed, 1 failed, 1 pending.", "No data yet"} {
		if got := strings.Contains(html, want); got != (want != "No data yet") {
			t.Errorf("chart contains %q: %v", want, got)
		}
	}
	if strings.Contains(html, "style=") {
		t.Error("chart uses a style attribute, which the CSP refuses")
	}

	apps := LayoutHBars([]ChartSeries{{"Active", ToneSuccess}, {"Disconnected", ToneDanger}}, []HBarRow{{Label: "Hub<Spot>", Values: []int{3, 1}}})
	html = chartRender(t, HBarsChart("a", "Top apps", topAppsDesc(apps), "None", "", apps))
	if strings.Count(html, "<rect") != 2 || !strings.Contains(html, "Hub&lt;Spot&gt;") || strings.Contains(html, "Hub<Spot>") {
		t.Errorf("app chart: %s", html)
	}
	html = chartRender(t, HBarsChart("a", "Top apps", topAppsDesc(LayoutHBars(nil, nil)), "No connections yet", "x", LayoutHBars(nil, nil)))
	if !strings.Contains(html, "No connections yet") || strings.Contains(html, "<svg class=\"c-chart") {
		t.Errorf("empty app chart: %s", html)
	}
}
