package cachewebhook

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the webhook's Prometheus metrics, on a registry of their own.
type Metrics struct {
	Registry       *prometheus.Registry
	admissions     *prometheus.CounterVec
	verifyFailures prometheus.Counter
	errors         *prometheus.CounterVec
	latency        prometheus.Histogram
}

// NewMetrics registers the webhook's metrics and the Go and process
// collectors on a new registry.
func NewMetrics() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		admissions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kfpargo_cachewebhook_admissions_total",
			Help: "Pods admitted, by cache decision (hit, miss, skip, error).",
		}, []string{"decision"}),
		verifyFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kfpargo_cachewebhook_verify_failures_total",
			Help: "Entries found whose artifacts were gone or changed (the entry is deleted, the step runs).",
		}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kfpargo_cachewebhook_errors_total",
			Help: "Failures of the webhook itself, by kind; each left the pod unchanged (bad_request: not an AdmissionReview, answered HTTP 4xx).",
		}, []string{"kind"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "kfpargo_cachewebhook_admission_duration_seconds",
			Help:    "Time from receiving an admission request to answering it.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}),
	}
	for _, d := range []Outcome{Hit, Miss, Skip, Error} {
		m.admissions.WithLabelValues(string(d))
	}
	m.Registry.MustRegister(m.admissions, m.verifyFailures, m.errors, m.latency,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// The recorders accept a nil *Metrics, so tests and tools can go without.
// Serve calls them for every request; a Handler calls them only for what
// Serve cannot see (Serve already counts Response.Decision, ErrorKind and
// VerifyFailed).

// Decision counts one answered admission and how long it took.
func (m *Metrics) Decision(d Outcome, took time.Duration) {
	if m == nil {
		return
	}
	m.admissions.WithLabelValues(string(d)).Inc()
	m.latency.Observe(took.Seconds())
}

// VerifyFailure counts an entry whose artifacts were gone or changed.
func (m *Metrics) VerifyFailure() {
	if m != nil {
		m.verifyFailures.Inc()
	}
}

// Error counts a failure of the webhook itself, by kind: Serve's own
// (bad_request, encode, panic, timeout, canceled, handler) or a handler's
// (key, decode, redis, signature, s3).
func (m *Metrics) Error(kind string) {
	if m != nil {
		m.errors.WithLabelValues(kind).Inc()
	}
}
