package runstatus

import (
	"context"
	"fmt"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	wfclient "github.com/argoproj/argo-workflows/v3/pkg/client/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Clients are what following a run needs.
type Clients struct {
	Argo wfclient.Interface
	Kube kubernetes.Interface
}

// Submit creates the workflow in ns.
func Submit(ctx context.Context, c Clients, ns string, wf *wfv1.Workflow) (*wfv1.Workflow, error) {
	created, err := c.Argo.ArgoprojV1alpha1().Workflows(ns).Create(ctx, wf, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("submit workflow %s in %s: %w", wf.GenerateName, ns, err)
	}
	return created, nil
}

// Wait polls the workflow until it completes or ctx ends, calling onChange
// whenever a step changes phase. Polling (not a watch) keeps it simple and
// robust to apiserver restarts; runs last seconds to hours.
func Wait(ctx context.Context, c Clients, ns, name string, interval time.Duration, onChange func(Step)) (*wfv1.Workflow, error) {
	seen := map[string]wfv1.NodePhase{}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		wf, err := c.Argo.ArgoprojV1alpha1().Workflows(ns).Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			if onChange != nil {
				for _, s := range Steps(wf, nil) {
					if seen[s.NodeName] != s.Phase {
						seen[s.NodeName] = s.Phase
						onChange(s)
					}
				}
			}
			if wf.Status.Fulfilled() {
				return wf, nil
			}
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return nil, fmt.Errorf("wait for workflow %s/%s: %w (last error: %v)", ns, name, ctx.Err(), err)
			}
			return wf, fmt.Errorf("wait for workflow %s/%s: %w", ns, name, ctx.Err())
		case <-tick.C:
		}
	}
}

// Pods lists the pods of a workflow.
func Pods(ctx context.Context, c Clients, ns, name string) ([]corev1.Pod, error) {
	list, err := c.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "workflows.argoproj.io/workflow=" + name})
	if err != nil {
		return nil, fmt.Errorf("list pods of workflow %s/%s: %w", ns, name, err)
	}
	return list.Items, nil
}
