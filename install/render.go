package install

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/kfpargo/kfpargo/cachestore"
	"github.com/kfpargo/kfpargo/manifests"
	"github.com/kfpargo/kfpargo/step"
	"github.com/kfpargo/kfpargo/tlsclient"
	"github.com/kfpargo/kfpargo/version"
)

// Overlays an installation can choose (manifests/overlays/<name>).
const (
	// OverlaySelfSigned: the webhook keeps its own CA and certificate.
	OverlaySelfSigned = "self-signed"
	// OverlayCertManager: cert-manager issues the certificate.
	OverlayCertManager = "cert-manager"
	// OverlayDev: self-signed plus a Redis and a MinIO with development
	// credentials, for a laptop cluster.
	OverlayDev = "dev"
)

// Names the manifests use; they are fixed there, so they are constants
// here.
const (
	DefaultOverlay       = OverlaySelfSigned
	DefaultImageRegistry = "ghcr.io/kfpargo"
	DefaultArgoNamespace = "argo"
	// SystemNamespace holds the webhook (and, for dev, Redis and MinIO).
	SystemNamespace = "kfpargo-system"
	// WebhookConfigName is the MutatingWebhookConfiguration.
	WebhookConfigName = "kfpargo-cache"
	// S3SecretName and RedisSecretName are the Secrets a workflow
	// namespace needs (and the webhook reads in SystemNamespace).
	S3SecretName    = "kfpargo-s3"
	RedisSecretName = "kfpargo-redis"
	// SigningKeySecretName holds the installation's cache signing key
	// under SigningKeyField; the webhook mounts it, and the workflow
	// namespaces' kfpargo-redis Secrets carry a copy under the same key.
	SigningKeySecretName = "kfpargo-cache-hmac"
	SigningKeyField      = "HMAC_KEY"
	// SigningKeyAnnotation on the webhook's pod template is a digest of
	// the key, so that installing a new key restarts the webhook.
	SigningKeyAnnotation = "kfpargo.io/signing-key-sha256"
	// PartOfLabel=PartOfValue marks every object an installation renders.
	PartOfLabel = "app.kubernetes.io/part-of"
	PartOfValue = "kfpargo"

	webhookConfigMap  = "kfpargo-cachewebhook"
	webhookDeployment = "kfpargo-cachewebhook"
	webhookImage      = "ghcr.io/kfpargo/cachewebhook"
	// devTag is the tag of a development build's images.
	devTag = "dev"
)

// Overlays lists the overlay names Render accepts, the default first.
func Overlays() []string {
	return []string{OverlaySelfSigned, OverlayCertManager, OverlayDev}
}

// Options are an installation's choices. The zero value is the default
// installation with no workflow namespace.
type Options struct {
	// Overlay is one of Overlays(); "" means DefaultOverlay.
	Overlay string
	// ImageRegistry is the prefix of the cachewebhook and launcher images;
	// "" means DefaultImageRegistry.
	ImageRegistry string
	// ImageTag tags both images; "" means ImageTagFor(version.Version).
	ImageTag string
	// ArgoNamespaces are the namespaces workflows run in: each gets the
	// executor Role and, when their values are known, the kfpargo-s3 and
	// kfpargo-redis Secrets. Empty: none.
	ArgoNamespaces []string
	// S3 and Redis are where the cache and the artifacts are. nil keeps
	// the manifests' addresses and renders no Secret for them: the
	// operator brings their own. Not allowed with OverlayDev, which
	// brings its own servers.
	S3    *S3
	Redis *Redis
	// SigningKey signs cache entries (cachestore.ParseKeyring): rendered
	// into the SigningKeySecretName Secret, and the keys derived from it
	// for each namespace's scope (cachestore.ScopeKeys) into every
	// kfpargo-redis Secret Render writes. "" renders neither; the webhook does not start
	// until the Secret exists. NewSigningKey makes one; an upgrade must
	// keep the installed one, or entries signed with it stop being served.
	SigningKey string
}

// S3 is the object store the launchers and the webhook use.
type S3 struct {
	// Endpoint is host:port.
	Endpoint string
	// Insecure: plain HTTP.
	Insecure bool
	// AccessKey and SecretKey: both set renders the kfpargo-s3 Secrets;
	// both empty leaves them to the operator.
	AccessKey, SecretKey string
	// CreateBucket lets the first upload create a missing bucket.
	CreateBucket bool
	// CAPEM: CA certificates (PEM) trusted for HTTPS besides the system's,
	// written into the Secrets as CA_PEM (needs the credentials).
	CAPEM []byte
}

// String leaves the credentials out, so that printing an S3 by mistake
// does not leak them.
func (s S3) String() string {
	return fmt.Sprintf("S3{Endpoint: %q, Insecure: %v, credentials: %v, CA: %v}", s.Endpoint, s.Insecure, s.AccessKey != "", len(s.CAPEM) > 0)
}

// Redis is the cache store.
type Redis struct {
	// Addr is host:port.
	Addr string
	// Username (a Redis 6 ACL user) and Password are optional.
	Username, Password string
	// TLS connects over TLS, trusting the system's roots and CAPEM (PEM).
	TLS   bool
	CAPEM []byte
}

// String leaves the password out.
func (r Redis) String() string {
	return fmt.Sprintf("Redis{Addr: %q, Username: %q, password: %v, TLS: %v, CA: %v}", r.Addr, r.Username, r.Password != "", r.TLS, len(r.CAPEM) > 0)
}

// OptionError is an Options field with a value Render cannot use.
type OptionError struct {
	// Field is the Options field, e.g. "Overlay" or "S3.Endpoint".
	Field string
	Err   error
}

func (e *OptionError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *OptionError) Unwrap() error { return e.Err }

func optionErr(field, format string, args ...any) error {
	return &OptionError{Field: field, Err: fmt.Errorf(format, args...)}
}

// tagPattern is the OCI distribution spec's tag grammar.
var tagPattern = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

// ImageTagFor is the image tag a kfpargo binary of version v installs by
// default: the images are tagged with the version they were built from
// (docs/images.md), and an unstamped development build ("dev") installs
// the dev images.
func ImageTagFor(v string) string {
	if v == "" {
		return devTag
	}
	return v
}

// withDefaults checks o and fills in its defaults.
func (o Options) withDefaults() (Options, error) {
	if o.Overlay == "" {
		o.Overlay = DefaultOverlay
	}
	if !slices.Contains(Overlays(), o.Overlay) {
		return o, optionErr("Overlay", "unknown overlay %q (valid: %s)", o.Overlay, strings.Join(Overlays(), ", "))
	}
	if o.ImageRegistry == "" {
		o.ImageRegistry = DefaultImageRegistry
	}
	o.ImageRegistry = strings.TrimSuffix(o.ImageRegistry, "/")
	if o.ImageTag == "" {
		o.ImageTag = ImageTagFor(version.Version)
	}
	if !tagPattern.MatchString(o.ImageTag) {
		return o, optionErr("ImageTag", "%q is not an image tag (letters, digits, '_', '.', '-'; at most 128)", o.ImageTag)
	}
	for _, img := range []string{"launcher", "cachewebhook"} {
		if _, err := name.NewTag(o.ImageRegistry+"/"+img+":"+o.ImageTag, name.StrictValidation); err != nil {
			return o, optionErr("ImageRegistry", "%q does not make an image name: %v", o.ImageRegistry, err)
		}
	}
	seen := map[string]bool{}
	for _, ns := range o.ArgoNamespaces {
		if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
			return o, optionErr("ArgoNamespaces", "%q is not a namespace name: %s", ns, strings.Join(errs, "; "))
		}
		if ns == SystemNamespace {
			// The webhook configuration excludes it: steps there would
			// never be served from the cache.
			return o, optionErr("ArgoNamespaces", "%s is kfpargo's own namespace, not a workflow namespace", ns)
		}
		if seen[ns] {
			return o, optionErr("ArgoNamespaces", "%q given twice", ns)
		}
		seen[ns] = true
	}
	if o.Overlay == OverlayDev && (o.S3 != nil || o.Redis != nil) {
		return o, optionErr("S3", "the %s overlay brings its own MinIO and Redis; object store and cache settings are for the other overlays", OverlayDev)
	}
	if o.S3 != nil {
		if o.S3.Endpoint == "" {
			return o, optionErr("S3.Endpoint", "required with object store settings")
		}
		if (o.S3.AccessKey == "") != (o.S3.SecretKey == "") {
			return o, optionErr("S3.AccessKey", "access key and secret key go together: give both or neither")
		}
		if len(o.S3.CAPEM) > 0 {
			switch {
			case o.S3.Insecure:
				return o, optionErr("S3.CAPEM", "a CA is for HTTPS, and plain HTTP (insecure) is configured")
			case o.S3.AccessKey == "":
				// Only Secrets with credentials are written here.
				return o, optionErr("S3.CAPEM", "the CA goes into the kfpargo-s3 Secrets, which are written only with the credentials; put CA_PEM into your own Secrets instead")
			}
			if _, err := tlsclient.Config(o.S3.CAPEM, ""); err != nil {
				return o, optionErr("S3.CAPEM", "%v", err)
			}
		}
	}
	if o.Redis != nil {
		if o.Redis.Addr == "" {
			return o, optionErr("Redis.Addr", "required with cache store settings")
		}
		if len(o.Redis.CAPEM) > 0 && !o.Redis.TLS {
			return o, optionErr("Redis.CAPEM", "a CA is for TLS, which is not enabled")
		}
		if _, err := tlsclient.Config(o.Redis.CAPEM, ""); err != nil {
			return o, optionErr("Redis.CAPEM", "%v", err)
		}
	}
	if o.SigningKey != "" {
		if _, err := cachestore.ParseKeyring(o.SigningKey); err != nil {
			return o, optionErr("SigningKey", "%v", err)
		}
	}
	return o, nil
}

// root is where the embedded tree is copied in the in-memory file system;
// the kustomizations Render writes sit next to it.
const root = "/kfpargo"

// Render builds the objects of an installation, in the order Apply needs
// them (SortForApply).
func Render(o Options) ([]*unstructured.Unstructured, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	fSys, err := memoryCopy(manifests.FS())
	if err != nil {
		return nil, err
	}
	system := fmt.Sprintf(`apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../kfpargo/overlays/%s
images:
  - name: %s
    newName: %s/cachewebhook
    newTag: %s
`, o.Overlay, webhookImage, o.ImageRegistry, o.ImageTag)
	objs, err := build(fSys, "/install-system", system)
	if err != nil {
		return nil, fmt.Errorf("overlay %s: %w", o.Overlay, err)
	}
	cm := find(objs, "ConfigMap", SystemNamespace, webhookConfigMap)
	if cm == nil {
		return nil, fmt.Errorf("overlay %s: no ConfigMap %s/%s", o.Overlay, SystemNamespace, webhookConfigMap)
	}
	set := func(k, v string) error { return unstructured.SetNestedField(cm.Object, v, "data", k) }
	if err := set("LAUNCHER_IMAGE", o.ImageRegistry+"/launcher:"+o.ImageTag); err != nil {
		return nil, err
	}
	s3, redis := o.S3, o.Redis
	if o.Overlay == OverlayDev {
		if s3, redis, err = devStorage(objs, cm); err != nil {
			return nil, err
		}
	} else {
		if s3 != nil {
			if err := errors.Join(set("S3_ENDPOINT", s3.Endpoint), set("S3_INSECURE", fmt.Sprint(s3.Insecure))); err != nil {
				return nil, err
			}
			if s3.AccessKey != "" {
				objs = append(objs, secret(SystemNamespace, S3SecretName, s3Data(s3)))
			}
		}
		if redis != nil {
			if err := errors.Join(set("REDIS_ADDR", redis.Addr), set("REDIS_TLS", fmt.Sprint(redis.TLS))); err != nil {
				return nil, err
			}
			// The webhook reads only these from its Secret.
			if d := redisAccess(redis); len(d) > 0 {
				objs = append(objs, secret(SystemNamespace, RedisSecretName, d))
			}
		}
	}
	if o.SigningKey != "" {
		objs = append(objs, secret(SystemNamespace, SigningKeySecretName, map[string]string{SigningKeyField: o.SigningKey}))
		// The webhook reads the key when it starts: a new key changes the
		// pod template, which rolls the replicas.
		d := find(objs, "Deployment", SystemNamespace, webhookDeployment)
		if d == nil {
			return nil, fmt.Errorf("overlay %s: no Deployment %s/%s", o.Overlay, SystemNamespace, webhookDeployment)
		}
		sum := sha256.Sum256([]byte(o.SigningKey))
		if err := unstructured.SetNestedField(d.Object, hex.EncodeToString(sum[:8]), "spec", "template", "metadata", "annotations", SigningKeyAnnotation); err != nil {
			return nil, err
		}
	}
	for _, ns := range o.ArgoNamespaces {
		argo := fmt.Sprintf(`apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: %s
resources:
  - ../kfpargo/argo
`, ns)
		nsObjs, err := build(fSys, "/install-argo-"+ns, argo)
		if err != nil {
			return nil, fmt.Errorf("workflow namespace %s: %w", ns, err)
		}
		for _, obj := range nsObjs {
			if obj.GetKind() != "Secret" {
				objs = append(objs, obj)
				continue
			}
			data, ok, err := argoSecretData(ns, obj.GetName(), s3, redis, cm, o.SigningKey)
			if err != nil {
				return nil, err
			}
			if !ok {
				// Its values are the operator's: never apply the placeholders.
				continue
			}
			objs = append(objs, secret(ns, obj.GetName(), data))
		}
	}
	for _, obj := range objs {
		// The overlays' own objects (dev's Redis and MinIO) are not under
		// base's label; uninstall and `kubectl get -l` rely on it.
		labels := obj.GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		labels[PartOfLabel] = PartOfValue
		obj.SetLabels(labels)
	}
	SortForApply(objs)
	return objs, nil
}

// Kustomize renders one kustomization of the embedded tree as it is in
// the repository, dir relative to manifests/ ("base", "overlays/dev",
// "argo"): what `kubectl apply -k manifests/<dir>` applies, without any of
// Render's choices.
func Kustomize(dir string) ([]*unstructured.Unstructured, error) {
	clean := path.Clean(dir)
	if !fs.ValidPath(clean) || clean == "." {
		return nil, fmt.Errorf("manifests directory %q: want a path like overlays/dev", dir)
	}
	fSys, err := memoryCopy(manifests.FS())
	if err != nil {
		return nil, err
	}
	if !fSys.Exists(path.Join(root, clean, "kustomization.yaml")) {
		return nil, fmt.Errorf("manifests/%s: no kustomization.yaml", clean)
	}
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fSys, path.Join(root, clean))
	if err != nil {
		return nil, fmt.Errorf("manifests/%s: kustomize: %w", clean, err)
	}
	return fromResMap(m)
}

// argoSecretData is what a workflow namespace's Secret of the manifests
// holds; false when the values are the operator's to provide.
func argoSecretData(namespace, name string, s3 *S3, redis *Redis, cm *unstructured.Unstructured, signingKey string) (map[string]string, bool, error) {
	switch name {
	case S3SecretName:
		if s3 == nil || s3.AccessKey == "" {
			return nil, false, nil
		}
		return s3Data(s3), true, nil
	case RedisSecretName:
		if redis == nil {
			return nil, false, nil
		}
		// Scope and lifetime must match the webhook's, so they come from
		// its ConfigMap.
		scope, _, _ := unstructured.NestedString(cm.Object, "data", "CACHE_SCOPE")
		ttl, _, _ := unstructured.NestedString(cm.Object, "data", "MAX_CACHE_TTL")
		d := redisAccess(redis)
		d["ADDR"], d["SCOPE"], d["MAX_TTL"] = redis.Addr, scope, ttl
		if redis.TLS {
			d["TLS"] = "true"
		}
		if signingKey != "" {
			// The namespace's launchers get their scope's keys only: with
			// them, no other namespace's entries can be signed.
			cs := cachestore.NamespaceScope(namespace)
			if scope == "cluster" {
				cs = cachestore.ClusterScope
			}
			keys, err := cachestore.ScopeKeys(signingKey, cs)
			if err != nil {
				return nil, false, fmt.Errorf("%s: %w", SigningKeyField, err)
			}
			d[SigningKeyField] = keys
		}
		return d, true, nil
	}
	return nil, false, fmt.Errorf("manifests/argo: unexpected Secret %s", name)
}

func s3Data(s3 *S3) map[string]string {
	d := map[string]string{
		step.SecretKeyEndpoint:  s3.Endpoint,
		step.SecretKeyAccessKey: s3.AccessKey,
		step.SecretKeySecretKey: s3.SecretKey,
		step.SecretKeyInsecure:  fmt.Sprint(s3.Insecure),
	}
	if s3.CreateBucket {
		d[step.SecretKeyCreateBucket] = "true"
	}
	if len(s3.CAPEM) > 0 {
		d[step.SecretKeyCAPEM] = string(s3.CAPEM)
	}
	return d
}

// redisAccess is what the webhook and the steps alike need to log in to
// Redis: user, password and CA, those that are set.
func redisAccess(r *Redis) map[string]string {
	d := map[string]string{}
	for k, v := range map[string]string{"USERNAME": r.Username, "PASSWORD": r.Password, step.SecretKeyCAPEM: string(r.CAPEM)} {
		if v != "" {
			d[k] = v
		}
	}
	return d
}

// devStorage reads the dev overlay's MinIO credentials and Redis address
// back from what it rendered, so that its development credentials live in
// one place (manifests/overlays/dev).
func devStorage(objs []*unstructured.Unstructured, cm *unstructured.Unstructured) (*S3, *Redis, error) {
	sec := find(objs, "Secret", SystemNamespace, S3SecretName)
	if sec == nil {
		return nil, nil, fmt.Errorf("overlay %s: no Secret %s/%s", OverlayDev, SystemNamespace, S3SecretName)
	}
	data, err := secretData(sec)
	if err != nil {
		return nil, nil, fmt.Errorf("overlay %s: Secret %s: %w", OverlayDev, S3SecretName, err)
	}
	addr, _, _ := unstructured.NestedString(cm.Object, "data", "REDIS_ADDR")
	return &S3{
		Endpoint:  data[step.SecretKeyEndpoint],
		Insecure:  data[step.SecretKeyInsecure] == "true",
		AccessKey: data[step.SecretKeyAccessKey],
		SecretKey: data[step.SecretKeySecretKey],
		// The dev MinIO starts empty.
		CreateBucket: true,
	}, &Redis{Addr: addr}, nil
}

// secretData decodes a Secret's data and stringData.
func secretData(sec *unstructured.Unstructured) (map[string]string, error) {
	out := map[string]string{}
	data, _, _ := unstructured.NestedStringMap(sec.Object, "data")
	for k, v := range data {
		b, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			// Not the value: it may be a secret.
			return nil, fmt.Errorf("data.%s is not base64", k)
		}
		out[k] = string(b)
	}
	sd, _, _ := unstructured.NestedStringMap(sec.Object, "stringData")
	for k, v := range sd {
		out[k] = v
	}
	return out, nil
}

// secret builds a Secret with data (not stringData: stringData is
// write-only, so server-side apply could never see it unchanged).
func secret(namespace, name string, values map[string]string) *unstructured.Unstructured {
	data := map[string]any{}
	for k, v := range values {
		data[k] = base64.StdEncoding.EncodeToString([]byte(v))
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1",
		"kind":       "Secret",
		"metadata": map[string]any{
			"name":      name,
			"namespace": namespace,
			"labels":    map[string]any{PartOfLabel: PartOfValue},
		},
		"type": "Opaque",
		"data": data,
	}}
}

func find(objs []*unstructured.Unstructured, kind, namespace, name string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == kind && o.GetNamespace() == namespace && o.GetName() == name {
			return o
		}
	}
	return nil
}

// memoryCopy copies the embedded manifests under root.
func memoryCopy(src fs.FS) (filesys.FileSystem, error) {
	fSys := filesys.MakeFsInMemory()
	err := fs.WalkDir(src, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(src, p)
		if err != nil {
			return err
		}
		return fSys.WriteFile(path.Join(root, p), b)
	})
	if err != nil {
		return nil, fmt.Errorf("embedded manifests: %w", err)
	}
	return fSys, nil
}

// build writes kustomization into dir and runs kustomize there, as
// `kubectl kustomize dir` would.
func build(fSys filesys.FileSystem, dir, kustomization string) ([]*unstructured.Unstructured, error) {
	if err := fSys.WriteFile(path.Join(dir, "kustomization.yaml"), []byte(kustomization)); err != nil {
		return nil, err
	}
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fSys, dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize: %w", err)
	}
	return fromResMap(m)
}

func fromResMap(m resmap.ResMap) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for _, r := range m.Resources() {
		// Through JSON, not r.Map(): that has Go ints, which unstructured
		// helpers (DeepCopy) reject; JSON decoding gives int64s.
		b, err := r.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("kustomize: %s %s: %w", r.GetKind(), r.GetName(), err)
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(b); err != nil {
			return nil, fmt.Errorf("kustomize: %s %s: %w", r.GetKind(), r.GetName(), err)
		}
		out = append(out, u)
	}
	return out, nil
}

// Marshal writes objects as a multi-document YAML stream ("yaml") or a
// v1 List ("json"), the forms `kubectl apply -f -` reads.
func Marshal(objs []*unstructured.Unstructured, format string) ([]byte, error) {
	switch format {
	case "yaml":
		var b strings.Builder
		for i, o := range objs {
			y, err := yaml.Marshal(o.Object)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", Describe(o), err)
			}
			if i > 0 {
				b.WriteString("---\n")
			}
			b.Write(y)
		}
		return []byte(b.String()), nil
	case "json":
		items := make([]any, len(objs))
		for i, o := range objs {
			items[i] = o.Object
		}
		b, err := json.MarshalIndent(map[string]any{"apiVersion": "v1", "kind": "List", "items": items}, "", "  ")
		if err != nil {
			return nil, err
		}
		return append(b, '\n'), nil
	}
	return nil, fmt.Errorf("unknown output format %q (yaml or json)", format)
}

// Describe names an object in messages: Kind namespace/name.
func Describe(o *unstructured.Unstructured) string {
	if o.GetNamespace() == "" {
		return o.GetKind() + " " + o.GetName()
	}
	return o.GetKind() + " " + o.GetNamespace() + "/" + o.GetName()
}
