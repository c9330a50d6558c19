package nodeagent

import (
	"context"
	"errors"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// errMissingObject marks a Secret, ConfigMap or key that a pod needs but
// that does not exist (yet). Like a kubelet, the agent keeps the pod
// waiting and tries again.
var errMissingObject = errors.New("not found")

// podObjects are the Secrets and ConfigMaps a pod refers to, fetched
// before its containers start; one that does not exist is absent.
type podObjects struct {
	secrets    map[string]*corev1.Secret
	configMaps map[string]*corev1.ConfigMap
}

// referencedObjects lists the names of the Secrets and ConfigMaps a pod's
// volumes and containers refer to, sorted.
func referencedObjects(pod *corev1.Pod) (secrets, configMaps []string) {
	s, cm := map[string]bool{}, map[string]bool{}
	for _, v := range pod.Spec.Volumes {
		switch {
		case v.Secret != nil:
			s[v.Secret.SecretName] = true
		case v.ConfigMap != nil:
			cm[v.ConfigMap.Name] = true
		case v.Projected != nil:
			for _, src := range v.Projected.Sources {
				if src.Secret != nil {
					s[src.Secret.Name] = true
				}
				if src.ConfigMap != nil {
					cm[src.ConfigMap.Name] = true
				}
			}
		}
	}
	for _, list := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, c := range list {
			for _, from := range c.EnvFrom {
				if from.SecretRef != nil {
					s[from.SecretRef.Name] = true
				}
				if from.ConfigMapRef != nil {
					cm[from.ConfigMapRef.Name] = true
				}
			}
			for _, e := range c.Env {
				if e.ValueFrom == nil {
					continue
				}
				if e.ValueFrom.SecretKeyRef != nil {
					s[e.ValueFrom.SecretKeyRef.Name] = true
				}
				if e.ValueFrom.ConfigMapKeyRef != nil {
					cm[e.ValueFrom.ConfigMapKeyRef.Name] = true
				}
			}
		}
	}
	return sortedKeys(s), sortedKeys(cm)
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		if k != "" {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// rootCAConfigMap is the ConfigMap kube-controller-manager puts into every
// namespace; without that controller the kubeconfig's CA stands in.
const rootCAConfigMap = "kube-root-ca.crt"

// fetchObjects gets what referencedObjects lists. Not found is not an
// error here; whether it matters depends on "optional".
func fetchObjects(ctx context.Context, kc kubernetes.Interface, pod *corev1.Pod, clusterCA []byte) (*podObjects, error) {
	objs := &podObjects{secrets: map[string]*corev1.Secret{}, configMaps: map[string]*corev1.ConfigMap{}}
	secrets, configMaps := referencedObjects(pod)
	for _, name := range secrets {
		s, err := kc.CoreV1().Secrets(pod.Namespace).Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			return nil, fmt.Errorf("get secret %s/%s: %w", pod.Namespace, name, err)
		default:
			objs.secrets[name] = s
		}
	}
	for _, name := range configMaps {
		cm, err := kc.CoreV1().ConfigMaps(pod.Namespace).Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err) && name == rootCAConfigMap && len(clusterCA) > 0:
			objs.configMaps[name] = &corev1.ConfigMap{Data: map[string]string{"ca.crt": string(clusterCA)}}
		case apierrors.IsNotFound(err):
		case err != nil:
			return nil, fmt.Errorf("get configmap %s/%s: %w", pod.Namespace, name, err)
		default:
			objs.configMaps[name] = cm
		}
	}
	return objs, nil
}
