package report

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/kfpargo/kfpargo/runview"
)

// phaseStyle is how a step of a phase is drawn.
type phaseStyle struct {
	Name         string // the legend's word
	Fill, Stroke string
	Dashed       bool
}

// The palette: phases by colour, a cache hit by its own colour and a dashed
// border, so a cached step reads as cached before its badge is read.
var (
	styleSucceeded = phaseStyle{"succeeded", "#e6f4ea", "#1e8e3e", false}
	styleCached    = phaseStyle{"cached (outputs replayed)", "#f3e8fd", "#8430ce", true}
	styleFailed    = phaseStyle{"failed / error", "#fce8e6", "#d93025", false}
	styleRunning   = phaseStyle{"running", "#e8f0fe", "#1a73e8", false}
	stylePending   = phaseStyle{"pending", "#f1f3f4", "#80868b", false}
	styleSkipped   = phaseStyle{"skipped / omitted", "#ffffff", "#bdc1c6", true}
)

func legend() []phaseStyle {
	return []phaseStyle{styleSucceeded, styleCached, styleRunning, stylePending, styleFailed, styleSkipped}
}

func styleOf(s *runview.Step) phaseStyle {
	switch {
	case s.Cached && s.Phase == "Succeeded":
		return styleCached
	case s.Phase == "Succeeded":
		return styleSucceeded
	case s.Phase == "Failed" || s.Phase == "Error":
		return styleFailed
	case s.Phase == "Running":
		return styleRunning
	case s.Skipped():
		return styleSkipped
	default:
		return stylePending
	}
}

// ganttBar is one step's bar on the run's time axis.
type ganttBar struct {
	Step        *runview.Step
	Index       int
	Y           int
	X, W        float64
	Label, Time string
	Style       phaseStyle
}

type gantt struct {
	Width, Height int
	LabelW        int
	Bars          []ganttBar
	Ticks         []tick
	AxisY         int
}

type tick struct {
	X     float64
	Label string
}

const (
	ganttRowH   = 24
	ganttLabelW = 210
	ganttPlotW  = 760
)

// timeline draws each started step from its start to its end (now, for a
// step still running: the report's end of time is the run's end or its
// last event).
func timeline(r *runview.Run) gantt {
	var t0, t1 time.Time
	for _, s := range r.Steps {
		if s.Started.IsZero() {
			continue
		}
		if t0.IsZero() || s.Started.Before(t0) {
			t0 = s.Started
		}
		for _, t := range []time.Time{s.Started, s.Finished} {
			if t.After(t1) {
				t1 = t
			}
		}
	}
	if !r.Started.IsZero() && (t0.IsZero() || r.Started.Before(t0)) {
		t0 = r.Started
	}
	if r.Finished.After(t1) {
		t1 = r.Finished
	}
	span := t1.Sub(t0).Seconds()
	if span <= 0 {
		span = 1
	}
	scale := ganttPlotW / span
	g := gantt{LabelW: ganttLabelW, Width: ganttLabelW + ganttPlotW + 70}
	row := 0
	for i := range r.Steps {
		s := &r.Steps[i]
		if s.Started.IsZero() {
			continue
		}
		end := s.Finished
		if end.IsZero() {
			end = t1
		}
		w := math.Max(end.Sub(s.Started).Seconds()*scale, 2)
		label := formatSeconds(end.Sub(s.Started).Seconds())
		if s.Cached {
			label += " (cached)"
		}
		g.Bars = append(g.Bars, ganttBar{
			Step: s, Index: i, Y: row * ganttRowH,
			X: float64(ganttLabelW) + s.Started.Sub(t0).Seconds()*scale, W: w,
			Label: shorten(s.Label(), 28), Time: label, Style: styleOf(s),
		})
		row++
	}
	g.AxisY = row*ganttRowH + 4
	g.Height = g.AxisY + 22
	step := niceStep(span / 6)
	for v := 0.0; v <= span+1e-9; v += step {
		g.Ticks = append(g.Ticks, tick{X: float64(ganttLabelW) + v*scale, Label: formatSeconds(v)})
	}
	return g
}

// niceStep rounds a raw axis step up to 1, 2 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if raw <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= raw {
			return m * p
		}
	}
	return 10 * p
}

// metricBar is a numeric metric drawn against its own scale: metrics of one
// step measure different things (an accuracy in %, a loss, a sample count),
// so one shared axis would flatten all but the largest.
type metricBar struct {
	Step, Artifact, Name string
	Value                string
	Y                    int
	W                    float64
	Scale                string
	Negative             bool
}

type barChart struct {
	Width, Height int
	Bars          []metricBar
}

const (
	barLabelW = 260
	barPlotW  = 420
	barRowH   = 26
)

func metricBars(r *runview.Run) barChart {
	c := barChart{Width: barLabelW + barPlotW + 150}
	for _, s := range r.Steps {
		for _, m := range s.Metrics {
			f, ok := m.Number()
			if !ok || math.IsNaN(f) || math.IsInf(f, 0) {
				continue
			}
			top := niceCeil(math.Abs(f))
			w := 0.0
			if top > 0 {
				w = math.Abs(f) / top * barPlotW
			}
			c.Bars = append(c.Bars, metricBar{
				Step: s.Label(), Artifact: m.Artifact, Name: m.Name, Value: m.Text(),
				Y: len(c.Bars) * barRowH, W: math.Max(w, 1), Scale: "of " + trimFloat(top), Negative: f < 0,
			})
		}
	}
	c.Height = len(c.Bars) * barRowH
	return c
}

// niceCeil is the smallest of 1, 2, 5, 10 times a power of ten that is at
// least v: the end of a bar's scale.
func niceCeil(v float64) float64 {
	if v == 0 {
		return 1
	}
	return niceStep(v)
}

func trimFloat(f float64) string { return fmt.Sprintf("%.6g", f) }

// rocChart is a ROC curve in a square plot.
type rocChart struct {
	Size   int
	Plot   int
	Pad    int
	Points string
	Dots   []rocDot
	AUC    string
	Grid   []tick
}

type rocDot struct {
	X, Y  float64
	Title string
}

const (
	rocPlot = 300
	rocPad  = 40
)

func rocCurve(pts []runview.ROCPoint) *rocChart {
	if len(pts) == 0 {
		return nil
	}
	c := &rocChart{Size: rocPlot + 2*rocPad, Plot: rocPlot, Pad: rocPad}
	var b strings.Builder
	auc := 0.0
	for i, p := range pts {
		x := float64(rocPad) + clamp01(p.FPR)*rocPlot
		y := float64(rocPad) + (1-clamp01(p.TPR))*rocPlot
		fmt.Fprintf(&b, "%.1f,%.1f ", x, y)
		c.Dots = append(c.Dots, rocDot{X: x, Y: y, Title: fmt.Sprintf("threshold %g: FPR %g, TPR %g", p.Threshold, p.FPR, p.TPR)})
		if i > 0 {
			auc += (p.FPR - pts[i-1].FPR) * (p.TPR + pts[i-1].TPR) / 2
		}
	}
	c.Points = strings.TrimSpace(b.String())
	c.AUC = fmt.Sprintf("%.3f", auc)
	for _, v := range []float64{0, 0.25, 0.5, 0.75, 1} {
		c.Grid = append(c.Grid, tick{X: float64(rocPad) + v*rocPlot, Label: trimFloat(v)})
	}
	return c
}

func clamp01(v float64) float64 { return math.Min(math.Max(v, 0), 1) }

// heatCell is a confusion matrix cell, shaded by its share of its row (the
// actual class), so a class with few samples still shows its errors.
type heatCell struct {
	Value string
	Shade string // a background colour
	Dark  bool   // the text needs to be light
	Diag  bool
}

type heatRow struct {
	Class string
	Cells []heatCell
}

type heatMap struct {
	Classes []string
	Rows    []heatRow
}

func confusionHeat(cm *runview.ConfusionMatrix) *heatMap {
	if cm == nil {
		return nil
	}
	h := &heatMap{Classes: cm.Classes}
	for i, row := range cm.Rows {
		total := 0.0
		for _, v := range row {
			total += v
		}
		hr := heatRow{Class: cm.Classes[i]}
		for j, v := range row {
			share := 0.0
			if total > 0 {
				share = v / total
			}
			// From white to a deep blue.
			r := int(255 - share*(255-26))
			g := int(255 - share*(255-83))
			b := int(255 - share*(255-160))
			hr.Cells = append(hr.Cells, heatCell{
				Value: trimFloat(v), Shade: fmt.Sprintf("#%02x%02x%02x", r, g, b), Dark: share > 0.5, Diag: i == j,
			})
		}
		h.Rows = append(h.Rows, hr)
	}
	return h
}
