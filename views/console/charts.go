package console

import (
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Charts are laid out here, in plain Go, and drawn by charts.templ as inline
// SVG: the geometry is testable without a browser, and the page needs no
// script or external asset. Colours are CSS classes (s-<tone> for marks,
// k-<tone> for legend keys), never style attributes, which the CSP refuses.

// Tones of chart marks; each is a class suffix in console.css.
const (
	ToneAccent  = "accent"
	ToneSuccess = "success"
	ToneDanger  = "danger"
	ToneWarn    = "warn"
	ToneMuted   = "muted"
)

// ChartSeries is one kind of value a chart stacks: its legend label and tone.
type ChartSeries struct {
	Name string
	Tone string
}

// DayCounts is one UTC day's values, one per series, in series order.
type DayCounts struct {
	Day    time.Time
	Values []int
}

// ChartBox is a chart's viewBox and the margins around its plot area.
type ChartBox struct {
	Width, Height            float64
	Left, Right, Top, Bottom float64
}

// PlotWidth is the width of the plot area.
func (b ChartBox) PlotWidth() float64 { return b.Width - b.Left - b.Right }

// PlotHeight is the height of the plot area.
func (b ChartBox) PlotHeight() float64 { return b.Height - b.Top - b.Bottom }

// Baseline is the y of the value zero.
func (b ChartBox) Baseline() float64 { return b.Height - b.Bottom }

// ChartRect is one bar segment. Title is its tooltip ("Nov 12: 3 completed").
type ChartRect struct {
	X, Y, W, H float64
	Tone       string
	Title      string
}

// ChartTick is one y-axis value with its gridline's y.
type ChartTick struct {
	Value int
	Y     float64
	Label string
}

// ChartLabel is a piece of text placed in the chart.
type ChartLabel struct {
	X, Y float64
	Text string
}

// ChartLegendItem is one series with its total over the chart.
type ChartLegendItem struct {
	ChartSeries
	Total int
}

// StackedBars is a vertical stacked bar chart, one bar per day, laid out.
type StackedBars struct {
	Box     ChartBox
	Series  []ChartSeries
	Days    []DayCounts  // one per bar, for the data table
	Rects   []ChartRect  // non-zero segments only, bar by bar, bottom up
	Ticks   []ChartTick  // y axis, from 0 up
	XLabels []ChartLabel // every few days, the last day always
	Legend  []ChartLegendItem
	Top     int // the axis' top value
	Total   int // every value added up
	Empty   bool
}

// DayBarsBox is the viewBox of the daily charts: about the width they get
// in a two-column row, so their text stays close to its CSS size.
var DayBarsBox = ChartBox{Width: 460, Height: 200, Left: 40, Right: 8, Top: 12, Bottom: 26}

// minSegment is the least height of a non-zero segment, so a handful of
// failures among thousands of successes still shows.
const minSegment = 2.0

// FillDays returns n consecutive UTC days from start's day, each with width
// values: the days of got where they fall in the range, zeros elsewhere.
// Values of one day given twice are added up; extra values are dropped.
func FillDays(start time.Time, n, width int, got []DayCounts) []DayCounts {
	first := DayOf(start)
	out := make([]DayCounts, n)
	for i := range out {
		out[i] = DayCounts{Day: first.AddDate(0, 0, i), Values: make([]int, width)}
	}
	for _, d := range got {
		i := int(DayOf(d.Day).Sub(first) / (24 * time.Hour))
		if i < 0 || i >= n {
			continue
		}
		for j, v := range d.Values {
			if j < width {
				out[i].Values[j] += v
			}
		}
	}
	return out
}

// DayOf is t's UTC day at midnight.
func DayOf(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// NiceAxis returns the ticks of a y axis from 0 that covers max: three to
// five ticks, evenly spaced by 1, 2 or 5 × 10^n. A max of 0 or less gives
// the single tick 0.
func NiceAxis(hi int) []int {
	if hi <= 0 {
		return []int{0}
	}
	step := 0
	for pow := 1; step == 0; pow *= 10 {
		for _, m := range []int{1, 2, 5} {
			if s := m * pow; (hi+s-1)/s <= 4 {
				step = s
				break
			}
		}
		if step == 0 && pow > math.MaxInt/100 { // only near MaxInt: one step then
			step = hi
		}
	}
	n := max(2, (hi+step-1)/step)
	ticks := make([]int, n+1)
	for i := range ticks {
		ticks[i] = i * step
	}
	return ticks
}

// ShortCount writes a count for an axis: 950, 1.5k, 20k, 1.2M.
func ShortCount(n int) string {
	abs := n
	if abs < 0 {
		abs = -abs
	}
	switch {
	case abs >= 1_000_000:
		return trimZero(strconv.FormatFloat(float64(n)/1e6, 'f', 1, 64)) + "M"
	case abs >= 1000:
		return trimZero(strconv.FormatFloat(float64(n)/1e3, 'f', 1, 64)) + "k"
	}
	return strconv.Itoa(n)
}

func trimZero(s string) string { return strings.TrimSuffix(s, ".0") }

// LayoutStackedBars lays out one bar per day, the series stacked in order
// from the bottom. A chart whose values are all zero is Empty: a flat
// baseline with the tick 0 and no bars.
func LayoutStackedBars(box ChartBox, series []ChartSeries, days []DayCounts) StackedBars {
	ch := StackedBars{Box: box, Series: series, Days: days}
	ch.Legend = make([]ChartLegendItem, len(series))
	for i, s := range series {
		ch.Legend[i].ChartSeries = s
	}
	dayMax := 0
	for _, d := range days {
		sum := 0
		for j, v := range d.Values {
			if j < len(series) && v > 0 {
				sum += v
				ch.Legend[j].Total += v
			}
		}
		ch.Total += sum
		dayMax = max(dayMax, sum)
	}
	ch.Empty = ch.Total == 0
	ticks := NiceAxis(dayMax)
	ch.Top = ticks[len(ticks)-1]
	ph, base := box.PlotHeight(), box.Baseline()
	for _, v := range ticks {
		y := base
		if ch.Top > 0 {
			y = base - float64(v)/float64(ch.Top)*ph
		}
		ch.Ticks = append(ch.Ticks, ChartTick{Value: v, Y: y, Label: ShortCount(v)})
	}
	if len(days) == 0 {
		return ch
	}

	slot := box.PlotWidth() / float64(len(days))
	barW := math.Min(slot*0.62, 28)
	for i, d := range days {
		x := box.Left + float64(i)*slot + (slot-barW)/2
		if ch.Top > 0 {
			heights := segmentHeights(d.Values, len(series), float64(ch.Top), ph)
			y := base
			for j, h := range heights {
				if h == 0 {
					continue
				}
				y -= h
				ch.Rects = append(ch.Rects, ChartRect{X: x, Y: y, W: barW, H: h, Tone: series[j].Tone,
					Title: d.Day.Format("Jan 2") + ": " + strconv.Itoa(d.Values[j]) + " " + strings.ToLower(series[j].Name)})
			}
		}
	}
	step := labelStep(len(days), box.PlotWidth())
	for i := len(days) - 1; i >= 0; i -= step {
		ch.XLabels = append(ch.XLabels, ChartLabel{X: box.Left + (float64(i)+0.5)*slot, Y: base + 17, Text: days[i].Day.Format("Jan 2")})
	}
	// Left to right, as they read.
	for i, j := 0, len(ch.XLabels)-1; i < j; i, j = i+1, j-1 {
		ch.XLabels[i], ch.XLabels[j] = ch.XLabels[j], ch.XLabels[i]
	}
	return ch
}

// segmentHeights scales a bar's values to heights, lifting non-zero ones to
// minSegment and taking the difference from the tallest segment, so the
// bar's total height stays true where it can.
func segmentHeights(values []int, n int, top, ph float64) []float64 {
	hs := make([]float64, n)
	tallest, deficit := -1, 0.0
	for j := 0; j < n && j < len(values); j++ {
		if values[j] <= 0 {
			continue
		}
		hs[j] = float64(values[j]) / top * ph
		if tallest < 0 || hs[j] > hs[tallest] {
			tallest = j
		}
	}
	for j, h := range hs {
		if h > 0 && h < minSegment {
			deficit += minSegment - h
			hs[j] = minSegment
		}
	}
	if deficit > 0 && tallest >= 0 && hs[tallest]-deficit >= minSegment {
		hs[tallest] -= deficit
	}
	return hs
}

// labelStep is how many days apart the x labels go so that they do not
// collide (about 56 units each), counting back from the last day.
func labelStep(days int, width float64) int {
	fit := max(1, int(width/56))
	return max(1, (days+fit-1)/fit)
}

// HBarRow is one row of a horizontal bar chart: its label, values in series
// order, and an optional link for the label.
type HBarRow struct {
	Label  string
	URL    string
	Values []int
}

// HBarLine is one laid-out row.
type HBarLine struct {
	Label ChartLabel // the row's name, right-aligned before the bar
	Full  string     // the untruncated name, for its tooltip
	URL   string
	Rects []ChartRect
	Value ChartLabel // the row's total after the bar
	Total int
}

// HBars is a horizontal stacked bar chart, one row per item, laid out.
type HBars struct {
	Box    ChartBox
	Series []ChartSeries
	Rows   []HBarRow
	Lines  []HBarLine
	Legend []ChartLegendItem
	Max    int // the longest row's total
	Empty  bool
}

// HBarsWidth is the viewBox width of the horizontal bar chart; rows add height.
const HBarsWidth = 380

// Geometry of HBars rows.
const (
	hbarRow    = 30.0
	hbarThick  = 16.0
	hbarLabelW = 112.0
	hbarValueW = 44.0
	hbarName   = 17 // runes of a name before it is cut with an ellipsis
)

// LayoutHBars lays out one bar per row, scaled so the longest row fills the
// plot width; the series are stacked in order from the left.
func LayoutHBars(series []ChartSeries, rows []HBarRow) HBars {
	box := ChartBox{Width: HBarsWidth, Left: hbarLabelW, Right: hbarValueW, Top: 4, Bottom: 4}
	box.Height = box.Top + box.Bottom + hbarRow*float64(max(len(rows), 1))
	ch := HBars{Box: box, Series: series, Rows: rows}
	ch.Legend = make([]ChartLegendItem, len(series))
	for i, s := range series {
		ch.Legend[i].ChartSeries = s
	}
	totals := make([]int, len(rows))
	for i, r := range rows {
		for j, v := range r.Values {
			if j < len(series) && v > 0 {
				totals[i] += v
				ch.Legend[j].Total += v
			}
		}
		ch.Max = max(ch.Max, totals[i])
	}
	ch.Empty = ch.Max == 0
	if ch.Empty {
		return ch
	}
	pw := box.PlotWidth()
	for i, r := range rows {
		top := box.Top + float64(i)*hbarRow
		mid := top + hbarRow/2
		line := HBarLine{
			Label: ChartLabel{X: box.Left - 10, Y: mid + 4, Text: chartTruncate(r.Label, hbarName)},
			Full:  r.Label, URL: r.URL, Total: totals[i],
		}
		x := box.Left
		for j, h := range segmentHeights(r.Values, len(series), float64(ch.Max), pw) {
			if h == 0 {
				continue
			}
			line.Rects = append(line.Rects, ChartRect{X: x, Y: mid - hbarThick/2, W: h, H: hbarThick, Tone: series[j].Tone,
				Title: r.Label + ": " + strconv.Itoa(r.Values[j]) + " " + strings.ToLower(series[j].Name)})
			x += h
		}
		line.Value = ChartLabel{X: x + 6, Y: mid + 4, Text: ShortCount(totals[i])}
		ch.Lines = append(ch.Lines, line)
	}
	return ch
}

// chartTruncate cuts s to n runes, ending with an ellipsis when it was longer.
func chartTruncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:n-1])) + "…"
}

// chartNum writes a coordinate with at most two decimals.
func chartNum(f float64) string {
	return strconv.FormatFloat(math.Round(f*100)/100, 'f', -1, 64)
}

// viewBox renders a ChartBox's viewBox attribute.
func (b ChartBox) viewBox() string {
	return "0 0 " + chartNum(b.Width) + " " + chartNum(b.Height)
}

// dayBarsDesc sums up a daily chart in a sentence for its <desc>: "42 connect
// sessions from Nov 1 to Nov 14: 40 completed, 2 failed."
func dayBarsDesc(ch StackedBars, noun string) string {
	var b strings.Builder
	if len(ch.Days) > 0 {
		b.WriteString(" from " + ch.Days[0].Day.Format("Jan 2") + " to " + ch.Days[len(ch.Days)-1].Day.Format("Jan 2"))
	}
	if ch.Empty {
		return "No " + noun + b.String() + "."
	}
	s := Thousands(ch.Total) + " " + noun + b.String() + ": "
	for i, it := range ch.Legend {
		if i > 0 {
			s += ", "
		}
		s += Thousands(it.Total) + " " + strings.ToLower(it.Name)
	}
	return s + "."
}

// topAppsDesc sums up the horizontal bar chart in a sentence.
func topAppsDesc(ch HBars) string {
	if ch.Empty {
		return "No live connections."
	}
	s := "Live connections of the " + Plural(len(ch.Rows), "app", "apps") + " with the most: "
	for i, l := range ch.Lines {
		if i > 0 {
			s += "; "
		}
		s += l.Full + " " + Thousands(l.Total)
	}
	return s + "."
}
