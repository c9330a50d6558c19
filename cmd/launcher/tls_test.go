package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/kfpargo/kfpargo/launcher"
	"github.com/kfpargo/kfpargo/step"
	"github.com/kfpargo/kfpargo/test/servers"
)

// cacheUser may touch only the cache's keys: what docs/install.md tells
// operators to create.
const cacheUser, cachePassword = "kfpargo", "acl-pw-never-shown-4d2e"

// tlsStep runs one cached step in process with the launcher's settings
// taken from the environment, as in a step pod, and returns its exit code,
// its log and how often its command ran (counted in counter).
func tlsStep(t *testing.T, counter string) (int, string) {
	t.Helper()
	var logs bytes.Buffer
	log := zap.New(zapcore.NewCore(zapcore.NewConsoleEncoder(zap.NewDevelopmentEncoderConfig()), zapcore.AddSync(&logs), zap.DebugLevel))
	store, err := storeFromEnv()
	if err != nil {
		t.Fatalf("object store settings: %v", err)
	}
	cache, closeCache, err := cacheFromEnv()
	if err != nil {
		log.Warn("cache settings; the step runs uncached", zap.Error(err))
	}
	defer closeCache()
	spec, err := step.ParseRunArgs([]string{"--cache", "--image=python:3.11",
		"--pipeline-name", "p", "--run-name", "run-1", "--namespace", "ns", "--pipeline-root", "minio://mlpipeline/v2/artifacts",
		"--pod-name", "pod-" + strings.ReplaceAll(t.Name(), "/", "-"), "--task", "train",
		"--output-artifact", "model:system.Model",
		"--", "sh", "-c", `echo run >> "$0"; echo weights > "$1"`, counter, "{{$.outputs.artifacts['model'].path}}"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	r := &launcher.Runner{Spec: spec, Layout: launcher.Layout{LocalRoot: filepath.Join(root, "fs"), StepDir: filepath.Join(root, "kfpargo")},
		Store: store, Cache: cache, Log: log, Env: []string{"PATH=/usr/bin:/bin"}, Stdout: devnull, Stderr: devnull}
	code := r.Run(context.Background())
	return code, logs.String()
}

// TestTLSAndACL: the launcher, configured only through the variables a
// step pod imports from the kfpargo-s3 and kfpargo-redis Secrets, writes
// and replays cache entries in a Redis that serves only TLS, as an ACL user
// confined to kfpargo:* keys, and moves artifacts to and from a MinIO that
// serves only HTTPS, both with certificates from a private CA given as PEM
// text. A wrong password, plain TCP or an untrusted certificate each leave
// the step running uncached with a warning that says why and holds no
// password; an object store it cannot trust fails the step naming the
// endpoint and not the secret key.
func TestTLSAndACL(t *testing.T) {
	rd := servers.StartRedisWith(t, servers.RedisOptions{TLS: true, Users: []string{cacheUser + " " + servers.CacheUserRules + " >" + cachePassword}})
	m := servers.StartMinioWith(t, servers.MinioOptions{TLS: true}, "mlpipeline")
	good := map[string]string{
		step.EnvS3Endpoint: m.Endpoint, step.EnvS3AccessKey: m.AccessKey, step.EnvS3SecretKey: m.SecretKey,
		step.EnvS3CAPEM:   string(m.CA.CAPEM),
		step.EnvRedisAddr: rd.Addr, step.EnvRedisUsername: cacheUser, step.EnvRedisPassword: cachePassword,
		step.EnvRedisTLS: "true", step.EnvRedisCAPEM: string(rd.CA.CAPEM),
	}
	setEnv := func(t *testing.T, change map[string]string) {
		for k, v := range good {
			t.Setenv(k, v)
		}
		for k, v := range change {
			t.Setenv(k, v)
		}
	}
	counter := filepath.Join(t.TempDir(), "runs")
	runs := func() int {
		b, _ := os.ReadFile(counter)
		return strings.Count(string(b), "run")
	}
	t.Run("trusted", func(t *testing.T) {
		setEnv(t, nil)
		if code, logs := tlsStep(t, counter); code != 0 || runs() != 1 || !strings.Contains(logs, "cache: miss") {
			t.Fatalf("first step: exit %d, %d runs, log:\n%s", code, runs(), logs)
		}
		// The entry is under the user's keys and the artifact in MinIO.
		keys, err := rd.Client.Keys(context.Background(), "*").Result()
		if err != nil || len(keys) == 0 {
			t.Fatalf("keys %v, %v", keys, err)
		}
		for _, k := range keys {
			if !strings.HasPrefix(k, "kfpargo:") {
				t.Errorf("key %q outside kfpargo:*", k)
			}
		}
		n := 0
		for obj := range m.Client.ListObjects(context.Background(), "mlpipeline", minio.ListObjectsOptions{Recursive: true}) {
			if obj.Err != nil {
				t.Fatal(obj.Err)
			}
			n++
		}
		if n != 1 {
			t.Errorf("%d objects in MinIO, want the model", n)
		}
		// The same step again is replayed from the entry.
		if code, logs := tlsStep(t, counter); code != 0 || runs() != 1 {
			t.Fatalf("second step: exit %d, %d runs (want a replay), log:\n%s", code, runs(), logs)
		}
	})
	other := servers.NewTestCA(t)
	for _, c := range []struct {
		name   string
		change map[string]string
		want   string
	}{
		{"wrong password", map[string]string{step.EnvRedisPassword: "wrong-pw-never-shown-1b7c"}, "WRONGPASS"},
		{"no user", map[string]string{step.EnvRedisUsername: ""}, "WRONGPASS"},
		{"no TLS", map[string]string{step.EnvRedisTLS: "", step.EnvRedisCAPEM: ""}, "redis " + rd.Addr + " over plain TCP: EOF (the server closed the connection: does it want TLS?)"},
		{"no CA", map[string]string{step.EnvRedisCAPEM: ""}, "redis " + rd.Addr + " over TLS: tls: failed to verify certificate: x509: certificate signed by unknown authority"},
		{"another CA", map[string]string{step.EnvRedisCAPEM: string(other.CAPEM)}, "certificate signed by unknown authority"},
		{"wrong server name", map[string]string{step.EnvRedisServerName: "redis.example.com"}, "not redis.example.com"},
		{"CA without TLS", map[string]string{step.EnvRedisTLS: "false"}, step.EnvRedisTLS + " is not true"},
		{"not a CA", map[string]string{step.EnvRedisCAPEM: "garbage"}, step.EnvRedisCAPEM},
	} {
		t.Run("redis "+c.name, func(t *testing.T) {
			setEnv(t, c.change)
			before := runs()
			code, logs := tlsStep(t, counter)
			if code != 0 || runs() != before+1 {
				t.Fatalf("exit %d, %d runs: the step must run, uncached; log:\n%s", code, runs()-before, logs)
			}
			if !strings.Contains(logs, "uncached") && !strings.Contains(logs, "store unavailable") || !strings.Contains(logs, c.want) {
				t.Errorf("the log does not say %q:\n%s", c.want, logs)
			}
			for _, pw := range []string{cachePassword, c.change[step.EnvRedisPassword]} {
				if pw != "" && strings.Contains(logs, pw) {
					t.Errorf("a password is in the log:\n%s", logs)
				}
			}
			t.Logf("log:\n%s", logs)
		})
	}
	t.Run("object store without its CA", func(t *testing.T) {
		setEnv(t, map[string]string{step.EnvS3CAPEM: ""})
		code, logs := tlsStep(t, counter)
		if code != launcher.ExitOutputs {
			t.Errorf("exit %d, want %d (outputs)", code, launcher.ExitOutputs)
		}
		for _, want := range []string{"https://" + m.Endpoint, "certificate signed by unknown authority"} {
			if !strings.Contains(logs, want) {
				t.Errorf("the log does not say %q:\n%s", want, logs)
			}
		}
		if strings.Contains(logs, m.SecretKey) {
			t.Errorf("the secret key is in the log:\n%s", logs)
		}
		t.Logf("log:\n%s", logs)
	})
}
