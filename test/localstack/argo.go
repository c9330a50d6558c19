package localstack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/kfpargo/kfpargo/step"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"
)

// installArgoCRDs creates the CRDs of Argo's manifests/base/crds/minimal
// (the variant without embedded schemas; the full one needs server-side
// apply and takes much longer) and waits until they are established.
func (s *Stack) installArgoCRDs(ctx context.Context) error {
	b := &builder{cfg: s.cfg, logPath: filepath.Join(s.StateDir, "logs", "build.log")}
	modDir, err := b.argoModuleDir(ctx)
	if err != nil {
		return fmt.Errorf("argo CRDs: %w", err)
	}
	dir := filepath.Join(modDir, "manifests", "base", "crds", "minimal")
	kust, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		return fmt.Errorf("argo CRDs: %w", err)
	}
	var k struct {
		Resources []string `json:"resources"`
	}
	if err := yaml.Unmarshal(kust, &k); err != nil {
		return fmt.Errorf("argo CRDs: %s: %w", dir, err)
	}
	if len(k.Resources) == 0 {
		return fmt.Errorf("argo CRDs: %s lists no resources", dir)
	}
	paths := make([]string, len(k.Resources))
	for i, r := range k.Resources {
		paths[i] = filepath.Join(dir, r)
	}
	if err := s.InstallCRDs(ctx, paths...); err != nil {
		return fmt.Errorf("argo CRDs: %w", err)
	}
	return nil
}

// InstallCRDs creates the CustomResourceDefinitions in the given YAML
// files and waits until each is established.
func (s *Stack) InstallCRDs(ctx context.Context, paths ...string) error {
	dyn, err := dynamic.NewForConfig(s.RESTConfig)
	if err != nil {
		return err
	}
	crds := dyn.Resource(schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"})
	var names []string
	for _, path := range paths {
		objs, err := readYAMLObjects(path)
		if err != nil {
			return err
		}
		for _, obj := range objs {
			if _, err := crds.Create(ctx, obj, metav1.CreateOptions{}); err != nil {
				return fmt.Errorf("create %s: %w", obj.GetName(), err)
			}
			names = append(names, obj.GetName())
		}
	}
	for _, name := range names {
		err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			obj, err := crds.Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
			for _, c := range conds {
				m, _ := c.(map[string]any)
				if m["type"] == "Established" && m["status"] == "True" {
					return true, nil
				}
			}
			return false, nil
		})
		if err != nil {
			return fmt.Errorf("%s not established: %w", name, err)
		}
	}
	return nil
}

func readYAMLObjects(path string) ([]*unstructured.Unstructured, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []*unstructured.Unstructured
	for {
		obj := &unstructured.Unstructured{}
		if err := dec.Decode(&obj.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if len(obj.Object) > 0 {
			out = append(out, obj)
		}
	}
}

// argoControllerConfig is the workflow-controller-configmap content. The
// controller parses it strictly: an unknown key makes it exit.
func argoControllerConfig() (map[string]string, error) {
	disabled := map[string]any{"enabled": false}
	entries := map[string]any{
		"executor": map[string]any{"image": ExecutorImage},
		// Metrics would bind fixed ports on all interfaces (and the server
		// panics on a clash); nothing here scrapes them.
		"metricsConfig":   disabled,
		"telemetryConfig": disabled,
	}
	data := map[string]string{}
	for k, v := range entries {
		y, err := yaml.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("workflow-controller config %s: %w", k, err)
		}
		data[k] = string(y)
	}
	return data, nil
}

// configureNamespace creates the argo namespace and what workflows in it
// need: controller config, executor RBAC for the default ServiceAccount,
// the S3 secret; then waits for kube-controller-manager to create the
// default ServiceAccount and the kube-root-ca.crt ConfigMap.
func (s *Stack) configureNamespace(ctx context.Context) error {
	kc, err := kubernetes.NewForConfig(s.RESTConfig)
	if err != nil {
		return fmt.Errorf("namespace %s: %w", Namespace, err)
	}
	if _, err := kc.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: Namespace}}, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("namespace %s: %w", Namespace, err)
	}
	cmData, err := argoControllerConfig()
	if err != nil {
		return err
	}
	if _, err := kc.CoreV1().ConfigMaps(Namespace).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "workflow-controller-configmap"},
		Data:       cmData,
	}, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("workflow-controller-configmap: %w", err)
	}
	// Argo's recommended minimum for the emissary executor: argoexec wait
	// reports outputs as WorkflowTaskResults.
	if _, err := kc.RbacV1().Roles(Namespace).Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "executor"},
		Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{"argoproj.io"},
			Resources: []string{"workflowtaskresults"},
			Verbs:     []string{"create", "patch"},
		}},
	}, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("executor role: %w", err)
	}
	if _, err := kc.RbacV1().RoleBindings(Namespace).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "executor-default"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "executor"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "default", Namespace: Namespace}},
	}, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("executor role binding: %w", err)
	}
	if _, err := kc.CoreV1().Secrets(Namespace).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: S3SecretName},
		StringData: map[string]string{
			step.SecretKeyEndpoint:  s.S3Endpoint,
			step.SecretKeyAccessKey: s.S3AccessKey,
			step.SecretKeySecretKey: s.S3SecretKey,
			step.SecretKeyInsecure:  "true",
		},
	}, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("secret %s: %w", S3SecretName, err)
	}
	rs, err := s.redisSecret()
	if err != nil {
		return err
	}
	if _, err := kc.CoreV1().Secrets(Namespace).Create(ctx, rs, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("secret %s: %w", RedisSecretName, err)
	}
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		if _, err := kc.CoreV1().ServiceAccounts(Namespace).Get(ctx, "default", metav1.GetOptions{}); err != nil {
			return false, ignoreNotFound(err)
		}
		if _, err := kc.CoreV1().ConfigMaps(Namespace).Get(ctx, "kube-root-ca.crt", metav1.GetOptions{}); err != nil {
			return false, ignoreNotFound(err)
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("namespace %s: default ServiceAccount and kube-root-ca.crt from kube-controller-manager: %w", Namespace, err)
	}
	return nil
}

func ignoreNotFound(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// argoHealthzAddr is hard-coded in the workflow-controller (all
// interfaces, port 6060). A second controller on the machine cannot bind
// it, logs that, and works anyway.
const argoHealthzAddr = ":6060"

// argoStartedLine is what the controller logs once its configuration is
// loaded and it starts its informers; workflows created before they sync
// are picked up by their initial list.
const argoStartedLine = `msg="Starting Workflow Controller"`

// startWorkflowController runs Argo's controller out of cluster, watching
// only the argo namespace.
func (s *Stack) startWorkflowController(ctx context.Context) error {
	if !portFree(argoHealthzAddr) {
		s.cfg.progressf("  note: port 6060 is in use (another local stack?); this workflow-controller runs without its health endpoint")
	}
	env := append(baseEnv(s.StateDir),
		"LEADER_ELECTION_DISABLE=true",
		// Re-check running workflows every second instead of every 10s.
		"DEFAULT_REQUEUE_TIME=1s",
	)
	c, err := s.start(childSpec{
		name: "workflow-controller",
		path: s.Binaries.WorkflowController,
		args: []string{
			"--kubeconfig", s.Kubeconfig,
			"--namespace", Namespace,
			"--namespaced",
			"--managed-namespace", Namespace,
		},
		env: env,
	})
	if err != nil {
		return err
	}
	// Not the health endpoint: with two stacks on a machine it may
	// belong to the other one.
	return waitReady(ctx, c, time.Minute, func(context.Context) error {
		data, err := os.ReadFile(c.logPath)
		if err != nil {
			return err
		}
		if !bytes.Contains(data, []byte(argoStartedLine)) {
			return errors.New("not started yet")
		}
		return nil
	})
}
