package main

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kfpargo/kfpargo/cachestore"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/kfpargo/kfpargo/test/servers"
)

// decodeStream reads a multi-document YAML stream.
func decodeStream(t *testing.T, s string) []*unstructured.Unstructured {
	t.Helper()
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(s), 4096)
	var out []*unstructured.Unstructured
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); err != nil {
			break
		}
		out = append(out, u)
	}
	return out
}

func findObj(objs []*unstructured.Unstructured, kind, ns, name string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == kind && o.GetNamespace() == ns && o.GetName() == name {
			return o
		}
	}
	return nil
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestInstallDryRunClient(t *testing.T) {
	for _, tc := range []struct {
		name  string
		args  []string
		check func(t *testing.T, objs []*unstructured.Unstructured)
	}{
		{"defaults", []string{"install", "--dry-run"}, func(t *testing.T, objs []*unstructured.Unstructured) {
			if objs[0].GetKind() != "Namespace" || objs[len(objs)-1].GetKind() != "MutatingWebhookConfiguration" {
				t.Errorf("first %s, last %s", objs[0].GetKind(), objs[len(objs)-1].GetKind())
			}
			if findObj(objs, "Role", "argo", "kfpargo-executor") == nil {
				t.Error("no executor Role in argo")
			}
			if findObj(objs, "Secret", "argo", "kfpargo-s3") != nil {
				t.Error("a Secret without settings")
			}
		}},
		{"explicit client, tag, registry", []string{"install", "--dry-run=client", "--image-registry", "localhost:5001/k", "--image-tag", "v9"},
			func(t *testing.T, objs []*unstructured.Unstructured) {
				cm := findObj(objs, "ConfigMap", "kfpargo-system", "kfpargo-cachewebhook")
				if v, _, _ := unstructured.NestedString(cm.Object, "data", "LAUNCHER_IMAGE"); v != "localhost:5001/k/launcher:v9" {
					t.Errorf("LAUNCHER_IMAGE %s", v)
				}
			}},
		{"namespaces", []string{"install", "--dry-run", "--argo-namespace", "team-a", "--argo-namespace", "team-b"},
			func(t *testing.T, objs []*unstructured.Unstructured) {
				if findObj(objs, "Role", "team-b", "kfpargo-executor") == nil || findObj(objs, "Role", "argo", "kfpargo-executor") != nil {
					t.Error("executor Roles not in exactly team-a and team-b")
				}
			}},
		{"no namespace", []string{"install", "--dry-run", "--argo-namespace="},
			func(t *testing.T, objs []*unstructured.Unstructured) {
				for _, o := range objs {
					if o.GetKind() == "Role" && o.GetName() == "kfpargo-executor" {
						t.Errorf("executor Role in %s", o.GetNamespace())
					}
				}
			}},
		{"dev", []string{"install", "--dry-run", "--overlay", "dev"},
			func(t *testing.T, objs []*unstructured.Unstructured) {
				if findObj(objs, "Deployment", "kfpargo-system", "minio") == nil || findObj(objs, "Secret", "argo", "kfpargo-redis") == nil {
					t.Error("dev overlay without MinIO or the workflow namespace's Redis Secret")
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runCLI(t, "", tc.args...)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, errs)
			}
			objs := decodeStream(t, out)
			if len(objs) < 10 {
				t.Fatalf("%d objects on stdout", len(objs))
			}
			tc.check(t, objs)
		})
	}
}

func TestInstallSecretsFromFiles(t *testing.T) {
	ak := writeFile(t, "ak", "AKIA-test-access\n")
	sk := writeFile(t, "sk", "very-secret-value\n")
	pw := writeFile(t, "pw", "redis-secret-pw")
	code, out, errs := runCLI(t, "", "install", "--dry-run", "-o", "json", "--argo-namespace", "team-a",
		"--s3-endpoint", "s3.example:443", "--s3-access-key-file", ak, "--s3-secret-key-file", sk,
		"--redis-addr", "redis.example:6379", "--redis-password-file", pw)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, s := range []string{"very-secret-value", "redis-secret-pw"} {
		if strings.Contains(errs, s) {
			t.Errorf("stderr shows a secret: %s", errs)
		}
	}
	var list struct{ Items []map[string]any }
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("-o json: %v", err)
	}
	var objs []*unstructured.Unstructured
	for _, it := range list.Items {
		objs = append(objs, &unstructured.Unstructured{Object: it})
	}
	for _, tc := range []struct{ ns, name, key, want string }{
		{"team-a", "kfpargo-s3", "SECRET_KEY", "very-secret-value"},
		{"team-a", "kfpargo-s3", "ACCESS_KEY", "AKIA-test-access"},
		{"team-a", "kfpargo-s3", "ENDPOINT", "s3.example:443"},
		{"team-a", "kfpargo-redis", "PASSWORD", "redis-secret-pw"},
		{"kfpargo-system", "kfpargo-s3", "SECRET_KEY", "very-secret-value"},
		{"kfpargo-system", "kfpargo-redis", "PASSWORD", "redis-secret-pw"},
	} {
		o := findObj(objs, "Secret", tc.ns, tc.name)
		if o == nil {
			t.Errorf("no Secret %s/%s", tc.ns, tc.name)
			continue
		}
		v, _, _ := unstructured.NestedString(o.Object, "data", tc.key)
		if b, _ := base64.StdEncoding.DecodeString(v); string(b) != tc.want {
			t.Errorf("Secret %s/%s %s = %q, want %q", tc.ns, tc.name, tc.key, b, tc.want)
		}
	}
	if strings.Contains(errs, "note: Secret") {
		t.Errorf("notes about missing Secrets although all were given: %s", errs)
	}
}

// Printed manifests carry a fresh signing key, in the webhook's Secret and
// in the workflow namespaces' kfpargo-redis, and say so.
func TestInstallPrintsSigningKey(t *testing.T) {
	keyOf := func() string {
		code, out, errs := runCLI(t, "", "install", "--dry-run", "--overlay", "dev", "--argo-namespace", "team-a")
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, errs)
		}
		if !strings.Contains(errs, "note: the output holds a new cache signing key") {
			t.Errorf("no note about the key: %s", errs)
		}
		objs := decodeStream(t, out)
		value := func(ns, name string) string {
			o := findObj(objs, "Secret", ns, name)
			if o == nil {
				t.Fatalf("no Secret %s/%s", ns, name)
			}
			v, _, _ := unstructured.NestedString(o.Object, "data", "HMAC_KEY")
			b, _ := base64.StdEncoding.DecodeString(v)
			return string(b)
		}
		key := value("kfpargo-system", "kfpargo-cache-hmac")
		if _, err := cachestore.ParseKeyring(key); err != nil || len(key) != 64 {
			t.Fatalf("signing key %d bytes: %v", len(key), err)
		}
		if want, _ := cachestore.ScopeKeys(key, cachestore.NamespaceScope("team-a")); value("team-a", "kfpargo-redis") != want {
			t.Errorf("the workflow namespace's key is not its scope's")
		}
		return key
	}
	if keyOf() == keyOf() {
		t.Error("two renderings printed the same key")
	}
	// A given key is the one installed, and no note is printed.
	key := strings.Repeat("0123456789abcdef", 4)
	code, out, errs := runCLI(t, "", "install", "--dry-run", "--signing-key-file", writeFile(t, "key", key+"\n"))
	if code != exitOK || strings.Contains(errs, "new cache signing key") || strings.Contains(errs, key) {
		t.Fatalf("exit %d: %s", code, errs)
	}
	o := findObj(decodeStream(t, out), "Secret", "kfpargo-system", "kfpargo-cache-hmac")
	if v, _, _ := unstructured.NestedString(o.Object, "data", "HMAC_KEY"); v != base64.StdEncoding.EncodeToString([]byte(key)) {
		t.Errorf("installed key %q", v)
	}
}

func TestInstallErrors(t *testing.T) {
	unreachable := writeFile(t, "kubeconfig", `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: x}}]
contexts: [{name: ctx, context: {cluster: c, user: u}}]
current-context: ctx
`)
	empty := writeFile(t, "empty", "")
	ak := writeFile(t, "ak", "a")
	emptyKey := writeFile(t, "ek", "\n")
	shortSigningKey := writeFile(t, "sk", "s3cr3t-but-short")
	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"unknown overlay", []string{"install", "--overlay", "prod"}, exitInvalid,
			[]string{`--overlay: unknown overlay "prod" (valid: self-signed, cert-manager, dev)`}},
		{"short signing key", []string{"install", "--dry-run", "--signing-key-file", shortSigningKey}, exitInvalid,
			[]string{"--signing-key-file: HMAC key 1 of 1: 16 bytes, want at least 32"}},
		{"dry-run value", []string{"install", "--dry-run=maybe"}, exitInvalid, []string{`--dry-run "maybe": want none, client or server`}},
		{"output", []string{"install", "--dry-run", "-o", "toml"}, exitInvalid, []string{`-o "toml": want yaml or json`}},
		{"namespace name", []string{"install", "--dry-run", "--argo-namespace", "Team_A"}, exitInvalid, []string{`--argo-namespace: "Team_A" is not a namespace name`}},
		{"empty namespace with others", []string{"install", "--dry-run", "--argo-namespace", "", "--argo-namespace", "a"}, exitInvalid, []string{"--argo-namespace: an empty value"}},
		{"tag", []string{"install", "--dry-run", "--image-tag", "a b"}, exitInvalid, []string{"--image-tag:"}},
		{"dev with settings", []string{"install", "--dry-run", "--overlay", "dev", "--redis-addr", "r:1"}, exitInvalid, []string{"brings its own MinIO and Redis"}},
		{"keys without endpoint", []string{"install", "--dry-run", "--s3-access-key-file", ak, "--s3-secret-key-file", ak}, exitInvalid, []string{"--s3-endpoint: required"}},
		{"one key", []string{"install", "--dry-run", "--s3-endpoint", "e:1", "--s3-access-key-file", ak}, exitInvalid, []string{"--s3-access-key-file/--s3-secret-key-file:"}},
		{"missing key file", []string{"install", "--dry-run", "--s3-endpoint", "e:1", "--s3-access-key-file", "/nonexistent/ak"}, exitInvalid, []string{"--s3-access-key-file: open /nonexistent/ak"}},
		{"empty key file", []string{"install", "--dry-run", "--s3-endpoint", "e:1", "--s3-access-key-file", emptyKey, "--s3-secret-key-file", ak}, exitInvalid, []string{"--s3-access-key-file: " + emptyKey + " is empty"}},
		{"argument", []string{"install", "dev"}, exitInvalid, []string{`unexpected argument "dev": install takes only flags`}},
		{"unknown context", []string{"install", "--kubeconfig", unreachable, "--context", "other"}, exitInvalid, []string{`--context: no context "other"`}},
		{"unreachable", []string{"install", "--kubeconfig", unreachable}, exitFailure,
			[]string{"cannot reach the cluster at https://127.0.0.1:1", "connection refused", "kubeconfig " + unreachable + ", context ctx"}},
		{"no kubeconfig", []string{"install", "--kubeconfig", empty}, exitFailure, []string{"no cluster configured"}},
		{"uninstall unreachable", []string{"uninstall", "--kubeconfig", unreachable}, exitFailure, []string{"cannot reach the cluster at https://127.0.0.1:1"}},
		{"uninstall dry-run value", []string{"uninstall", "--dry-run=yes"}, exitInvalid, []string{`--dry-run "yes"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errs := runCLI(t, "", tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tc.code, errs)
			}
			for _, w := range tc.want {
				if !strings.Contains(errs, w) {
					t.Errorf("stderr %q lacks %q", errs, w)
				}
			}
		})
	}
}

func TestInstallHelp(t *testing.T) {
	for _, tc := range []struct {
		cmd  string
		want []string
	}{
		{"install", []string{"Examples:", "kfpargo install --overlay dev", "--dry-run | kubectl apply", "Exit codes: 0", "--argo-namespace", "--s3-access-key-file", "--kubeconfig", "--context"}},
		{"uninstall", []string{"Examples:", "kfpargo uninstall --argo-namespace team-a", "Exit codes: 0", "--delete-secrets", "webhook being removed"}},
	} {
		t.Run(tc.cmd, func(t *testing.T) {
			code, out, errs := runCLI(t, "", tc.cmd, "--help")
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, errs)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("help lacks %q", w)
				}
			}
		})
	}
}

func TestUninstallDryRunClient(t *testing.T) {
	code, out, errs := runCLI(t, "", "uninstall", "--dry-run", "--argo-namespace", "team-a", "--delete-secrets")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if !strings.HasPrefix(lines[0], "MutatingWebhookConfiguration kfpargo-cache ") || !strings.HasPrefix(lines[len(lines)-1], "Namespace kfpargo-system ") {
		t.Errorf("order: first %q, last %q", lines[0], lines[len(lines)-1])
	}
	for _, w := range []string{"Secret team-a/kfpargo-s3 ", "Role team-a/kfpargo-executor ", "Deployment kfpargo-system/minio "} {
		if !strings.Contains(out, w) {
			t.Errorf("%s not listed", w)
		}
	}
}

// TestInstallTLS: the TLS flags end up where the webhook (its ConfigMap
// and kfpargo-system Secrets, read as files) and the steps (the workflow
// namespaces' Secrets, read as variables) look for them.
func TestInstallTLS(t *testing.T) {
	ca := string(servers.NewTestCA(t).CAPEM)
	caFile := writeFile(t, "ca.pem", ca)
	ak := writeFile(t, "ak", "AKIA-test-access")
	sk := writeFile(t, "sk", "very-secret-value")
	pw := writeFile(t, "pw", "redis-secret-pw")
	code, out, errs := runCLI(t, "", "install", "--dry-run", "-o", "json", "--argo-namespace", "team-a",
		"--s3-endpoint", "s3.example:443", "--s3-access-key-file", ak, "--s3-secret-key-file", sk, "--s3-ca-file", caFile,
		"--redis-addr", "redis.example:6380", "--redis-username", "kfpargo", "--redis-password-file", pw,
		"--redis-tls", "--redis-ca-file", caFile)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var list struct{ Items []map[string]any }
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("-o json: %v", err)
	}
	var objs []*unstructured.Unstructured
	for _, it := range list.Items {
		objs = append(objs, &unstructured.Unstructured{Object: it})
	}
	for _, tc := range []struct{ ns, name, key, want string }{
		{"team-a", "kfpargo-s3", "CA_PEM", ca},
		{"team-a", "kfpargo-s3", "INSECURE", "false"},
		{"team-a", "kfpargo-redis", "TLS", "true"},
		{"team-a", "kfpargo-redis", "CA_PEM", ca},
		{"team-a", "kfpargo-redis", "USERNAME", "kfpargo"},
		{"kfpargo-system", "kfpargo-s3", "CA_PEM", ca},
		{"kfpargo-system", "kfpargo-redis", "CA_PEM", ca},
		{"kfpargo-system", "kfpargo-redis", "USERNAME", "kfpargo"},
		{"kfpargo-system", "kfpargo-redis", "PASSWORD", "redis-secret-pw"},
	} {
		o := findObj(objs, "Secret", tc.ns, tc.name)
		if o == nil {
			t.Errorf("no Secret %s/%s", tc.ns, tc.name)
			continue
		}
		v, _, _ := unstructured.NestedString(o.Object, "data", tc.key)
		if b, _ := base64.StdEncoding.DecodeString(v); string(b) != tc.want {
			t.Errorf("Secret %s/%s %s = %q, want %q", tc.ns, tc.name, tc.key, b, tc.want)
		}
	}
	cm := findObj(objs, "ConfigMap", "kfpargo-system", "kfpargo-cachewebhook")
	if v, _, _ := unstructured.NestedString(cm.Object, "data", "REDIS_TLS"); v != "true" {
		t.Errorf("ConfigMap REDIS_TLS = %q, want true", v)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--redis-addr", "r:1", "--redis-ca-file", caFile}, "--redis-ca-file: a CA is for TLS, which is not enabled"},
		{[]string{"--redis-addr", "r:1", "--redis-tls", "--redis-ca-file", ak}, "--redis-ca-file: CA: no PEM certificate"},
		{[]string{"--s3-endpoint", "e:1", "--s3-ca-file", "/nonexistent/ca"}, "--s3-ca-file: open /nonexistent/ca"},
		{[]string{"--s3-endpoint", "e:1", "--s3-access-key-file", ak, "--s3-secret-key-file", sk, "--s3-insecure", "--s3-ca-file", caFile}, "--s3-ca-file: a CA is for HTTPS"},
	} {
		code, _, errs := runCLI(t, "", append([]string{"install", "--dry-run"}, tc.args...)...)
		if code != exitInvalid || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, code, errs, exitInvalid, tc.want)
		}
	}
}
