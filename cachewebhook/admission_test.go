package cachewebhook

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stypes "k8s.io/apimachinery/pkg/types"
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

func post(t *testing.T, h http.Handler, body []byte, contentType string) (*httptest.ResponseRecorder, *admissionv1.AdmissionReview) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/mutate", bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusOK {
		return w, nil
	}
	var out admissionv1.AdmissionReview
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
		t.Fatalf("response is not a review: %v\n%s", err, w.Body)
	}
	return w, &out
}

func TestServe(t *testing.T) {
	patch := []PatchOp{{Op: "add", Path: "/metadata/labels/" + EscapePointer("kfpargo.io/cached"), Value: "true"}}
	cases := []struct {
		name      string
		h         HandlerFunc
		wantPatch bool
		decision  Outcome
		errKind   string
	}{
		{"patch", func(context.Context, *admissionv1.AdmissionRequest) Response { return Patched(Hit, "", patch) }, true, Hit, ""},
		{"allow", func(context.Context, *admissionv1.AdmissionRequest) Response { return Allowed(Miss, "no entry") }, false, Miss, ""},
		{"error drops its patch", func(context.Context, *admissionv1.AdmissionRequest) Response {
			return Response{Decision: Error, ErrorKind: "redis", Patch: patch}
		}, false, Error, "redis"},
		{"panic", func(context.Context, *admissionv1.AdmissionRequest) Response { panic("boom") }, false, Error, "panic"},
		{"timeout", func(ctx context.Context, _ *admissionv1.AdmissionRequest) Response {
			<-ctx.Done()
			time.Sleep(10 * time.Millisecond)
			return Patched(Hit, "", patch)
		}, false, Error, "timeout"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := NewMetrics()
			h := Serve(c.h, ServeOptions{Timeout: 50 * time.Millisecond, Metrics: m})
			_, out := post(t, h, review(c.name), "application/json")
			if out == nil || out.Response == nil || !out.Response.Allowed || string(out.Response.UID) != "u-"+c.name ||
				out.APIVersion != "admission.k8s.io/v1" || out.Kind != "AdmissionReview" {
				t.Fatalf("response %+v", out)
			}
			if got := len(out.Response.Patch) > 0; got != c.wantPatch {
				t.Fatalf("patch %s", out.Response.Patch)
			}
			if c.wantPatch {
				if *out.Response.PatchType != admissionv1.PatchTypeJSONPatch || !strings.Contains(string(out.Response.Patch), "kfpargo.io~1cached") {
					t.Errorf("patch %s", out.Response.Patch)
				}
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
	m := NewMetrics()
	h := Serve(HandlerFunc(func(context.Context, *admissionv1.AdmissionRequest) Response { return Allowed(Skip, "") }),
		ServeOptions{MaxBodyBytes: 1 << 10, Metrics: m})
	for name, c := range map[string]struct {
		body        []byte
		contentType string
		code        int
	}{
		"garbage":      {[]byte("{nope"), "application/json", http.StatusBadRequest},
		"wrong kind":   {[]byte(`{"apiVersion":"v1","kind":"Pod"}`), "application/json", http.StatusBadRequest},
		"no request":   {[]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`), "application/json", http.StatusBadRequest},
		"content type": {review("x"), "text/plain", http.StatusUnsupportedMediaType},
		"too large":    {append(review("x"), bytes.Repeat([]byte(" "), 2<<10)...), "application/json", http.StatusBadRequest},
	} {
		w, _ := post(t, h, c.body, c.contentType)
		if w.Code != c.code {
			t.Errorf("%s: HTTP %d, want %d", name, w.Code, c.code)
		}
	}
	req := httptest.NewRequest(http.MethodGet, "/mutate", nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET: HTTP %d", w.Code)
	}
}

func TestEscapePointer(t *testing.T) {
	if got := EscapePointer("kfpargo.io/a~b"); got != "kfpargo.io~1a~0b" {
		t.Errorf("got %q", got)
	}
}

// FuzzServe: whatever arrives, Serve answers without panicking, and a
// review it accepts is answered allowed, with the request's UID.
func FuzzServe(f *testing.F) {
	f.Add(review("seed"))
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"x","object":{"spec":{"containers":[{"name":"main","command":["/kfpargo/bin/launcher","run","--cache"]}]}}}}`))
	f.Add([]byte(`{}`))
	d := &Decider{} // no stores: decisions stop before any lookup or fail open
	h := Serve(d, ServeOptions{Timeout: time.Second})
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/mutate", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			return
		}
		var in, out admissionv1.AdmissionReview
		_ = json.Unmarshal(body, &in)
		if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil || out.Response == nil || !out.Response.Allowed || out.Response.UID != in.Request.UID {
			t.Fatalf("answer %s to %s", w.Body, body)
		}
	})
}
