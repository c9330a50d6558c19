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

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stypes "k8s.io/apimachinery/pkg/types"

	"github.com/kfpargo/kfpargo/artifact"
	"github.com/kfpargo/kfpargo/cachestore"
)

// reviewOf wraps a pod object (raw JSON) in an AdmissionReview.
func reviewOf(uid string, pod []byte) []byte {
	b, _ := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{UID: k8stypes.UID(uid), Namespace: testNS, Operation: admissionv1.Create,
			Kind: metav1.GroupVersionKind{Version: "v1", Kind: "Pod"}, Object: runtime.RawExtension{Raw: pod}},
	})
	return b
}

func podJSON(t *testing.T, p *corev1.Pod) []byte {
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// post sends body to h and returns the status, the body and the log.
func post(h func(*zap.Logger) http.Handler, body []byte) (int, []byte, string) {
	var logs bytes.Buffer
	log := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(&logs), zap.DebugLevel))
	req := httptest.NewRequest(http.MethodPost, "/mutate", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h(log).ServeHTTP(w, req)
	_ = log.Sync()
	return w.Code, w.Body.Bytes(), logs.String()
}

// TestHostileReviews: the webhook decodes whatever the apiserver forwards,
// and the pod inside was written by whoever may create pods. Every case is
// answered (a 4xx for what is not a review, else an allowing review with
// the request's UID) with a short reason, without a hit, and without the
// input repeated into the log.
func TestHostileReviews(t *testing.T) {
	const depth = 100_000
	deep := strings.Repeat("[", depth) + strings.Repeat("]", depth)
	huge := strings.Repeat("9", 1<<20)
	f := newFixture(t)
	serve := func(log *zap.Logger) http.Handler {
		return Serve(f.d, ServeOptions{Timeout: 10 * time.Second, Log: log})
	}
	withArgs := func(args ...string) []byte { return podJSON(t, stepPodOf(args...)) }
	for _, tc := range []struct {
		name     string
		body     []byte
		status   int
		decision Outcome
		reason   string
	}{
		{"body nested 100 000 deep", []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":` + deep + `}`),
			http.StatusBadRequest, "", "decode AdmissionReview: invalid character '[' exceeded max depth"},
		{"body of 16 MiB", append([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","x":"`), bytes.Repeat([]byte("a"), 16<<20)...),
			http.StatusRequestEntityTooLarge, "", "http: request body too large"},
		{"pod nested 100 000 deep", bytes.Replace(reviewOf("u-deep", []byte(`{"x":1}`)), []byte(`{"x":1}`), []byte(`{"metadata":{"annotations":`+deep+`}}`), 1),
			http.StatusBadRequest, "", "exceeded max depth"},
		{"pod object that is not JSON", bytes.Replace(reviewOf("u-raw", []byte(`{"x":1}`)), []byte(`{"x":1}`), []byte(`"\u0000\u00ff"`), 1),
			http.StatusOK, Error, "decode pod: json: cannot unmarshal string"},
		{"pod name not UTF-8", reviewOf("u-utf8", []byte("{\"metadata\":{\"name\":\"p\xff\"}}")),
			http.StatusOK, Skip, `no container named \"main\"`},
		{"1 MiB parameter value", reviewOf("u-huge", withArgs(append([]string{"--param", "s:STRING=" + huge}, trainArgs("1")...)...)),
			http.StatusOK, Miss, "no entry"},
		// encoding/json reads the byte as U+FFFD, as the apiserver stored it.
		{"parameter that is not UTF-8", bytes.Replace(reviewOf("u-bad", withArgs(append([]string{"--param", "s:STRING=BAD"}, trainArgs("1")...)...)), []byte("BAD"), []byte("\xff"), 1),
			http.StatusOK, Miss, "no entry"},
		{"output named ../../x", reviewOf("u-dots", withArgs(append([]string{"--output-param", "../../x:STRING"}, trainArgs("1")...)...)),
			http.StatusOK, Skip, `is not a name (1 to 200 letters`},
		{"struct parameter 100 000 deep", reviewOf("u-struct", withArgs(append([]string{"--param", "s:STRUCT=" + deep}, trainArgs("1")...)...)),
			http.StatusOK, Skip, "exceeded max depth"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body, logs := post(serve, tc.body)
			if code != tc.status {
				t.Fatalf("HTTP %d, want %d: %.300s", code, tc.status, body)
			}
			if len(logs) > 8000 {
				t.Errorf("%d bytes of log for one request: the input is repeated", len(logs))
			}
			if code != http.StatusOK {
				if !strings.Contains(logs, tc.reason) {
					t.Errorf("log lacks %q:\n%.1000s", tc.reason, logs)
				}
				return
			}
			var in admissionv1.AdmissionReview
			_ = json.Unmarshal(tc.body, &in)
			out := checkReview(t, body, string(in.Request.UID))
			if got := out.Response.AuditAnnotations["decision"]; got != string(tc.decision) {
				t.Errorf("decision %q, want %q", got, tc.decision)
			}
			if !strings.Contains(logs, tc.reason) {
				t.Errorf("log lacks %q:\n%.1000s", tc.reason, logs)
			}
		})
	}
}

// A hit replays the entry from the main container's arguments, so the
// entry must fit in one argument (128 KiB): a larger one would make the
// pod fail to start ("argument list too long") instead of running the
// step — the cache must never make a step fail.
func TestReplayFitsOneArgument(t *testing.T) {
	f := newFixture(t)
	e := f.record(t, trainArgs("1"), time.Now())
	e.Params["acc"] = strings.Repeat("9", 99<<10)
	e.Params["loss"] = strings.Repeat("1", 99<<10)
	if err := f.cache.Put(context.Background(), e, time.Hour); err != nil {
		t.Fatal(err)
	}
	dec := f.d.Decide(context.Background(), testNS, stepPodOf(trainArgs("1")...))
	if dec.Outcome != Miss || !strings.Contains(dec.Reason, "too large to replay inline (limit 131071)") {
		t.Fatalf("got %s (%.200s), want a miss: the replay pod could not start", dec.Outcome, dec.Reason)
	}
}

// TestSecretsStayOutOfTheWebhook runs admissions through Serve with a
// Redis password and S3 keys configured, into the error paths where the
// stores refuse them, and checks that neither the log (at debug level) nor
// the AdmissionReview sent back to the apiserver holds any of them.
func TestSecretsStayOutOfTheWebhook(t *testing.T) {
	const (
		redisPassword = "redis-Pa55-word-4f1c9e"
		wrongPassword = "redis-Wr0ng-word-77aa01"
		wrongAccess   = "AKIAWRONGACCESSKEY99"
		wrongSecret   = "s3-Wr0ng-Secret-Key-0b6d2e"
	)
	f := newFixture(t)
	f.record(t, trainArgs("1"), time.Now())
	ctx := context.Background()
	if err := f.redis.Client.ConfigSet(ctx, "requirepass", redisPassword).Err(); err != nil {
		t.Fatal(err)
	}
	secrets := []string{redisPassword, wrongPassword, wrongAccess, wrongSecret, f.minio.SecretKey}
	s3With := func(access, secret string) *artifact.Store {
		s, err := artifact.NewStore(artifact.Config{Endpoint: f.minio.Endpoint, AccessKey: access, SecretKey: secret, Insecure: true})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for _, tc := range []struct {
		name, password string
		s3             *artifact.Store
		decision       Outcome
		reason         string
	}{
		{"Redis refuses the password", wrongPassword, s3With(f.minio.AccessKey, f.minio.SecretKey), Error, "WRONGPASS"},
		{"Redis wants a password", "", s3With(f.minio.AccessKey, f.minio.SecretKey), Error, "NOAUTH"},
		{"S3 refuses the secret key", redisPassword, s3With(f.minio.AccessKey, wrongSecret), Error, "entry not verified: artifact model: check minio://mlpipeline/v2/artifacts/team-a/run-0/train/model: The request signature we calculated does not match"},
		{"S3 does not know the access key", redisPassword, s3With(wrongAccess, wrongSecret), Error, "The Access Key Id you provided does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rdb := redis.NewClient(&redis.Options{Addr: f.redis.Addr, Password: tc.password, MaxRetries: -1})
			defer rdb.Close()
			d := &Decider{Cache: cachestore.New(rdb, cachestore.Options{}), Artifacts: tc.s3, LauncherImage: "kfpargo/launcher:test", MaxTTL: time.Hour}
			code, body, logs := post(func(log *zap.Logger) http.Handler {
				return Serve(d, ServeOptions{Timeout: 10 * time.Second, Log: log, Metrics: NewMetrics()})
			}, reviewOf("u-secret", podJSON(t, stepPodOf(trainArgs("1")...))))
			out := checkReview(t, body, "u-secret")
			if code != http.StatusOK || out.Response.AuditAnnotations["decision"] != string(tc.decision) || !strings.Contains(logs, tc.reason) {
				t.Fatalf("HTTP %d, decision %q, want %s with %q in the log:\n%s", code, out.Response.AuditAnnotations["decision"], tc.decision, tc.reason, logs)
			}
			var patch bytes.Buffer
			_ = json.Indent(&patch, out.Response.Patch, "", "")
			for _, s := range secrets {
				for where, text := range map[string]string{"log": logs, "response": string(body), "patch": patch.String()} {
					if strings.Contains(text, s) {
						t.Errorf("the %s holds the secret %q:\n%s", where, s, text)
					}
				}
			}
		})
	}
}
