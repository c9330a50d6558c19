package cachewebhook

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stypes "k8s.io/apimachinery/pkg/types"

	"github.com/kfpargo/kfpargo/cachestore"
)

func review(uid string) []byte {
	r := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{UID: k8stypes.UID("u-" + uid), Namespace: "ns", Operation: admissionv1.Create,
			Kind:   metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
			Object: runtime.RawExtension{Raw: []byte(`{"metadata":{"generateName":"p-"}}`)}},
	}
	b, _ := json.Marshal(r)
	return b
}

// tlsPost sends one request to h over a real HTTPS connection and returns
// the status and raw body.
func tlsPost(t *testing.T, h http.Handler, method string, body []byte, contentType string) (int, []byte) {
	t.Helper()
	srv := httptest.NewTLSServer(h)
	defer srv.Close()
	req, err := http.NewRequest(method, srv.URL+"/mutate", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// checkReview fails unless body is a v1 AdmissionReview allowing uid.
func checkReview(t *testing.T, body []byte, uid string) *admissionv1.AdmissionReview {
	t.Helper()
	var out admissionv1.AdmissionReview
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("response is not a review: %v\n%s", err, body)
	}
	if out.APIVersion != "admission.k8s.io/v1" || out.Kind != "AdmissionReview" || out.Response == nil ||
		!out.Response.Allowed || string(out.Response.UID) != uid {
		t.Fatalf("want an allowing v1 review for %s, got %s", uid, body)
	}
	return &out
}

func TestServe(t *testing.T) {
	patch := []PatchOp{{Op: "add", Path: "/metadata/labels/" + EscapePointer("kfpargo.io/cached"), Value: "true"}}
	const patchJSON = `[{"op":"add","path":"/metadata/labels/kfpargo.io~1cached","value":"true"}]`
	annotate := []PatchOp{{Op: "add", Path: "/metadata/annotations/" + EscapePointer("kfpargo.io/cache-decision"), Value: "error: x"}}
	const annotateJSON = `[{"op":"add","path":"/metadata/annotations/kfpargo.io~1cache-decision","value":"error: x"}]`
	late := make(chan struct{})
	defer close(late)
	cases := []struct {
		name      string
		h         HandlerFunc
		noMetrics bool
		wantPatch string // the JSON patch sent, "" for none
		decision  Outcome
		errKind   string
	}{
		{name: "patch", h: func(context.Context, *admissionv1.AdmissionRequest) Response { return Patched(Hit, "", patch) },
			wantPatch: patchJSON, decision: Hit},
		{name: "allow", h: func(context.Context, *admissionv1.AdmissionRequest) Response { return Allowed(Miss, "no entry") },
			decision: Miss},
		{name: "without metrics", h: func(context.Context, *admissionv1.AdmissionRequest) Response { return Allowed(Skip, "") },
			noMetrics: true, decision: Skip},
		{name: "failed", h: func(context.Context, *admissionv1.AdmissionRequest) Response {
			return Failed("redis", errors.New("connection refused"))
		}, decision: Error, errKind: "redis"},
		{name: "error drops its patch", h: func(context.Context, *admissionv1.AdmissionRequest) Response {
			return Response{Decision: Error, ErrorKind: "s3", Patch: patch}
		}, decision: Error, errKind: "s3"},
		{name: "error keeps annotations", h: func(context.Context, *admissionv1.AdmissionRequest) Response {
			return Response{Decision: Error, ErrorKind: "signature", Patch: annotate}
		}, wantPatch: annotateJSON, decision: Error, errKind: "signature"},
		{name: "error drops annotations with more", h: func(context.Context, *admissionv1.AdmissionRequest) Response {
			return Response{Decision: Error, ErrorKind: "s3", Patch: append(append([]PatchOp{}, annotate...), patch...)}
		}, decision: Error, errKind: "s3"},
		{name: "error without a kind", h: func(context.Context, *admissionv1.AdmissionRequest) Response {
			return Response{Decision: Error}
		}, decision: Error, errKind: "handler"},
		{name: "panic", h: func(context.Context, *admissionv1.AdmissionRequest) Response { panic("boom") },
			decision: Error, errKind: "panic"},
		{name: "timeout", h: func(ctx context.Context, _ *admissionv1.AdmissionRequest) Response {
			<-ctx.Done()
			<-late // a handler that answers only after Serve gave up
			return Patched(Hit, "", patch)
		}, decision: Error, errKind: "timeout"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := NewMetrics()
			opts := ServeOptions{Timeout: 50 * time.Millisecond, Metrics: m}
			if c.noMetrics {
				opts.Metrics = nil
			}
			code, body := tlsPost(t, Serve(c.h, opts), http.MethodPost, review(c.name), "application/json")
			if code != http.StatusOK {
				t.Fatalf("HTTP %d: %s", code, body)
			}
			out := checkReview(t, body, "u-"+c.name)
			if got := len(out.Response.Patch) > 0; got != (c.wantPatch != "") {
				t.Fatalf("patch %s", out.Response.Patch)
			}
			if c.wantPatch != "" {
				// The patch goes over the wire base64-encoded ([]byte in JSON).
				var raw struct {
					Response struct {
						Patch     string `json:"patch"`
						PatchType string `json:"patchType"`
					} `json:"response"`
				}
				if err := json.Unmarshal(body, &raw); err != nil {
					t.Fatal(err)
				}
				ops, err := base64.StdEncoding.DecodeString(raw.Response.Patch)
				want := c.wantPatch
				if err != nil || string(ops) != want || raw.Response.PatchType != "JSONPatch" {
					t.Errorf("patch %q (%v) type %q, want base64 of %s and JSONPatch", raw.Response.Patch, err, raw.Response.PatchType, want)
				}
			}
			if got := out.Response.AuditAnnotations["decision"]; got != string(c.decision) {
				t.Errorf("audit decision %q, want %q", got, c.decision)
			}
			if c.noMetrics {
				return
			}
			if v := testutil.ToFloat64(m.admissions.WithLabelValues(string(c.decision))); v != 1 {
				t.Errorf("admissions{%s} = %v", c.decision, v)
			}
			if c.errKind != "" {
				if v := testutil.ToFloat64(m.errors.WithLabelValues(c.errKind)); v != 1 {
					t.Errorf("errors{%s} = %v", c.errKind, v)
				}
			}
		})
	}
}

func TestServeRejectsNonReviews(t *testing.T) {
	cases := []struct {
		name        string
		method      string
		body        []byte
		contentType string
		code        int
	}{
		{"GET", http.MethodGet, nil, "application/json", http.StatusMethodNotAllowed},
		{"PUT", http.MethodPut, review("x"), "application/json", http.StatusMethodNotAllowed},
		{"content type", http.MethodPost, review("x"), "text/plain", http.StatusUnsupportedMediaType},
		{"no content type", http.MethodPost, review("x"), "", http.StatusUnsupportedMediaType},
		{"garbage", http.MethodPost, []byte("{nope"), "application/json", http.StatusBadRequest},
		{"empty", http.MethodPost, nil, "application/json", http.StatusBadRequest},
		{"wrong kind", http.MethodPost, []byte(`{"apiVersion":"v1","kind":"Pod"}`), "application/json", http.StatusBadRequest},
		{"v1beta1", http.MethodPost, bytes.Replace(review("x"), []byte("admission.k8s.io/v1"), []byte("admission.k8s.io/v1beta1"), 1),
			"application/json", http.StatusBadRequest},
		{"no request", http.MethodPost, []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`), "application/json", http.StatusBadRequest},
		{"too large", http.MethodPost, append(review("x"), bytes.Repeat([]byte(" "), 2<<10)...), "application/json", http.StatusRequestEntityTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := NewMetrics()
			called := false
			h := Serve(HandlerFunc(func(context.Context, *admissionv1.AdmissionRequest) Response {
				called = true
				return Allowed(Skip, "")
			}), ServeOptions{MaxBodyBytes: 1 << 10, Metrics: m})
			code, body := tlsPost(t, h, c.method, c.body, c.contentType)
			if code != c.code {
				t.Errorf("HTTP %d, want %d: %s", code, c.code, body)
			}
			if called {
				t.Error("the handler was called")
			}
			if v := testutil.ToFloat64(m.errors.WithLabelValues("bad_request")); v != 1 {
				t.Errorf("errors{bad_request} = %v", v)
			}
		})
	}
}

func TestEscapePointer(t *testing.T) {
	for in, want := range map[string]string{
		"kfpargo.io/a~b":             "kfpargo.io~1a~0b",
		"plain":                      "plain",
		"~1":                         "~01", // "~" first, or "~1" would come back as "/"
		"a/b/c":                      "a~1b~1c",
		"pipelines.kubeflow.org/v2_": "pipelines.kubeflow.org~1v2_",
	} {
		if got := EscapePointer(in); got != want {
			t.Errorf("EscapePointer(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzAdmissionReview: whatever body arrives, Serve does not panic, answers
// 200 or a 4xx, and a 200 is an allowing v1 review with the request's UID
// and, if it patches, a JSON patch. Seeds are in testdata/fuzz. The
// Decider's Redis address refuses connections, so a pod that gets as far as
// a lookup takes the fail-open path without waiting on a network.
func FuzzAdmissionReview(f *testing.F) {
	f.Add(review("seed"))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	rdb := redis.NewClient(&redis.Options{Addr: closed, MaxRetries: -1, DialerRetries: 1, DialTimeout: 100 * time.Millisecond})
	defer rdb.Close()
	h := Serve(&Decider{Cache: cachestore.New(rdb, cachestore.Options{})}, ServeOptions{Timeout: time.Second})
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/mutate", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		switch {
		case w.Code == http.StatusOK:
		case w.Code >= 400 && w.Code < 500:
			return
		default:
			t.Fatalf("HTTP %d for %q", w.Code, body)
		}
		var in admissionv1.AdmissionReview
		if err := json.Unmarshal(body, &in); err != nil || in.Request == nil {
			t.Fatalf("accepted a body that is not a review (%v): %q", err, body)
		}
		out := checkReview(t, w.Body.Bytes(), string(in.Request.UID))
		if len(out.Response.Patch) > 0 {
			var ops []PatchOp
			if out.Response.PatchType == nil || *out.Response.PatchType != admissionv1.PatchTypeJSONPatch ||
				json.Unmarshal(out.Response.Patch, &ops) != nil {
				t.Fatalf("patch %s for %q", out.Response.Patch, body)
			}
		}
		if !strings.Contains(w.Header().Get("Content-Type"), "application/json") {
			t.Fatalf("Content-Type %q", w.Header().Get("Content-Type"))
		}
	})
}

// An apiserver that hangs up (its own timeout) ends the decision, counted
// apart from our budget running out.
func TestServeClientGone(t *testing.T) {
	m := NewMetrics()
	started, late := make(chan struct{}), make(chan struct{})
	defer close(late)
	srv := httptest.NewTLSServer(Serve(HandlerFunc(func(ctx context.Context, _ *admissionv1.AdmissionRequest) Response {
		close(started)
		<-ctx.Done()
		<-late // answering right at the cancel could win the race
		return Allowed(Skip, "")
	}), ServeOptions{Timeout: time.Minute, Metrics: m}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, bytes.NewReader(review("gone")))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	go func() {
		<-started
		cancel()
	}()
	if resp, err := srv.Client().Do(req); err == nil {
		resp.Body.Close()
		t.Fatal("the request was answered after the client went away")
	}
	waitFor(t, func() bool { return testutil.ToFloat64(m.errors.WithLabelValues("canceled")) == 1 })
	if v := testutil.ToFloat64(m.errors.WithLabelValues("timeout")); v != 0 {
		t.Errorf("errors{timeout} = %v", v)
	}
}
