package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kfpargo/kfpargo/cachestore"
	"github.com/kfpargo/kfpargo/install"
	"github.com/kfpargo/kfpargo/version"
)

// addDryRun adds kubectl's --dry-run: none, client (alone: --dry-run) or
// server.
func addDryRun(cmd *cobra.Command, p *string, client string) {
	cmd.Flags().StringVar(p, "dry-run", "none", "none; client: "+client+", no cluster needed (--dry-run alone means client); server: the apiserver checks everything and stores nothing")
	cmd.Flags().Lookup("dry-run").NoOptDefVal = "client"
}

// noArgs rejects arguments as invalid input (exit 2).
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError{fmt.Errorf("unexpected argument %q: %s takes only flags", args[0], cmd.Name())}
	}
	return nil
}

func checkDryRun(v string) error {
	if !slices.Contains([]string{"none", "client", "server"}, v) {
		return usageError{fmt.Errorf("--dry-run %q: want none, client or server", v)}
	}
	return nil
}

// signalContext is cancelled by Ctrl-C, so a wait can be interrupted.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

type installFlags struct {
	cluster        clusterFlags
	overlay        string
	argoNamespaces []string
	registry, tag  string
	dryRun, output string
	wait           bool
	timeout        time.Duration

	s3Endpoint, s3AccessKeyFile, s3SecretKeyFile string
	s3Insecure                                   bool
	redisAddr, redisPasswordFile                 string
	signingKeyFile                               string
	redisUsername                                string
	redisTLS                                     bool
	s3CAFile, redisCAFile                        string
}

// optionFlags names the flag behind an install.Options field.
var optionFlags = map[string]string{
	"Overlay":        "--overlay",
	"ImageRegistry":  "--image-registry",
	"ImageTag":       "--image-tag",
	"ArgoNamespaces": "--argo-namespace",
	"S3":             "--s3-*/--redis-* (with --overlay dev)",
	"S3.Endpoint":    "--s3-endpoint",
	"S3.AccessKey":   "--s3-access-key-file/--s3-secret-key-file",
	"Redis.Addr":     "--redis-addr",
	"SigningKey":     "--signing-key-file",
	"S3.CAPEM":       "--s3-ca-file",
	"Redis.CAPEM":    "--redis-ca-file",
}

// flagError turns Render's OptionError into a usage error naming the flag.
func flagError(err error) error {
	var oe *install.OptionError
	if errors.As(err, &oe) {
		if f, ok := optionFlags[oe.Field]; ok {
			return usageError{fmt.Errorf("%s: %w", f, oe.Err)}
		}
		return usageError{err}
	}
	return err
}

// namespaces reads --argo-namespace: an empty value alone means none.
func (f *installFlags) namespaces() ([]string, error) {
	if slices.Contains(f.argoNamespaces, "") {
		if len(f.argoNamespaces) > 1 {
			return nil, usageError{errors.New(`--argo-namespace: an empty value means "no workflow namespace" and cannot be combined with names`)}
		}
		return nil, nil
	}
	return f.argoNamespaces, nil
}

// readSecretFile reads a credential; the error names the flag, never the
// content.
func readSecretFile(flag, path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", usageError{fmt.Errorf("%s: %w", flag, err)}
	}
	v := strings.TrimRight(string(b), "\r\n")
	if v == "" {
		return "", usageError{fmt.Errorf("%s: %s is empty", flag, path)}
	}
	return v, nil
}

func (f *installFlags) options(cmd *cobra.Command) (install.Options, error) {
	nss, err := f.namespaces()
	if err != nil {
		return install.Options{}, err
	}
	o := install.Options{Overlay: f.overlay, ImageRegistry: f.registry, ImageTag: f.tag, ArgoNamespaces: nss}
	changed := func(names ...string) bool {
		return slices.ContainsFunc(names, func(n string) bool { return cmd.Flags().Changed(n) })
	}
	readCA := func(flag, path string) ([]byte, error) {
		if path == "" {
			return nil, nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, usageError{fmt.Errorf("%s: %w", flag, err)}
		}
		return b, nil
	}
	if changed("s3-endpoint", "s3-insecure", "s3-access-key-file", "s3-secret-key-file", "s3-ca-file") {
		o.S3 = &install.S3{Endpoint: f.s3Endpoint, Insecure: f.s3Insecure}
		if o.S3.CAPEM, err = readCA("--s3-ca-file", f.s3CAFile); err != nil {
			return o, err
		}
		if f.s3AccessKeyFile != "" {
			if o.S3.AccessKey, err = readSecretFile("--s3-access-key-file", f.s3AccessKeyFile); err != nil {
				return o, err
			}
		}
		if f.s3SecretKeyFile != "" {
			if o.S3.SecretKey, err = readSecretFile("--s3-secret-key-file", f.s3SecretKeyFile); err != nil {
				return o, err
			}
		}
	}
	if changed("redis-addr", "redis-password-file", "redis-username", "redis-tls", "redis-ca-file") {
		o.Redis = &install.Redis{Addr: f.redisAddr, Username: f.redisUsername, TLS: f.redisTLS}
		if o.Redis.CAPEM, err = readCA("--redis-ca-file", f.redisCAFile); err != nil {
			return o, err
		}
		if f.redisPasswordFile != "" {
			if o.Redis.Password, err = readSecretFile("--redis-password-file", f.redisPasswordFile); err != nil {
				return o, err
			}
		}
	}
	if f.signingKeyFile != "" {
		if o.SigningKey, err = readSecretFile("--signing-key-file", f.signingKeyFile); err != nil {
			return o, err
		}
	}
	return o, nil
}

func newInstallCommand() *cobra.Command {
	f := &installFlags{}
	cmd := &cobra.Command{
		Use:   "install",
		Short: "Install kfpargo's cache webhook and workflow-namespace objects into a cluster with Argo Workflows",
		Long: `Install kfpargo into the cluster the kubeconfig points at (docs/install.md): the cache
webhook in namespace kfpargo-system, its MutatingWebhookConfiguration, and in each workflow
namespace (--argo-namespace) the Role Argo's executor needs and, when their values are known,
the kfpargo-s3 and kfpargo-redis Secrets the steps read.

The manifests are built into this binary (kustomize, as 'kubectl apply -k manifests/overlays/NAME'
would build them) and applied with server-side apply (field manager "kfpargo") in dependency
order, the webhook configuration last. Re-running install with a newer kfpargo upgrades.

Overlays: self-signed (default; the webhook manages its own certificate), cert-manager
(cert-manager issues it; cert-manager must be installed), dev (self-signed plus an in-cluster
Redis and MinIO with development credentials, for a laptop cluster).

Object store and cache: with --overlay dev, nothing to give. Otherwise either give the settings
(--s3-endpoint with --s3-access-key-file/--s3-secret-key-file and an optional --s3-ca-file,
--redis-addr with optional --redis-username, --redis-password-file, --redis-tls and
--redis-ca-file; credentials are read from files, never from the command line), and
install writes the Secrets into kfpargo-system and every workflow namespace; or create the
kfpargo-s3 and kfpargo-redis Secrets yourself (docs/install.md lists their keys): install never
writes a Secret whose values it does not know, and warns about Secrets that are missing.

Cache signing key: the webhook serves only cache entries signed with the installation's key
(Secret kfpargo-cache-hmac in kfpargo-system, copied as HMAC_KEY into the kfpargo-redis Secrets
install writes). The first install makes one and later installs keep it; --signing-key-file
installs a given one ("new old" during a rotation, docs/install.md). --dry-run prints a new key
unless --signing-key-file is given.

Exit codes: 0 installed (and ready, with --wait); 1 the cluster could not be reached, rejected an
object, or the installation did not become ready in time; 2 invalid flags.`,
		Example: `  # the default: self-signed certificate, workflows in namespace argo, settings from files
  kfpargo install --s3-endpoint s3.example.com:443 \
    --s3-access-key-file ./access-key --s3-secret-key-file ./secret-key \
    --redis-addr redis.cache.svc:6379

  # a laptop cluster (kind, k3d, minikube): Redis and MinIO included
  kfpargo install --overlay dev

  # several workflow namespaces; none at all: --argo-namespace=''
  kfpargo install --argo-namespace team-a --argo-namespace team-b

  # print the manifests instead (no cluster needed), or have the apiserver check them
  kfpargo install --dry-run > kfpargo.yaml
  kfpargo install --dry-run | kubectl apply --server-side -f -
  kfpargo install --dry-run=server

  # images from another registry or of another version
  kfpargo install --image-registry localhost:5001/kfpargo --image-tag v0.1.0`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runInstall(cmd, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.overlay, "overlay", install.DefaultOverlay, "how the webhook gets its certificate: "+strings.Join(install.Overlays(), ", "))
	fl.StringArrayVar(&f.argoNamespaces, "argo-namespace", []string{install.DefaultArgoNamespace}, "a namespace workflows run in (repeat for several; an empty value for none)")
	fl.StringVar(&f.registry, "image-registry", install.DefaultImageRegistry, "registry and prefix of the cachewebhook and launcher images")
	fl.StringVar(&f.tag, "image-tag", "", "tag of both images (default this binary's version, \"dev\" for a development build: "+install.ImageTagFor(version.Version)+")")
	addDryRun(cmd, &f.dryRun, "print the objects")
	fl.StringVarP(&f.output, "output", "o", "", "print the objects as yaml or json (with --dry-run=client the default is yaml); progress then goes to stderr")
	fl.BoolVar(&f.wait, "wait", true, "wait until the webhook has rolled out and its configuration has a CA bundle")
	fl.DurationVar(&f.timeout, "timeout", 5*time.Minute, "how long --wait waits")
	fl.StringVar(&f.s3Endpoint, "s3-endpoint", "", "object store host:port, for the webhook and the steps")
	fl.BoolVar(&f.s3Insecure, "s3-insecure", false, "plain HTTP to the object store")
	fl.StringVar(&f.s3AccessKeyFile, "s3-access-key-file", "", "file holding the object store's access key (written into the kfpargo-s3 Secrets)")
	fl.StringVar(&f.s3SecretKeyFile, "s3-secret-key-file", "", "file holding the object store's secret key")
	fl.StringVar(&f.redisAddr, "redis-addr", "", "Redis host:port holding the cache, for the webhook and the steps")
	fl.StringVar(&f.redisPasswordFile, "redis-password-file", "", "file holding the Redis password, if it has one")
	fl.StringVar(&f.signingKeyFile, "signing-key-file", "", "file holding the cache signing key to install (at least 32 characters; 'new old' while rotating to a new key); default: keep the installed key, or make one")
	fl.StringVar(&f.redisUsername, "redis-username", "", "Redis ACL user (Redis 6+), if any")
	fl.BoolVar(&f.redisTLS, "redis-tls", false, "Redis over TLS (1.2 or newer), trusting the system's roots and --redis-ca-file")
	fl.StringVar(&f.redisCAFile, "redis-ca-file", "", "CA certificates (PEM) that signed Redis's certificate, if not a public CA (written into the kfpargo-redis Secrets as CA_PEM)")
	fl.StringVar(&f.s3CAFile, "s3-ca-file", "", "CA certificates (PEM) that signed the object store's HTTPS certificate, if not a public CA (written into the kfpargo-s3 Secrets as CA_PEM)")
	f.cluster.add(cmd)
	return cmd
}

func runInstall(cmd *cobra.Command, f *installFlags) error {
	if err := checkDryRun(f.dryRun); err != nil {
		return err
	}
	if f.output != "" && f.output != "yaml" && f.output != "json" {
		return usageError{fmt.Errorf("-o %q: want yaml or json", f.output)}
	}
	opts, err := f.options(cmd)
	if err != nil {
		return err
	}
	objs, err := install.Render(opts)
	if err != nil {
		return flagError(err)
	}
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	if f.dryRun == "client" {
		if opts.SigningKey == "" {
			fmt.Fprintf(stderr, "note: the output holds a new cache signing key (Secret %s/%s); applying it over an installation replaces that installation's key, and the entries signed with the old one are no longer served (--signing-key-file keeps a key)\n", install.SystemNamespace, install.SigningKeySecretName)
		}
		if objs, err = renderWithKey(&opts, opts.SigningKey); err != nil {
			return err
		}
		byoNotes(stderr, opts, objs)
		return printObjects(stdout, objs, orDefault(f.output, "yaml"))
	}
	progress := stdout
	if f.output != "" {
		progress = stderr
	}
	ctx, cancel := signalContext()
	defer cancel()
	start := time.Now()
	c, cfg, err := f.cluster.connect(ctx, progress)
	if err != nil {
		return err
	}
	// An upgrade keeps the installed key: a new one would orphan every
	// entry signed so far.
	key := opts.SigningKey
	if key == "" {
		if key, err = c.SigningKey(ctx); err != nil {
			return err
		}
	}
	if key == "" {
		fmt.Fprintf(progress, "making a cache signing key (Secret %s/%s)\n", install.SystemNamespace, install.SigningKeySecretName)
	}
	if objs, err = renderWithKey(&opts, key); err != nil {
		return err
	}
	if err := preflight(ctx, c, cfg, opts, objs, progress); err != nil {
		return err
	}
	results, err := c.Apply(ctx, objs, install.ApplyOptions{DryRun: f.dryRun == "server", Progress: progress})
	if err != nil {
		return err
	}
	if f.output != "" {
		var applied []*unstructured.Unstructured
		for _, r := range results {
			if r.Object != nil {
				applied = append(applied, r.Object)
			}
		}
		if err := printObjects(stdout, applied, f.output); err != nil {
			return err
		}
	}
	if f.dryRun == "server" {
		unchecked := 0
		for _, r := range results {
			if r.Action == install.Unchecked {
				unchecked++
			}
		}
		fmt.Fprintf(progress, "server dry run: %d objects accepted", len(results)-unchecked)
		if unchecked > 0 {
			fmt.Fprintf(progress, ", %d not checked: the apiserver cannot check objects in a namespace before it exists", unchecked)
		}
		fmt.Fprintln(progress, "; nothing changed")
		return nil
	}
	what := fmt.Sprintf("overlay %s, images %s", orDefault(opts.Overlay, install.DefaultOverlay), imagesOf(objs))
	if !f.wait {
		fmt.Fprintf(progress, "kfpargo applied (%s); not waiting for it to be ready (--wait=false)\n", what)
		return nil
	}
	if err := c.WaitReady(ctx, objs, install.WaitOptions{Timeout: f.timeout, Progress: progress}); err != nil {
		return err
	}
	fmt.Fprintf(progress, "kfpargo installed and ready (%s) in %s\n", what, time.Since(start).Round(time.Second))
	return nil
}

// holdsScopeKey: a namespace's launchers sign with the first key of have,
// which must be one the webhook derives from the installed keys for the
// namespace's scope (or the cluster's).
func holdsScopeKey(have, installed, namespace string) bool {
	h := strings.Fields(strings.ReplaceAll(have, ",", " "))
	if len(h) == 0 {
		return false
	}
	for _, scope := range []cachestore.Scope{cachestore.NamespaceScope(namespace), cachestore.ClusterScope} {
		keys, err := cachestore.ScopeKeys(installed, scope)
		if err == nil && slices.Contains(strings.Fields(keys), h[0]) {
			return true
		}
	}
	return false
}

// renderWithKey renders with the given signing key, or a new one, which
// it records in opts.
func renderWithKey(opts *install.Options, key string) ([]*unstructured.Unstructured, error) {
	if key == "" {
		var err error
		if key, err = install.NewSigningKey(); err != nil {
			return nil, err
		}
	}
	opts.SigningKey = key
	objs, err := install.Render(*opts)
	if err != nil {
		return nil, flagError(err)
	}
	return objs, nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// imagesOf names the images an installation runs, for the last line.
func imagesOf(objs []*unstructured.Unstructured) string {
	var out []string
	for _, o := range objs {
		if o.GetKind() == "ConfigMap" && o.GetName() == "kfpargo-cachewebhook" {
			if v, ok, _ := unstructured.NestedString(o.Object, "data", "LAUNCHER_IMAGE"); ok {
				out = append(out, v)
			}
		}
		if o.GetKind() == "Deployment" && o.GetName() == "kfpargo-cachewebhook" {
			cs, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
			for _, c := range cs {
				if m, ok := c.(map[string]any); ok {
					if img, ok := m["image"].(string); ok {
						out = append(out, img)
					}
				}
			}
		}
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}

func printObjects(w io.Writer, objs []*unstructured.Unstructured, format string) error {
	b, err := install.Marshal(objs, format)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// expectedSecrets are the Secrets an installation needs, by namespace/name,
// with what is missing without each.
func expectedSecrets(opts install.Options) map[string]string {
	out := map[string]string{
		install.SystemNamespace + "/" + install.S3SecretName: "the webhook pods cannot start without it (keys ACCESS_KEY, SECRET_KEY)",
	}
	for _, ns := range opts.ArgoNamespaces {
		out[ns+"/"+install.S3SecretName] = "steps with artifacts fail without it (keys ENDPOINT, ACCESS_KEY, SECRET_KEY, INSECURE)"
		out[ns+"/"+install.RedisSecretName] = "steps run without caching without it (keys ADDR, SCOPE, MAX_TTL, HMAC_KEY as in Secret " + install.SystemNamespace + "/" + install.SigningKeySecretName + ", optional PASSWORD)"
	}
	return out
}

// byoNotes says which Secrets the operator must bring, because install
// has no values for them.
func byoNotes(w io.Writer, opts install.Options, objs []*unstructured.Unstructured) {
	for _, ref := range missingSecrets(opts, objs) {
		fmt.Fprintf(w, "note: Secret %s is not part of this installation (no settings given): create it; %s\n", ref, expectedSecrets(opts)[ref])
	}
}

func missingSecrets(opts install.Options, objs []*unstructured.Unstructured) []string {
	var out []string
	for ref := range expectedSecrets(opts) {
		ns, name, _ := strings.Cut(ref, "/")
		if !slices.ContainsFunc(objs, func(o *unstructured.Unstructured) bool {
			return o.GetKind() == "Secret" && o.GetNamespace() == ns && o.GetName() == name
		}) {
			out = append(out, ref)
		}
	}
	slices.Sort(out)
	return out
}

// preflight checks what install cannot fix before changing anything: the
// workflow namespaces exist (they are Argo's, not ours), and warns about
// Argo missing and about Secrets the operator has still to create.
func preflight(ctx context.Context, c *install.Client, cfg *rest.Config, opts install.Options, objs []*unstructured.Unstructured, progress io.Writer) error {
	kc, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	if !c.Serves("argoproj.io", "v1alpha1", "Workflow") {
		fmt.Fprintf(progress, "warning: the cluster at %s does not serve argoproj.io/v1alpha1 Workflow: install Argo Workflows for kfpargo's pipelines to run\n", c.Host())
	}
	for _, ns := range opts.ArgoNamespaces {
		if _, err := kc.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err != nil {
			if apierrors.IsNotFound(err) {
				return usageError{fmt.Errorf("--argo-namespace: namespace %s does not exist; give the namespaces your workflows run in (or --argo-namespace='' for none)", ns)}
			}
			return fmt.Errorf("namespace %s: %w", ns, err)
		}
	}
	for _, ref := range missingSecrets(opts, objs) {
		ns, name, _ := strings.Cut(ref, "/")
		sec, err := kc.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			fmt.Fprintf(progress, "warning: Secret %s does not exist and no settings were given for it: %s (docs/install.md, \"Object store and cache\")\n", ref, expectedSecrets(opts)[ref])
		case err != nil:
			return fmt.Errorf("Secret %s: %w", ref, err)
		case name == install.RedisSecretName && !holdsScopeKey(string(sec.Data[install.SigningKeyField]), opts.SigningKey, ns):
			// Its launchers would sign with another key (or none): the
			// webhook would serve none of their entries.
			fmt.Fprintf(progress, "warning: Secret %s: %s is not the installation's signing key (Secret %s/%s): the webhook will serve none of the entries its steps write; copy the key there\n",
				ref, install.SigningKeyField, install.SystemNamespace, install.SigningKeySecretName)
		}
	}
	return nil
}

type uninstallFlags struct {
	cluster        clusterFlags
	argoNamespaces []string
	deleteSecrets  bool
	dryRun         string
	wait           bool
	timeout        time.Duration
}

func newUninstallCommand() *cobra.Command {
	f := &uninstallFlags{}
	cmd := &cobra.Command{
		Use:   "uninstall",
		Short: "Remove what kfpargo install installed",
		Long: `Remove kfpargo from the cluster: the MutatingWebhookConfiguration first (so that no pod creation
is sent to a webhook being removed), then the rest in reverse dependency order, the namespace
kfpargo-system last (with everything in it, the webhook's certificate Secret included), and the
executor Role and RoleBinding in each workflow namespace (--argo-namespace). Whatever the
overlay was, everything any overlay installs is removed.

Kept: the kfpargo-s3 and kfpargo-redis Secrets of the workflow namespaces unless
--delete-secrets (and even then only those kfpargo install wrote: objects not labelled
app.kubernetes.io/part-of=kfpargo are never deleted); the cache entries in Redis and the
artifacts in the object store; the workflow namespaces themselves and Argo.
Missing objects are fine: uninstall can be run twice.

Exit codes: 0 removed (and gone, with --wait); 1 the cluster could not be reached, refused a
deletion, or objects were not gone in time; 2 invalid flags.`,
		Example: `  kfpargo uninstall
  kfpargo uninstall --argo-namespace team-a --argo-namespace team-b --delete-secrets
  kfpargo uninstall --dry-run=server   # what would be deleted`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runUninstall(cmd, f)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&f.argoNamespaces, "argo-namespace", []string{install.DefaultArgoNamespace}, "a namespace workflows run in (repeat for several; an empty value for none)")
	fl.BoolVar(&f.deleteSecrets, "delete-secrets", false, "also delete the kfpargo-s3 and kfpargo-redis Secrets kfpargo install wrote into the workflow namespaces")
	addDryRun(cmd, &f.dryRun, "list what would be deleted if present")
	fl.BoolVar(&f.wait, "wait", true, "wait until the objects are gone")
	fl.DurationVar(&f.timeout, "timeout", 5*time.Minute, "how long --wait waits")
	f.cluster.add(cmd)
	return cmd
}

func runUninstall(cmd *cobra.Command, f *uninstallFlags) error {
	if err := checkDryRun(f.dryRun); err != nil {
		return err
	}
	nss, err := (&installFlags{argoNamespaces: f.argoNamespaces}).namespaces()
	if err != nil {
		return err
	}
	objs, err := install.UninstallSet(nss, f.deleteSecrets)
	if err != nil {
		return flagError(err)
	}
	out := cmd.OutOrStdout()
	if f.dryRun == "client" {
		for _, o := range objs {
			fmt.Fprintf(out, "%s would be deleted if present\n", install.Describe(o))
		}
		return nil
	}
	ctx, cancel := signalContext()
	defer cancel()
	c, _, err := f.cluster.connect(ctx, out)
	if err != nil {
		return err
	}
	deleted, err := c.Delete(ctx, objs, install.DeleteOptions{DryRun: f.dryRun == "server", Progress: out})
	if err != nil {
		return err
	}
	if f.dryRun == "server" || !f.wait || len(deleted) == 0 {
		return nil
	}
	start := time.Now()
	if err := c.WaitDeleted(ctx, deleted, install.WaitOptions{Timeout: f.timeout, Progress: out}); err != nil {
		return err
	}
	fmt.Fprintf(out, "kfpargo uninstalled: %d objects gone in %s\n", len(deleted), time.Since(start).Round(time.Second))
	return nil
}
