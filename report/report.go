package report

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"

	"github.com/kfpargo/kfpargo/runview"
)

//go:embed report.html.tmpl
var pageTemplate string

// The template is parsed once per Render: Render is called once per
// command, and no package state is kept.
func parse() (*template.Template, error) {
	return template.New("report").Funcs(template.FuncMap{
		"time":     formatTime,
		"seconds":  formatSeconds,
		"size":     runview.FormatSize,
		"isURL":    isHTTP,
		"add":      func(a, b int) int { return a + b },
		"addf":     func(a, b float64) float64 { return a + b },
		"half":     func(a int) int { return a / 2 },
		"cacheTag": cacheTag,
	}).Parse(pageTemplate)
}

// page is what the template draws.
type page struct {
	Run       *runview.Run
	Graph     graph
	Gantt     gantt
	Bars      barChart
	Legend    []phaseStyle
	Steps     []stepView
	Cached    int
	Ran       int
	HasMetric bool
}

type stepView struct {
	*runview.Step
	Index          int
	Style          phaseStyle
	Classification []classView
}

type classView struct {
	Artifact  string
	Heat      *heatMap
	ROC       *rocChart
	ROCPoints int
}

// Render writes the run as one self-contained HTML page: no external
// stylesheets, scripts, fonts or images, so it can be mailed or attached
// to a ticket and opened offline.
func Render(w io.Writer, run *runview.Run) error {
	if run == nil {
		return errors.New("report: no run")
	}
	t, err := parse()
	if err != nil {
		return fmt.Errorf("report template: %w", err)
	}
	p := page{Run: run, Graph: layout(run), Gantt: timeline(run), Bars: metricBars(run), Legend: legend()}
	for i := range run.Steps {
		s := &run.Steps[i]
		sv := stepView{Step: s, Index: i, Style: styleOf(s)}
		for _, c := range s.Classification {
			sv.Classification = append(sv.Classification, classView{
				Artifact: c.Artifact, Heat: confusionHeat(c.ConfusionMatrix), ROC: rocCurve(c.ROC), ROCPoints: c.ROCPoints,
			})
			p.HasMetric = true
		}
		if len(s.Metrics) > 0 {
			p.HasMetric = true
		}
		switch {
		case s.Cached:
			p.Cached++
		case s.Pods > 0 || s.Phase == "Succeeded" || s.Phase == "Failed" || s.Phase == "Error":
			p.Ran++
		}
		p.Steps = append(p.Steps, sv)
	}
	// Render to memory first: a template error must not leave half a page.
	var buf bytes.Buffer
	if err := t.Execute(&buf, p); err != nil {
		return fmt.Errorf("report of run %s: %w", run.Name, err)
	}
	_, err = w.Write(buf.Bytes())
	return err
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// isHTTP tells URIs a browser can open; s3:// and minio:// ones are shown
// as text to copy.
func isHTTP(uri string) bool {
	return strings.HasPrefix(uri, "https://") || strings.HasPrefix(uri, "http://")
}

func cacheTag(s *runview.Step) string {
	if s.Cache == nil {
		return "-"
	}
	if s.Cache.Reason != "" {
		return s.Cache.Decision + ": " + s.Cache.Reason
	}
	return s.Cache.Decision
}
