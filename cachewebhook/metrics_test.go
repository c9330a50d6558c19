package cachewebhook

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// exposition is what Prometheus would scrape from m.
func exposition(t *testing.T, m *Metrics) string {
	t.Helper()
	w := httptest.NewRecorder()
	promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}).ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	b, err := io.ReadAll(w.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestMetricsRecorders(t *testing.T) {
	cases := []struct {
		name   string
		record func(*Metrics)
		want   []string
	}{
		{"decision", func(m *Metrics) { m.Decision(Hit, 300*time.Microsecond) }, []string{
			`kfpargo_cachewebhook_admissions_total{decision="hit"} 1`,
			`kfpargo_cachewebhook_admission_duration_seconds_bucket{le="0.00025"} 0`,
			`kfpargo_cachewebhook_admission_duration_seconds_bucket{le="0.0005"} 1`,
			`kfpargo_cachewebhook_admission_duration_seconds_count 1`,
		}},
		{"verify failure", func(m *Metrics) { m.VerifyFailure() }, []string{`kfpargo_cachewebhook_verify_failures_total 1`}},
		{"error", func(m *Metrics) { m.Error("redis"); m.Error("redis") }, []string{`kfpargo_cachewebhook_errors_total{kind="redis"} 2`}},
		// Every decision is exported from the start, so a rate() over one
		// that has not happened yet is 0, not absent.
		{"preset", func(*Metrics) {}, []string{
			`kfpargo_cachewebhook_admissions_total{decision="hit"} 0`,
			`kfpargo_cachewebhook_admissions_total{decision="miss"} 0`,
			`kfpargo_cachewebhook_admissions_total{decision="skip"} 0`,
			`kfpargo_cachewebhook_admissions_total{decision="error"} 0`,
			`kfpargo_cachewebhook_verify_failures_total 0`,
			"go_goroutines", "process_start_time_seconds",
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := NewMetrics()
			c.record(m)
			got := exposition(t, m)
			for _, want := range c.want {
				if !strings.Contains(got, want) {
					t.Errorf("exposition lacks %q", want)
				}
			}
		})
	}
}
