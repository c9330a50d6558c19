package cachewebhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Handler answers one admission request.
//
// A Handler returns a Response, not an AdmissionResponse: the decision
// (Outcome, reason, key, error kind) travels with the patch, and Serve
// alone turns it into the review (UID, allowed, JSON patch, an audit
// annotation), the request's log line and the metrics. So a Handler never
// copies UIDs, cannot answer "denied", and is tested without HTTP.
type Handler interface {
	Handle(ctx context.Context, req *admissionv1.AdmissionRequest) Response
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, req *admissionv1.AdmissionRequest) Response

// Handle calls f.
func (f HandlerFunc) Handle(ctx context.Context, req *admissionv1.AdmissionRequest) Response {
	return f(ctx, req)
}

// Response is a handler's answer: always "allowed" (the webhook only
// mutates), with an optional patch, and the decision for logs and metrics.
type Response struct {
	Patch    []PatchOp
	Decision Outcome
	Reason   string
	Key      string
	// ErrorKind names what failed when Decision is Error (metrics label).
	ErrorKind string
	// VerifyFailed: an entry's artifacts were gone or changed.
	VerifyFailed bool
}

// Allowed admits the pod unchanged, with the decision and why.
func Allowed(decision Outcome, reason string) Response {
	return Response{Decision: decision, Reason: reason}
}

// Failed admits the pod unchanged after the handler's own failure, counted
// under kind in kfpargo_cachewebhook_errors_total.
func Failed(kind string, err error) Response {
	return Response{Decision: Error, ErrorKind: kind, Reason: err.Error()}
}

// Patched admits the pod with a JSON patch.
func Patched(decision Outcome, reason string, ops []PatchOp) Response {
	return Response{Decision: decision, Reason: reason, Patch: ops}
}

// PatchOp is one RFC 6902 operation.
type PatchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value,omitempty"`
}

// EscapePointer escapes a map key for a JSON pointer (RFC 6901): label
// and annotation keys contain "/".
func EscapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// ServeOptions tune Serve.
type ServeOptions struct {
	// Timeout bounds a handler; past it the pod is admitted unchanged.
	Timeout time.Duration
	// MaxBodyBytes bounds a request body (default 8 MiB: a pod is at most
	// ~1.5 MiB in etcd, the review carries it once or twice).
	MaxBodyBytes int64
	Log          *zap.Logger
	Metrics      *Metrics
}

// Serve answers AdmissionReview v1 requests with h. Whatever goes wrong in
// h — an error, a panic, the timeout — the pod is admitted unchanged: the
// apiserver only ever gets a well-formed review with allowed=true and the
// request's UID, except for a request that is not a review at all (not a
// POST, not JSON, too large, undecodable: HTTP 4xx, counted as
// bad_request). Each review gets one log line: uid, namespace, pod (or its
// generateName), decision, key, reason, duration.
func Serve(h Handler, opts ServeOptions) http.Handler {
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 8 << 20
	}
	if opts.Log == nil {
		opts.Log = zap.NewNop()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		// Not a review at all: no UID to answer, so a plain HTTP error; the
		// apiserver's failurePolicy (Ignore) admits the pod.
		reject := func(code int, msg string) {
			opts.Metrics.Error("bad_request")
			opts.Log.Warn("not an admission review", zap.Int("status", code), zap.String("error", msg),
				zap.String("method", r.Method), zap.String("remote", r.RemoteAddr))
			http.Error(w, msg, code)
		}
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			reject(http.StatusMethodNotAllowed, "admission reviews are POSTed")
			return
		}
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
			reject(http.StatusUnsupportedMediaType, "Content-Type must be application/json")
			return
		}
		review, err := decodeReview(http.MaxBytesReader(w, r.Body, opts.MaxBodyBytes))
		if err != nil {
			code := http.StatusBadRequest
			if tooLarge := (*http.MaxBytesError)(nil); errors.As(err, &tooLarge) {
				code = http.StatusRequestEntityTooLarge
			}
			reject(code, err.Error())
			return
		}
		req := review.Request
		resp := handle(r.Context(), h, req, opts)
		out, err := encodeResponse(review, req.UID, resp)
		if err != nil {
			// Patches are built from plain values; this is a bug, and the
			// pod must still be admitted.
			opts.Metrics.Error("encode")
			opts.Log.Error("encode admission response", zap.Error(err))
			resp = Allowed(Error, "encode response: "+err.Error())
			out, _ = encodeResponse(review, req.UID, resp)
		}
		elapsed := time.Since(start)
		opts.Metrics.Decision(resp.Decision, elapsed)
		if resp.VerifyFailed {
			opts.Metrics.VerifyFailure()
		}
		fields := []zap.Field{
			zap.String("uid", string(req.UID)), zap.String("namespace", req.Namespace),
			zap.String("pod", podName(req)), zap.String("decision", string(resp.Decision)),
			zap.Duration("took", elapsed),
		}
		if resp.Key != "" {
			fields = append(fields, zap.String("key", resp.Key))
		}
		if resp.Reason != "" {
			fields = append(fields, zap.String("reason", resp.Reason))
		}
		if resp.Decision == Error {
			opts.Log.Warn("admitted unchanged after an error", fields...)
		} else {
			opts.Log.Info("admission", fields...)
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(out)
	})
}

// handle runs h within the timeout and turns panics and timeouts into an
// unchanged admission.
func handle(ctx context.Context, h Handler, req *admissionv1.AdmissionRequest, opts ServeOptions) Response {
	if opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.Timeout)
		defer cancel()
	}
	done := make(chan Response, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				opts.Log.Error("handler panicked", zap.Any("panic", p), zap.Stack("stack"))
				done <- Response{Decision: Error, ErrorKind: "panic", Reason: fmt.Sprintf("panic: %v", p)}
			}
		}()
		done <- h.Handle(ctx, req)
	}()
	var resp Response
	select {
	case resp = <-done:
	case <-ctx.Done():
		select {
		case resp = <-done: // finished just in time: keep its answer
		default:
			// A handler that ignores ctx keeps running, but the apiserver
			// is not kept waiting for it.
			kind := "timeout"
			if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
				kind = "canceled" // the apiserver went away
			}
			resp = Response{Decision: Error, ErrorKind: kind, Reason: "no decision within the admission budget: " + ctx.Err().Error()}
		}
	}
	if resp.Decision == Error {
		// Fail open: an erring handler's patch is dropped, unless all it
		// does is annotate the pod with the decision, which changes
		// nothing that runs and tells `kfpargo get` why it ran uncached.
		if !onlyAnnotations(resp.Patch) {
			resp.Patch = nil
		}
		kind := resp.ErrorKind
		if kind == "" {
			kind = "handler"
		}
		opts.Metrics.Error(kind)
	}
	return resp
}

// onlyAnnotations reports whether every operation adds or replaces pod
// annotations.
func onlyAnnotations(ops []PatchOp) bool {
	for _, op := range ops {
		if op.Op != "add" && op.Op != "replace" {
			return false
		}
		if op.Path != "/metadata/annotations" && !strings.HasPrefix(op.Path, "/metadata/annotations/") {
			return false
		}
	}
	return true
}

func decodeReview(r io.Reader) (*admissionv1.AdmissionReview, error) {
	body, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read AdmissionReview: %w", err)
	}
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(body, &review); err != nil {
		return nil, fmt.Errorf("decode AdmissionReview: %w", err)
	}
	if review.APIVersion != admissionv1.SchemeGroupVersion.String() || review.Kind != "AdmissionReview" {
		return nil, fmt.Errorf("expected an admission.k8s.io/v1 AdmissionReview, got %s %s", review.APIVersion, review.Kind)
	}
	if review.Request == nil {
		return nil, errors.New("AdmissionReview without a request")
	}
	return &review, nil
}

func encodeResponse(review *admissionv1.AdmissionReview, uid types.UID, resp Response) ([]byte, error) {
	out := &admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: review.APIVersion, Kind: review.Kind},
		Response: &admissionv1.AdmissionResponse{UID: uid, Allowed: true},
	}
	if len(resp.Patch) > 0 {
		b, err := json.Marshal(resp.Patch)
		if err != nil {
			return nil, err
		}
		pt := admissionv1.PatchTypeJSONPatch
		out.Response.Patch, out.Response.PatchType = b, &pt
	}
	if resp.Decision != "" {
		out.Response.AuditAnnotations = map[string]string{"decision": string(resp.Decision)}
	}
	return json.Marshal(out)
}

// podName names the pod in logs: at CREATE it often has only a generateName.
func podName(req *admissionv1.AdmissionRequest) string {
	if req.Name != "" {
		return req.Name
	}
	var meta struct {
		Metadata struct {
			Name         string `json:"name"`
			GenerateName string `json:"generateName"`
		} `json:"metadata"`
	}
	if json.Unmarshal(req.Object.Raw, &meta) == nil {
		if meta.Metadata.Name != "" {
			return meta.Metadata.Name
		}
		return meta.Metadata.GenerateName + "*"
	}
	return ""
}
