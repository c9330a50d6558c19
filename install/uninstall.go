package install

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// UninstallSet is what an uninstall removes, in the order to remove it
// (SortForDelete): every object any overlay of this version installs in
// kfpargo's namespace and cluster-wide, and the executor Role and
// RoleBinding in each of argoNamespaces. The kfpargo-s3 and kfpargo-redis
// Secrets of the workflow namespaces are part of it only with
// deleteSecrets: they may hold credentials other things use. Deleting
// kfpargo's namespace removes what the webhook made at run time there
// (its certificate Secret) as well.
func UninstallSet(argoNamespaces []string, deleteSecrets bool) ([]*unstructured.Unstructured, error) {
	type key struct{ kind, namespace, name string }
	seen := map[key]bool{}
	var out []*unstructured.Unstructured
	for _, overlay := range Overlays() {
		// The dev overlay renders the workflow namespaces' Secrets; the
		// others need no settings to render the rest.
		objs, err := Render(Options{Overlay: overlay, ArgoNamespaces: argoNamespaces})
		if err != nil {
			return nil, err
		}
		for _, o := range objs {
			k := key{o.GetKind(), o.GetNamespace(), o.GetName()}
			if seen[k] {
				continue
			}
			seen[k] = true
			if o.GetKind() == "Secret" && o.GetNamespace() != SystemNamespace && !deleteSecrets {
				continue
			}
			out = append(out, o)
		}
	}
	SortForDelete(out)
	return out, nil
}
