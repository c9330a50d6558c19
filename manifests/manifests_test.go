// These tests render the kustomizations with kustomize as a library, as
// `kubectl apply -k` would, and check what an installation relies on.

package manifests

import (
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

func render(t *testing.T, dir string) resmap.ResMap {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	return m
}

// find decodes the one object of kind and name into out.
func find(t *testing.T, m resmap.ResMap, kind, name string, out any) {
	t.Helper()
	for _, r := range m.Resources() {
		if r.GetKind() == kind && r.GetName() == name {
			obj, err := r.Map()
			if err != nil {
				t.Fatal(err)
			}
			if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(obj, out, true); err != nil {
				t.Fatalf("%s %s: %v", kind, name, err)
			}
			return
		}
	}
	t.Fatalf("no %s %s rendered", kind, name)
}

func TestOverlaysRender(t *testing.T) {
	for _, dir := range []string{"base", "overlays/cert-manager", "overlays/self-signed", "overlays/dev", "argo"} {
		t.Run(dir, func(t *testing.T) {
			if n := render(t, dir).Size(); n == 0 {
				t.Fatal("nothing rendered")
			}
		})
	}
}

func TestWebhookConfigurationFailsOpen(t *testing.T) {
	var mwc admissionregistrationv1.MutatingWebhookConfiguration
	find(t, render(t, "base"), "MutatingWebhookConfiguration", "kfpargo-cache", &mwc)
	if len(mwc.Webhooks) != 1 {
		t.Fatalf("%d webhooks", len(mwc.Webhooks))
	}
	w := mwc.Webhooks[0]
	switch {
	case w.FailurePolicy == nil || *w.FailurePolicy != admissionregistrationv1.Ignore:
		t.Error("failurePolicy must be Ignore")
	case w.SideEffects == nil || *w.SideEffects != admissionregistrationv1.SideEffectClassNone:
		t.Error("sideEffects must be None")
	case w.TimeoutSeconds == nil || *w.TimeoutSeconds > 3:
		t.Error("timeoutSeconds must be at most 3")
	case w.ReinvocationPolicy == nil:
		t.Error("reinvocationPolicy must be decided")
	case w.ObjectSelector == nil || w.ObjectSelector.MatchLabels["kfpargo.io/cache"] != "enabled":
		t.Errorf("objectSelector %v", w.ObjectSelector)
	case len(w.Rules) != 1 || len(w.Rules[0].Operations) != 1 || w.Rules[0].Operations[0] != admissionregistrationv1.Create || w.Rules[0].Resources[0] != "pods":
		t.Errorf("rules %v", w.Rules)
	case w.ClientConfig.Service == nil || w.ClientConfig.Service.Namespace != "kfpargo-system":
		t.Errorf("clientConfig %v", w.ClientConfig)
	}
	var cm admissionregistrationv1.MutatingWebhookConfiguration
	find(t, render(t, "overlays/cert-manager"), "MutatingWebhookConfiguration", "kfpargo-cache", &cm)
	if cm.Annotations["cert-manager.io/inject-ca-from"] != "kfpargo-system/kfpargo-cachewebhook" {
		t.Errorf("cert-manager overlay annotations %v", cm.Annotations)
	}
}

func TestDeploymentIsHardened(t *testing.T) {
	var d appsv1.Deployment
	find(t, render(t, "base"), "Deployment", "kfpargo-cachewebhook", &d)
	ps := d.Spec.Template.Spec
	if d.Spec.Replicas == nil || *d.Spec.Replicas < 2 {
		t.Error("fewer than 2 replicas")
	}
	if ps.SecurityContext == nil || ps.SecurityContext.RunAsNonRoot == nil || !*ps.SecurityContext.RunAsNonRoot {
		t.Error("pod may run as root")
	}
	if ps.AutomountServiceAccountToken == nil || *ps.AutomountServiceAccountToken {
		t.Error("the base webhook needs no API token")
	}
	c := ps.Containers[0]
	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("container securityContext %+v", sc)
	}
	if c.ReadinessProbe == nil || c.LivenessProbe == nil || c.Resources.Requests.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Error("probes or resources missing")
	}
	for _, a := range c.Args {
		if strings.Contains(a, "password=") || strings.Contains(a, "secret-key=") && !strings.Contains(a, "-file=") {
			t.Errorf("a secret passed as a flag value: %s", a)
		}
	}
}

func TestSelfSignedOverlay(t *testing.T) {
	var d appsv1.Deployment
	m := render(t, "overlays/self-signed")
	find(t, m, "Deployment", "kfpargo-cachewebhook", &d)
	ps := d.Spec.Template.Spec
	if !strings.Contains(strings.Join(ps.Containers[0].Args, " "), "--self-signed-certs") {
		t.Errorf("args %v", ps.Containers[0].Args)
	}
	for _, v := range ps.Volumes {
		if v.Name == "certs" && (v.Secret != nil || v.EmptyDir == nil) {
			t.Errorf("the certs volume must be an emptyDir the webhook writes, not the Secret it creates: %+v", v.VolumeSource)
		}
	}
	// The webhook writes its certificate into --cert-dir: that mount must
	// be writable (the base mounts cert-manager's Secret read-only).
	certDir := ""
	for _, a := range ps.Containers[0].Args {
		if v, ok := strings.CutPrefix(a, "--cert-dir="); ok {
			certDir = v
		}
	}
	writable := false
	for _, vm := range ps.Containers[0].VolumeMounts {
		if vm.MountPath == certDir && vm.Name == "certs" && !vm.ReadOnly {
			writable = true
		}
	}
	if certDir == "" || !writable {
		t.Errorf("--cert-dir %q is not a writable mount of the certs volume: %+v", certDir, ps.Containers[0].VolumeMounts)
	}
	if ps.AutomountServiceAccountToken == nil || !*ps.AutomountServiceAccountToken {
		t.Error("self-signed mode needs the API token")
	}
	var crb rbacv1.ClusterRole
	find(t, m, "ClusterRole", "kfpargo-cachewebhook-cabundle", &crb)
	if len(crb.Rules) != 1 || len(crb.Rules[0].ResourceNames) != 1 || crb.Rules[0].ResourceNames[0] != "kfpargo-cache" {
		t.Errorf("the caBundle permission must name the one configuration: %+v", crb.Rules)
	}
}
