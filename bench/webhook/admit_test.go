package webhook

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestAdmit checks that the burst and the soak count as failed every
// answer the apiserver could not use, and only those.
func TestAdmit(t *testing.T) {
	const ok = `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":"u1","allowed":true,"auditAnnotations":{"decision":"hit"}%s}}`
	for _, c := range []struct {
		name, body string
		status     int
		hang       bool
		want       string // the decision, or the error's text
		fails      bool
	}{
		{name: "allowed with a JSON patch", body: strings.Replace(ok, "%s", `,"patchType":"JSONPatch","patch":"W10="`, 1), want: "hit"},
		{name: "allowed without a patch", body: strings.Replace(ok, "%s", "", 1), want: "hit"},
		{name: "HTTP 500", status: 500, body: "boom", want: "HTTP 500", fails: true},
		{name: "not JSON", body: "<html>", want: "decode response", fails: true},
		{name: "another kind", body: `{"apiVersion":"v1","kind":"Status"}`, want: "response is v1 Status", fails: true},
		{name: "no response", body: `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`, want: "without a response", fails: true},
		{name: "another UID", body: strings.Replace(strings.Replace(ok, "%s", "", 1), `"u1"`, `"u2"`, 1), want: `UID "u2"`, fails: true},
		{name: "denied", body: strings.Replace(strings.Replace(ok, "%s", "", 1), `"allowed":true`, `"allowed":false`, 1), want: "not allowed", fails: true},
		// "e30=" is {}: JSON, but no patch.
		{name: "patch not a list", body: strings.Replace(ok, "%s", `,"patchType":"JSONPatch","patch":"e30="`, 1), want: "not a JSON patch", fails: true},
		{name: "patch without a type", body: strings.Replace(ok, "%s", `,"patch":"W10="`, 1), want: "not a JSON patch", fails: true},
		{name: "no answer within the client's timeout", hang: true, want: "Client.Timeout", fails: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if c.hang {
					// Read the body, so the server notices the client
					// hanging up after its timeout.
					_, _ = io.Copy(io.Discard, r.Body)
					<-r.Context().Done()
					return
				}
				if c.status != 0 {
					w.WriteHeader(c.status)
				}
				_, _ = w.Write([]byte(c.body))
			}))
			defer srv.Close()
			cl := client()
			cl.Timeout = 200 * time.Millisecond
			got, err := admit(context.Background(), cl, srv.URL, []byte("{}"), "u1")
			switch {
			case c.fails && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Errorf("admit = %q, %v; want an error with %q", got, err, c.want)
			case !c.fails && (err != nil || got != c.want):
				t.Errorf("admit = %q, %v; want %q", got, err, c.want)
			}
		})
	}
}
