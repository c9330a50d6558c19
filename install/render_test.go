package install

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/kfpargo/kfpargo/cachestore"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/kfpargo/kfpargo/test/servers"
)

func mustRender(t *testing.T, o Options) []*unstructured.Unstructured {
	t.Helper()
	objs, err := Render(o)
	if err != nil {
		t.Fatalf("Render(%+v): %v", o, err)
	}
	return objs
}

// decode converts the one rendered object of kind, namespace and name.
func decode(t *testing.T, objs []*unstructured.Unstructured, kind, namespace, name string, out any) {
	t.Helper()
	o := find(objs, kind, namespace, name)
	if o == nil {
		t.Fatalf("no %s %s/%s rendered", kind, namespace, name)
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(o.Object, out, true); err != nil {
		t.Fatalf("%s: %v", Describe(o), err)
	}
}

func names(objs []*unstructured.Unstructured) []string {
	var out []string
	for _, o := range objs {
		out = append(out, Describe(o))
	}
	return out
}

func TestRenderOverlays(t *testing.T) {
	for _, tc := range []struct {
		overlay string
		want    []string // objects the overlay must add
		absent  []string
	}{
		{OverlaySelfSigned,
			[]string{"Role kfpargo-system/kfpargo-cachewebhook-certs", "ClusterRole kfpargo-cachewebhook-cabundle"},
			[]string{"Certificate kfpargo-system/kfpargo-cachewebhook", "Deployment kfpargo-system/minio"}},
		{OverlayCertManager,
			[]string{"Certificate kfpargo-system/kfpargo-cachewebhook", "Issuer kfpargo-system/kfpargo-ca"},
			[]string{"ClusterRole kfpargo-cachewebhook-cabundle", "Deployment kfpargo-system/redis"}},
		{OverlayDev,
			[]string{"Deployment kfpargo-system/redis", "Deployment kfpargo-system/minio", "Secret kfpargo-system/kfpargo-s3", "Role kfpargo-system/kfpargo-cachewebhook-certs"},
			[]string{"Certificate kfpargo-system/kfpargo-cachewebhook"}},
		{"", // the default
			[]string{"Role kfpargo-system/kfpargo-cachewebhook-certs"},
			[]string{"Certificate kfpargo-system/kfpargo-cachewebhook"}},
	} {
		t.Run(tc.overlay, func(t *testing.T) {
			objs := mustRender(t, Options{Overlay: tc.overlay, ArgoNamespaces: []string{"argo"}})
			got := names(objs)
			common := []string{
				"Namespace kfpargo-system", "ServiceAccount kfpargo-system/kfpargo-cachewebhook",
				"ConfigMap kfpargo-system/kfpargo-cachewebhook", "Service kfpargo-system/kfpargo-cachewebhook",
				"Deployment kfpargo-system/kfpargo-cachewebhook", "PodDisruptionBudget kfpargo-system/kfpargo-cachewebhook",
				"MutatingWebhookConfiguration kfpargo-cache", "Role argo/kfpargo-executor", "RoleBinding argo/kfpargo-executor",
			}
			for _, w := range append(common, tc.want...) {
				if !slices.Contains(got, w) {
					t.Errorf("missing %s; rendered %v", w, got)
				}
			}
			for _, a := range tc.absent {
				if slices.Contains(got, a) {
					t.Errorf("%s rendered, not part of this overlay", a)
				}
			}
			for _, o := range objs {
				if o.GetLabels()[PartOfLabel] != PartOfValue {
					t.Errorf("%s lacks %s=%s", Describe(o), PartOfLabel, PartOfValue)
				}
				clusterScoped := slices.Contains([]string{"Namespace", "ClusterRole", "ClusterRoleBinding", "MutatingWebhookConfiguration"}, o.GetKind())
				if clusterScoped != (o.GetNamespace() == "") {
					t.Errorf("%s: namespace %q", Describe(o), o.GetNamespace())
				}
			}
			if last := objs[len(objs)-1]; last.GetKind() != "MutatingWebhookConfiguration" {
				t.Errorf("last object %s, want the webhook configuration", Describe(last))
			}
		})
	}
}

func webhookImages(t *testing.T, objs []*unstructured.Unstructured) (webhook, launcher string) {
	t.Helper()
	var d appsv1.Deployment
	decode(t, objs, "Deployment", SystemNamespace, webhookDeployment, &d)
	var cm corev1.ConfigMap
	decode(t, objs, "ConfigMap", SystemNamespace, webhookConfigMap, &cm)
	return d.Spec.Template.Spec.Containers[0].Image, cm.Data["LAUNCHER_IMAGE"]
}

func TestRenderImages(t *testing.T) {
	for _, tc := range []struct {
		name                   string
		opts                   Options
		webhook, launcher      string
		untouchedDevImagesFrom bool
	}{
		{"defaults (a development build)", Options{}, "ghcr.io/kfpargo/cachewebhook:dev", "ghcr.io/kfpargo/launcher:dev", false},
		{"tag", Options{ImageTag: "v0.2.0"}, "ghcr.io/kfpargo/cachewebhook:v0.2.0", "ghcr.io/kfpargo/launcher:v0.2.0", false},
		{"registry with port and trailing slash", Options{ImageRegistry: "localhost:5001/kfpargo/", ImageTag: "v1"},
			"localhost:5001/kfpargo/cachewebhook:v1", "localhost:5001/kfpargo/launcher:v1", false},
		{"cert-manager", Options{Overlay: OverlayCertManager, ImageRegistry: "r.example/x", ImageTag: "t"},
			"r.example/x/cachewebhook:t", "r.example/x/launcher:t", false},
		{"dev leaves Redis and MinIO alone", Options{Overlay: OverlayDev, ImageRegistry: "r.example/x", ImageTag: "t"},
			"r.example/x/cachewebhook:t", "r.example/x/launcher:t", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs := mustRender(t, tc.opts)
			webhook, launcher := webhookImages(t, objs)
			if webhook != tc.webhook || launcher != tc.launcher {
				t.Errorf("images %s, %s; want %s, %s", webhook, launcher, tc.webhook, tc.launcher)
			}
			if tc.untouchedDevImagesFrom {
				var r, m appsv1.Deployment
				decode(t, objs, "Deployment", SystemNamespace, "redis", &r)
				decode(t, objs, "Deployment", SystemNamespace, "minio", &m)
				if img := r.Spec.Template.Spec.Containers[0].Image; !strings.HasPrefix(img, "redis:") {
					t.Errorf("redis image %s", img)
				}
				if img := m.Spec.Template.Spec.Containers[0].Image; !strings.HasPrefix(img, "quay.io/minio/minio:") {
					t.Errorf("minio image %s", img)
				}
			}
		})
	}
}

func TestImageTagFor(t *testing.T) {
	for v, want := range map[string]string{"": "dev", "dev": "dev", "v0.1.0": "v0.1.0", "v0.1.0-3-gabc1234-dirty": "v0.1.0-3-gabc1234-dirty"} {
		if got := ImageTagFor(v); got != want {
			t.Errorf("ImageTagFor(%q) = %q, want %q", v, got, want)
		}
	}
}

func TestRenderArgoNamespaces(t *testing.T) {
	for _, tc := range []struct {
		name string
		nss  []string
	}{
		{"none", nil},
		{"argo", []string{"argo"}},
		{"several", []string{"team-a", "team-b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs := mustRender(t, Options{ArgoNamespaces: tc.nss})
			var roles []string
			for _, o := range objs {
				if o.GetKind() == "Role" && o.GetName() == "kfpargo-executor" {
					roles = append(roles, o.GetNamespace())
				}
			}
			if !slices.Equal(roles, tc.nss) {
				t.Errorf("executor Roles in %v, want %v", roles, tc.nss)
			}
			for _, ns := range tc.nss {
				var rb rbacv1.RoleBinding
				decode(t, objs, "RoleBinding", ns, "kfpargo-executor", &rb)
				if len(rb.Subjects) != 1 || rb.Subjects[0].Namespace != ns || rb.Subjects[0].Name != "default" {
					t.Errorf("%s: subjects %+v", ns, rb.Subjects)
				}
			}
		})
	}
}

// secretValues decodes the rendered Secret, nil when there is none.
func secretValues(t *testing.T, objs []*unstructured.Unstructured, namespace, name string) map[string]string {
	t.Helper()
	o := find(objs, "Secret", namespace, name)
	if o == nil {
		return nil
	}
	if _, ok := o.Object["stringData"]; ok {
		t.Errorf("%s has stringData", Describe(o))
	}
	d, err := secretData(o)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestRenderStorage(t *testing.T) {
	testCA := string(servers.NewTestCA(t).CAPEM)
	s3 := &S3{Endpoint: "s3.example:443", AccessKey: "AK", SecretKey: "SK"}
	for _, tc := range []struct {
		name string
		opts Options
		// wanted Secrets by namespace/name; nil means not rendered.
		secrets map[string]map[string]string
		config  map[string]string
	}{
		{"bring your own", Options{},
			map[string]map[string]string{"team-a/kfpargo-s3": nil, "team-a/kfpargo-redis": nil, "kfpargo-system/kfpargo-s3": nil, "kfpargo-system/kfpargo-redis": nil},
			map[string]string{"S3_ENDPOINT": "minio.kfpargo-system.svc:9000", "REDIS_ADDR": "redis.kfpargo-system.svc:6379"}},
		{"endpoints only", Options{S3: &S3{Endpoint: "s3.example:443"}, Redis: &Redis{Addr: "redis.example:6379"}},
			map[string]map[string]string{
				"team-a/kfpargo-s3":            nil,
				"team-a/kfpargo-redis":         {"ADDR": "redis.example:6379", "SCOPE": "namespace", "MAX_TTL": "720h"},
				"kfpargo-system/kfpargo-s3":    nil,
				"kfpargo-system/kfpargo-redis": nil,
			},
			map[string]string{"S3_ENDPOINT": "s3.example:443", "S3_INSECURE": "false", "REDIS_ADDR": "redis.example:6379", "REDIS_TLS": "false"}},
		{"credentials", Options{S3: s3, Redis: &Redis{Addr: "redis.example:6379", Password: "PW"}},
			map[string]map[string]string{
				"team-a/kfpargo-s3":            {"ENDPOINT": "s3.example:443", "ACCESS_KEY": "AK", "SECRET_KEY": "SK", "INSECURE": "false"},
				"team-b/kfpargo-s3":            {"ENDPOINT": "s3.example:443", "ACCESS_KEY": "AK", "SECRET_KEY": "SK", "INSECURE": "false"},
				"team-a/kfpargo-redis":         {"ADDR": "redis.example:6379", "SCOPE": "namespace", "MAX_TTL": "720h", "PASSWORD": "PW"},
				"kfpargo-system/kfpargo-s3":    {"ENDPOINT": "s3.example:443", "ACCESS_KEY": "AK", "SECRET_KEY": "SK", "INSECURE": "false"},
				"kfpargo-system/kfpargo-redis": {"PASSWORD": "PW"},
			},
			map[string]string{"S3_ENDPOINT": "s3.example:443", "REDIS_ADDR": "redis.example:6379"}},
		{"TLS and a Redis user", Options{S3: &S3{Endpoint: "s3.example:443", AccessKey: "AK", SecretKey: "SK", CAPEM: []byte(testCA)},
			Redis: &Redis{Addr: "redis.example:6380", Username: "kfpargo", Password: "PW", TLS: true, CAPEM: []byte(testCA)}},
			map[string]map[string]string{
				"team-a/kfpargo-s3":            {"ENDPOINT": "s3.example:443", "ACCESS_KEY": "AK", "SECRET_KEY": "SK", "INSECURE": "false", "CA_PEM": testCA},
				"team-a/kfpargo-redis":         {"ADDR": "redis.example:6380", "SCOPE": "namespace", "MAX_TTL": "720h", "USERNAME": "kfpargo", "PASSWORD": "PW", "TLS": "true", "CA_PEM": testCA},
				"kfpargo-system/kfpargo-s3":    {"ENDPOINT": "s3.example:443", "ACCESS_KEY": "AK", "SECRET_KEY": "SK", "INSECURE": "false", "CA_PEM": testCA},
				"kfpargo-system/kfpargo-redis": {"USERNAME": "kfpargo", "PASSWORD": "PW", "CA_PEM": testCA},
			},
			map[string]string{"S3_INSECURE": "false", "REDIS_ADDR": "redis.example:6380", "REDIS_TLS": "true"}},
		{"dev", Options{Overlay: OverlayDev},
			map[string]map[string]string{
				"team-a/kfpargo-s3":            {"ENDPOINT": "minio.kfpargo-system.svc:9000", "ACCESS_KEY": "kfpargo-dev", "SECRET_KEY": "kfpargo-dev-secret", "INSECURE": "true", "CREATE_BUCKET": "true"},
				"team-b/kfpargo-redis":         {"ADDR": "redis.kfpargo-system.svc:6379", "SCOPE": "namespace", "MAX_TTL": "720h"},
				"kfpargo-system/kfpargo-s3":    {"ENDPOINT": "minio.kfpargo-system.svc:9000", "ACCESS_KEY": "kfpargo-dev", "SECRET_KEY": "kfpargo-dev-secret", "INSECURE": "true"},
				"kfpargo-system/kfpargo-redis": nil,
			},
			map[string]string{"S3_ENDPOINT": "minio.kfpargo-system.svc:9000", "REDIS_ADDR": "redis.kfpargo-system.svc:6379"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.ArgoNamespaces = []string{"team-a", "team-b"}
			objs := mustRender(t, tc.opts)
			for ref, want := range tc.secrets {
				ns, name, _ := strings.Cut(ref, "/")
				got := secretValues(t, objs, ns, name)
				if fmt.Sprint(got) != fmt.Sprint(want) {
					// Test values only: printing them is fine here.
					t.Errorf("Secret %s = %v, want %v", ref, got, want)
				}
			}
			var cm corev1.ConfigMap
			decode(t, objs, "ConfigMap", SystemNamespace, webhookConfigMap, &cm)
			for k, v := range tc.config {
				if cm.Data[k] != v {
					t.Errorf("ConfigMap %s = %q, want %q", k, cm.Data[k], v)
				}
			}
		})
	}
}

func TestRenderErrors(t *testing.T) {
	testCA := string(servers.NewTestCA(t).CAPEM)
	for _, tc := range []struct {
		name  string
		opts  Options
		field string
		msg   string
	}{
		{"unknown overlay", Options{Overlay: "prod"}, "Overlay", `unknown overlay "prod" (valid: self-signed, cert-manager, dev)`},
		{"base is not an overlay", Options{Overlay: "../../base"}, "Overlay", "unknown overlay"},
		{"bad tag", Options{ImageTag: "v1+build"}, "ImageTag", "is not an image tag"},
		{"bad registry", Options{ImageRegistry: "Not A Registry"}, "ImageRegistry", "does not make an image name"},
		{"bad namespace", Options{ArgoNamespaces: []string{"Team_A"}}, "ArgoNamespaces", `"Team_A" is not a namespace name`},
		{"empty namespace", Options{ArgoNamespaces: []string{""}}, "ArgoNamespaces", "is not a namespace name"},
		{"twice", Options{ArgoNamespaces: []string{"a", "a"}}, "ArgoNamespaces", `"a" given twice`},
		{"system namespace", Options{ArgoNamespaces: []string{"kfpargo-system"}}, "ArgoNamespaces", "kfpargo's own namespace"},
		{"dev with storage", Options{Overlay: OverlayDev, Redis: &Redis{Addr: "r:1"}}, "S3", "brings its own MinIO and Redis"},
		{"no endpoint", Options{S3: &S3{AccessKey: "a", SecretKey: "b"}}, "S3.Endpoint", "required"},
		{"one key", Options{S3: &S3{Endpoint: "e:1", AccessKey: "a"}}, "S3.AccessKey", "give both or neither"},
		{"no redis address", Options{Redis: &Redis{Password: "p"}}, "Redis.Addr", "required"},
		{"redis CA without TLS", Options{Redis: &Redis{Addr: "r:1", CAPEM: []byte(testCA)}}, "Redis.CAPEM", "TLS, which is not enabled"},
		{"redis CA not PEM", Options{Redis: &Redis{Addr: "r:1", TLS: true, CAPEM: []byte("PW-secret")}}, "Redis.CAPEM", "no PEM certificate"},
		{"s3 CA and plain HTTP", Options{S3: &S3{Endpoint: "e:1", AccessKey: "a", SecretKey: "SK-secret", Insecure: true, CAPEM: []byte(testCA)}}, "S3.CAPEM", "plain HTTP"},
		{"s3 CA without credentials", Options{S3: &S3{Endpoint: "e:1", CAPEM: []byte(testCA)}}, "S3.CAPEM", "put CA_PEM into your own Secrets"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Render(tc.opts)
			var oe *OptionError
			if !errors.As(err, &oe) {
				t.Fatalf("error %v, want an OptionError", err)
			}
			if oe.Field != tc.field || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q (field %s), want field %s and %q", err, oe.Field, tc.field, tc.msg)
			}
			for _, secret := range []string{"PW-secret", "SK-secret"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error shows a secret: %v", err)
				}
			}
		})
	}
}

func TestSettingsDoNotPrintSecrets(t *testing.T) {
	s := S3{Endpoint: "e:1", AccessKey: "AK-secret", SecretKey: "SK-secret"}
	r := Redis{Addr: "r:1", Password: "PW-secret"}
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v %+v %s", &s, s, s), fmt.Sprint(r), fmt.Sprintf("%v %+v", &r, r)} {
		if strings.Contains(out, "-secret") {
			t.Errorf("printed %q", out)
		}
		if !strings.Contains(out, ":1") {
			t.Errorf("address missing from %q", out)
		}
	}
}

func TestMarshal(t *testing.T) {
	objs := mustRender(t, Options{ArgoNamespaces: []string{"argo"}})
	y, err := Marshal(objs, "yaml")
	if err != nil {
		t.Fatal(err)
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(string(y)), 4096)
	var kinds []string
	for {
		var u unstructured.Unstructured
		if err := dec.Decode(&u.Object); err != nil {
			break
		}
		kinds = append(kinds, u.GetKind())
	}
	if len(kinds) != len(objs) || kinds[0] != "Namespace" || kinds[len(kinds)-1] != "MutatingWebhookConfiguration" {
		t.Errorf("YAML stream holds %v, want the %d objects in apply order", kinds, len(objs))
	}
	j, err := Marshal(objs, "json")
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Kind  string
		Items []map[string]any
	}
	if err := json.Unmarshal(j, &list); err != nil || list.Kind != "List" || len(list.Items) != len(objs) {
		t.Errorf("JSON: %v, kind %q, %d items", err, list.Kind, len(list.Items))
	}
	if _, err := Marshal(objs, "xml"); err == nil {
		t.Error("xml accepted")
	}
}

// Objects go through unstructured helpers that deep-copy them; Go ints
// (what kustomize's own maps hold) make those panic.
func TestRenderedObjectsDeepCopy(t *testing.T) {
	for _, overlay := range Overlays() {
		for _, o := range mustRender(t, Options{Overlay: overlay, ArgoNamespaces: []string{"argo"}}) {
			_ = o.DeepCopy()
		}
	}
}

func TestKustomize(t *testing.T) {
	for _, tc := range []struct {
		dir     string
		want    string
		wantErr string
	}{
		{"base", "Deployment kfpargo-system/kfpargo-cachewebhook", ""},
		{"overlays/dev", "Deployment kfpargo-system/minio", ""},
		// As in the repository: the placeholders a kubectl user edits.
		{"argo", "Secret argo/kfpargo-s3", ""},
		{"overlays", "", "no kustomization.yaml"},
		{"../manifests/base", "", "want a path like"},
		{"", "", "want a path like"},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			objs, err := Kustomize(tc.dir)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(names(objs), tc.want) {
				t.Errorf("no %s in %v", tc.want, names(objs))
			}
		})
	}
}

func TestRenderSigningKey(t *testing.T) {
	key := strings.Repeat("ab", 32)
	objs := mustRender(t, Options{ArgoNamespaces: []string{"team-a"}, Redis: &Redis{Addr: "redis.example:6379"}, SigningKey: key})
	if got := secretValues(t, objs, SystemNamespace, SigningKeySecretName); got[SigningKeyField] != key || len(got) != 1 {
		t.Errorf("the webhook's key Secret holds %d values, the key: %v", len(got), got[SigningKeyField] == key)
	}
	want, err := cachestore.ScopeKeys(key, cachestore.NamespaceScope("team-a"))
	if err != nil {
		t.Fatal(err)
	}
	if got := secretValues(t, objs, "team-a", RedisSecretName); got[SigningKeyField] != want {
		t.Error("the workflow namespace's kfpargo-redis lacks its scope's key")
	}
	// Another key restarts the webhook (its pod template changes).
	digest := func(objs []*unstructured.Unstructured) string {
		v, _, _ := unstructured.NestedString(find(objs, "Deployment", SystemNamespace, webhookDeployment).Object, "spec", "template", "metadata", "annotations", SigningKeyAnnotation)
		return v
	}
	other := mustRender(t, Options{SigningKey: strings.Repeat("cd", 32)})
	if d := digest(objs); len(d) != 16 || d == digest(other) || strings.Contains(key, d) {
		t.Errorf("pod template digests %q and %q", d, digest(other))
	}
	// Without a key nothing is rendered: the webhook waits for the Secret.
	if o := find(mustRender(t, Options{}), "Secret", SystemNamespace, SigningKeySecretName); o != nil {
		t.Error("a key Secret without a key")
	}
	_, err = Render(Options{SigningKey: "too-short-to-sign"})
	var oe *OptionError
	if !errors.As(err, &oe) || oe.Field != "SigningKey" || strings.Contains(err.Error(), "too-short") {
		t.Errorf("short key: %v", err)
	}
}
