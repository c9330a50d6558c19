package install

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// FieldManager owns the fields an installation sets (server-side apply).
const FieldManager = "kfpargo"

// Client applies, waits for and deletes an installation's objects.
type Client struct {
	host   string
	kube   kubernetes.Interface
	dyn    dynamic.Interface
	mapper meta.ResettableRESTMapper
}

// NewClient makes a Client for the cluster cfg points at; it does not
// contact the cluster (ServerVersion does).
func NewClient(cfg *rest.Config) (*Client, error) {
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", cfg.Host, err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", cfg.Host, err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(kube.Discovery()))
	return &Client{host: cfg.Host, kube: kube, dyn: dyn, mapper: mapper}, nil
}

// ServerVersion asks the apiserver for its version: the first request, so
// its error says whether the cluster can be reached at all.
func (c *Client) ServerVersion(ctx context.Context) (string, error) {
	body, err := c.kube.Discovery().RESTClient().Get().AbsPath("/version").Do(ctx).Raw()
	if err != nil {
		return "", fmt.Errorf("cannot reach the cluster at %s: %w", c.host, err)
	}
	var v version.Info
	if err := json.Unmarshal(body, &v); err != nil {
		return "", fmt.Errorf("cluster at %s: /version: %w", c.host, err)
	}
	return v.GitVersion, nil
}

// Host is the apiserver's URL.
func (c *Client) Host() string { return c.host }

// resource is the API endpoint of obj.
func (c *Client) resource(obj *unstructured.Unstructured) (dynamic.ResourceInterface, error) {
	gvk := obj.GroupVersionKind()
	mapping, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return nil, err
	}
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		return c.dyn.Resource(mapping.Resource).Namespace(obj.GetNamespace()), nil
	}
	return c.dyn.Resource(mapping.Resource), nil
}

// ApplyOptions control Apply.
type ApplyOptions struct {
	// DryRun has the apiserver check everything and store nothing.
	DryRun bool
	// Progress receives one line per object; nil discards them.
	Progress io.Writer
}

// Action is what applying an object did.
type Action string

// Actions.
const (
	Created    Action = "created"
	Configured Action = "configured"
	Unchanged  Action = "unchanged"
	// Unchecked: a server dry run cannot check an object in a namespace
	// the same run would create.
	Unchecked Action = "unchecked"
)

// Result is one object's outcome; Object is what the apiserver returned
// (nil when Unchecked).
type Result struct {
	Object *unstructured.Unstructured
	Action Action
}

// Apply server-side applies objs in order (Render's order), taking over
// fields other managers set (as `kubectl apply --server-side
// --force-conflicts`: the installation decides these fields). It stops at
// the first object the apiserver rejects; the error names the object and
// carries the apiserver's message. Before applying anything it checks that
// the cluster serves every kind (cert-manager's, for that overlay).
func (c *Client) Apply(ctx context.Context, objs []*unstructured.Unstructured, o ApplyOptions) ([]Result, error) {
	progress := o.Progress
	if progress == nil {
		progress = io.Discard
	}
	if err := c.checkKinds(objs); err != nil {
		return nil, err
	}
	suffix := ""
	if o.DryRun {
		suffix = " (server dry run)"
	}
	// Namespaces a dry run would create: the apiserver cannot check what
	// goes into them.
	newNamespaces := map[string]bool{}
	var results []Result
	for _, obj := range objs {
		if o.DryRun && newNamespaces[obj.GetNamespace()] {
			fmt.Fprintf(progress, "%s unchecked: its namespace does not exist yet%s\n", Describe(obj), suffix)
			results = append(results, Result{Action: Unchecked})
			continue
		}
		ri, err := c.resource(obj)
		if err != nil {
			return results, fmt.Errorf("%s: %w", Describe(obj), err)
		}
		before, err := ri.Get(ctx, obj.GetName(), metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			before = nil
		case err != nil:
			return results, fmt.Errorf("%s: %w", Describe(obj), err)
		}
		opts := metav1.ApplyOptions{FieldManager: FieldManager, Force: true}
		if o.DryRun {
			opts.DryRun = []string{metav1.DryRunAll}
		}
		after, err := ri.Apply(ctx, obj.GetName(), obj, opts)
		if err != nil {
			return results, fmt.Errorf("%s: rejected: %w", Describe(obj), err)
		}
		action := Configured
		switch {
		case before == nil:
			action = Created
			if obj.GetKind() == "Namespace" && o.DryRun {
				newNamespaces[obj.GetName()] = true
			}
		case sameContent(before, after):
			action = Unchanged
		}
		fmt.Fprintf(progress, "%s %s%s\n", Describe(obj), action, suffix)
		results = append(results, Result{Object: after, Action: action})
		if obj.GetKind() == "CustomResourceDefinition" {
			// Later objects may be of the kind it defines.
			c.mapper.Reset()
		}
	}
	return results, nil
}

// checkKinds fails when the cluster does not serve a kind of objs, before
// anything is applied, naming every such kind once.
func (c *Client) checkKinds(objs []*unstructured.Unstructured) error {
	var missing []string
	for _, obj := range objs {
		gvk := obj.GroupVersionKind()
		if _, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
			if !meta.IsNoMatchError(err) {
				return fmt.Errorf("%s: %w", Describe(obj), err)
			}
			if m := gvk.GroupVersion().String() + " " + gvk.Kind; !slices.Contains(missing, m) {
				missing = append(missing, m)
			}
		}
	}
	if len(missing) == 0 {
		return nil
	}
	hint := ""
	if slices.ContainsFunc(missing, func(m string) bool { return strings.HasPrefix(m, "cert-manager.io/") }) {
		hint = " (the cert-manager overlay needs cert-manager installed first; or use --overlay self-signed)"
	}
	return fmt.Errorf("the cluster at %s does not serve %s%s", c.host, strings.Join(missing, ", "), hint)
}

// sameContent compares what an apply could change: everything but the
// bookkeeping the apiserver and controllers keep.
func sameContent(a, b *unstructured.Unstructured) bool {
	strip := func(u *unstructured.Unstructured) map[string]any {
		c := u.DeepCopy().Object
		delete(c, "status")
		unstructured.RemoveNestedField(c, "metadata", "managedFields")
		unstructured.RemoveNestedField(c, "metadata", "resourceVersion")
		unstructured.RemoveNestedField(c, "metadata", "generation")
		return c
	}
	return reflect.DeepEqual(strip(a), strip(b))
}

// DeleteOptions control Delete.
type DeleteOptions struct {
	DryRun   bool
	Progress io.Writer
}

// Delete removes objs in the given order (SortForDelete's). An object that
// is missing, of a kind the cluster does not serve, or not labelled
// PartOfLabel=PartOfValue (not installed by kfpargo: an operator's own
// Secret of the same name) is left alone. It returns the objects it asked
// the apiserver to delete.
func (c *Client) Delete(ctx context.Context, objs []*unstructured.Unstructured, o DeleteOptions) ([]*unstructured.Unstructured, error) {
	progress := o.Progress
	if progress == nil {
		progress = io.Discard
	}
	suffix := ""
	if o.DryRun {
		suffix = " (server dry run)"
	}
	var deleted []*unstructured.Unstructured
	var errs []error
	for _, obj := range objs {
		ri, err := c.resource(obj)
		if meta.IsNoMatchError(err) {
			fmt.Fprintf(progress, "%s not found (the cluster does not serve its kind)\n", Describe(obj))
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", Describe(obj), err))
			continue
		}
		cur, err := ri.Get(ctx, obj.GetName(), metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			fmt.Fprintf(progress, "%s not found\n", Describe(obj))
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", Describe(obj), err))
			continue
		}
		if cur.GetLabels()[PartOfLabel] != PartOfValue {
			fmt.Fprintf(progress, "%s kept: not labelled %s=%s, so not installed by kfpargo\n", Describe(obj), PartOfLabel, PartOfValue)
			continue
		}
		if cur.GetDeletionTimestamp() != nil {
			fmt.Fprintf(progress, "%s already being deleted\n", Describe(obj))
			deleted = append(deleted, obj)
			continue
		}
		uid := cur.GetUID()
		policy := metav1.DeletePropagationBackground
		opts := metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}, PropagationPolicy: &policy}
		if o.DryRun {
			opts.DryRun = []string{metav1.DryRunAll}
		}
		err = ri.Delete(ctx, obj.GetName(), opts)
		switch {
		case apierrors.IsNotFound(err) || apierrors.IsConflict(err):
			// Gone, or replaced by someone else since the Get.
			fmt.Fprintf(progress, "%s not found\n", Describe(obj))
		case err != nil:
			errs = append(errs, fmt.Errorf("%s: %w", Describe(obj), err))
		default:
			fmt.Fprintf(progress, "%s deleted%s\n", Describe(obj), suffix)
			deleted = append(deleted, obj)
		}
	}
	return deleted, errors.Join(errs...)
}

// Serves says whether the cluster serves kind in group/version (false
// also when discovery fails: it is used for warnings only).
func (c *Client) Serves(group, version, kind string) bool {
	_, err := c.mapper.RESTMapping(schema.GroupKind{Group: group, Kind: kind}, version)
	return err == nil
}
