package main

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kfpargo/kfpargo/artifact"
	"github.com/kfpargo/kfpargo/cachekey"
	"github.com/kfpargo/kfpargo/cachestore"
	"github.com/kfpargo/kfpargo/cachewebhook"
	"github.com/kfpargo/kfpargo/step"
	"github.com/kfpargo/kfpargo/test/servers"
)

// TestTLSAndACL: the webhook, configured by its flags and the files the
// manifests mount, serves a hit from a Redis that speaks only TLS, as an
// ACL user confined to kfpargo:* keys, verifying the artifact in a MinIO
// that speaks only HTTPS, both with certificates from a private CA. Each
// wrong setting admits the pod unchanged (an error decision) with a reason
// that says what failed and holds no password or secret key.
func TestTLSAndACL(t *testing.T) {
	const user, password = "kfpargo", "hook-pw-never-shown-83c1"
	rd := servers.StartRedisWith(t, servers.RedisOptions{TLS: true, Users: []string{user + " " + servers.CacheUserRules + " >" + password}})
	m := servers.StartMinioWith(t, servers.MinioOptions{TLS: true}, "mlpipeline")
	dir := t.TempDir()
	files := map[string]string{
		"redis/USERNAME": user, "redis/PASSWORD": password, "redis/CA_PEM": string(rd.CA.CAPEM), "redis/WRONG": "wrong-pw-never-shown-5e0a",
		"s3/ACCESS_KEY": m.AccessKey, "s3/SECRET_KEY": m.SecretKey, "s3/CA_PEM": string(m.CA.CAPEM), "other/CA_PEM": string(servers.NewTestCA(t).CAPEM),
	}
	for name, v := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	f := func(name string) string { return filepath.Join(dir, name) }
	good := []string{"--tls-cert-file=c", "--tls-key-file=k", "--timeout=10s",
		"--redis-addr=" + rd.Addr, "--redis-tls", "--redis-ca-file=" + f("redis/CA_PEM"),
		"--redis-username-file=" + f("redis/USERNAME"), "--redis-password-file=" + f("redis/PASSWORD"),
		"--s3-endpoint=" + m.Endpoint, "--s3-ca-file=" + f("s3/CA_PEM"),
		"--s3-access-key-file=" + f("s3/ACCESS_KEY"), "--s3-secret-key-file=" + f("s3/SECRET_KEY")}

	// The entry a launcher would have written after running the step.
	args := []string{"--cache", "--image=python:3.11", "--run-name", "run-1", "--namespace", "team-a", "--pod-name", "run-1-train-1",
		"--task", "train", "--pipeline-root", "minio://mlpipeline/v2/artifacts", "--output-artifact", "model:system.Model", "--", "python3", "train.py"}
	spec, err := step.ParseRunArgs(args, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	material, err := cachekey.FromSpec(spec, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := material.Key()
	s3, err := artifact.NewStore(artifact.Config{Endpoint: m.Endpoint, AccessKey: m.AccessKey, SecretKey: m.SecretKey, CAPEM: m.CA.CAPEM})
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "model")
	if err := os.WriteFile(src, []byte("weights"), 0o644); err != nil {
		t.Fatal(err)
	}
	loc, _ := artifact.ParseURI("minio://mlpipeline/v2/artifacts/team-a/run-0/train/model")
	d, err := s3.Upload(context.Background(), src, loc)
	if err != nil {
		t.Fatal(err)
	}
	mj, _ := json.Marshal(material)
	if err := cachestore.New(rd.Client, cachestore.Options{}).Put(context.Background(), &cachestore.Entry{
		Version: cachestore.EntryVersion, Key: key, Scope: cachestore.NamespaceScope("team-a"),
		Artifacts: map[string]artifact.Descriptor{"model": *d}, Source: cachestore.Source{Namespace: "team-a", Workflow: "run-0", Pod: "p", Task: "train"},
		Created: time.Now().UTC(), Material: mj}, time.Hour); err != nil {
		t.Fatal(err)
	}
	pod, _ := json.Marshal(&corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "run-1-train-", Labels: map[string]string{step.LabelCache: step.CacheEnabled}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: cachewebhook.MainContainer, Image: "python:3.11",
			Command: []string{"/var/run/argo/argoexec", "emissary", "--", step.LauncherPath, "run"}, Args: args}}},
	})
	req := &admissionv1.AdmissionRequest{UID: "u", Namespace: "team-a", Operation: admissionv1.Create,
		Kind: metav1.GroupVersionKind{Version: "v1", Kind: "Pod"}, Object: runtime.RawExtension{Raw: pod}}

	for _, c := range []struct {
		name    string
		flags   []string
		outcome cachewebhook.Outcome
		want    string
	}{
		{"trusted", nil, cachewebhook.Hit, ""},
		{"wrong password", []string{"--redis-password-file=" + f("redis/WRONG")}, cachewebhook.Error, "WRONGPASS"},
		{"no user", []string{"--redis-username-file=" + f("redis/absent")}, cachewebhook.Error, "WRONGPASS"},
		{"no TLS", []string{"--redis-tls=false", "--redis-ca-file="}, cachewebhook.Error, "redis " + rd.Addr + " over plain TCP: EOF (the server closed the connection: does it want TLS?)"},
		{"no CA", []string{"--redis-ca-file=" + f("redis/absent")}, cachewebhook.Error, "redis " + rd.Addr + " over TLS: tls: failed to verify certificate: x509: certificate signed by unknown authority"},
		{"another CA", []string{"--redis-ca-file=" + f("other/CA_PEM")}, cachewebhook.Error, "certificate signed by unknown authority"},
		{"wrong server name", []string{"--redis-server-name=redis.example.com"}, cachewebhook.Error, "not redis.example.com"},
		{"object store without its CA", []string{"--s3-ca-file="}, cachewebhook.Error, "https://" + m.Endpoint + "/mlpipeline/"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := parseFlags(append(append([]string{}, good...), c.flags...), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			h, release, err := newHandler(*cfg, zap.NewNop(), cachewebhook.NewMetrics())
			if err != nil {
				t.Fatal(err)
			}
			defer release()
			resp := h.Handle(context.Background(), req)
			if resp.Decision != c.outcome || !strings.Contains(resp.Reason, c.want) {
				t.Fatalf("decision %s (%s), want %s and %q", resp.Decision, resp.Reason, c.outcome, c.want)
			}
			for _, s := range []string{password, files["redis/WRONG"], m.SecretKey} {
				if strings.Contains(resp.Reason, s) {
					t.Errorf("a credential is in the reason: %s", resp.Reason)
				}
			}
			t.Logf("%s: %s", resp.Decision, resp.Reason)
		})
	}
}

func TestTLSFlagErrors(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, servers.NewTestCA(t).CAPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	junk := filepath.Join(dir, "junk.pem")
	if err := os.WriteFile(junk, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := []string{"--tls-cert-file=c", "--tls-key-file=k", "--redis-addr=127.0.0.1:1"}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--redis-ca-file=" + ca}, "--redis-ca-file " + ca + " holds a CA but --redis-tls is off"},
		{[]string{"--redis-tls", "--redis-ca-file=" + junk}, "--redis-ca-file " + junk + ": CA: no PEM certificate"},
		{[]string{"--redis-tls", "--redis-ca-file=" + dir}, "--redis-ca-file"},
		{[]string{"--s3-endpoint=s3:9000", "--s3-ca-file=" + junk}, "--s3-ca-file " + junk},
		{[]string{"--s3-endpoint=s3:9000", "--s3-insecure", "--s3-ca-file=" + ca}, "plain HTTP"},
		{[]string{"--redis-username-file=" + dir}, "--redis-username-file"},
	} {
		cfg, err := parseFlags(append(append([]string{}, base...), c.args...), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		_, release, err := newHandler(*cfg, zap.NewNop(), cachewebhook.NewMetrics())
		if release != nil {
			release()
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.args, err, c.want)
		}
	}
}
