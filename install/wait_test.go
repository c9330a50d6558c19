package install

import (
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestDeploymentReady(t *testing.T) {
	dep := func(gen, observed int64, replicas, updated, total, available int32, conds ...appsv1.DeploymentCondition) *appsv1.Deployment {
		return &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Generation: gen},
			Spec:       appsv1.DeploymentSpec{Replicas: &replicas},
			Status: appsv1.DeploymentStatus{ObservedGeneration: observed, UpdatedReplicas: updated, Replicas: total,
				AvailableReplicas: available, Conditions: conds},
		}
	}
	for _, tc := range []struct {
		name  string
		d     *appsv1.Deployment
		ready bool
		why   string
	}{
		{"rolled out", dep(2, 2, 2, 2, 2, 2), true, "2 of 2 available"},
		{"spec not observed", dep(3, 2, 2, 2, 2, 2), false, "not seen the new spec"},
		{"updating", dep(2, 2, 2, 1, 3, 2), false, "1 of 2 replicas updated"},
		{"old replicas", dep(2, 2, 2, 2, 3, 2), false, "1 old replicas"},
		{"not available", dep(2, 2, 2, 2, 2, 0), false, "0 of 2 updated replicas available"},
		{"deadline", dep(2, 2, 2, 0, 0, 0, appsv1.DeploymentCondition{Type: appsv1.DeploymentProgressing, Reason: "ProgressDeadlineExceeded", Message: "ReplicaSet x has timed out"}),
			false, "progress deadline exceeded: ReplicaSet x has timed out"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ready, why := DeploymentReady(tc.d)
			if ready != tc.ready || !strings.Contains(why, tc.why) {
				t.Errorf("DeploymentReady = %v, %q; want %v, %q", ready, why, tc.ready, tc.why)
			}
		})
	}
}

func TestPodProblems(t *testing.T) {
	for _, tc := range []struct {
		name string
		st   corev1.PodStatus
		want []string
	}{
		{"ready", corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}, nil},
		{"unschedulable", corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{
			{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable", Message: "0/1 nodes are available"}}},
			[]string{"phase Pending", "PodScheduled=False Unschedulable: 0/1 nodes are available"}},
		{"image pull", corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{
			{Name: "cachewebhook", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff", Message: "Back-off pulling image \"x\""}}}}},
			[]string{"container cachewebhook waiting: ImagePullBackOff (Back-off pulling image \"x\")"}},
		{"crash loop", corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
			{Name: "c", RestartCount: 4, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
				LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 2, Reason: "Error"}}}}},
			[]string{"container c waiting: CrashLoopBackOff", "container c restarted 4 times, last exit code 2 (Error)"}},
		{"probe", corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
			{Name: "c", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}},
			[]string{"container c running, not ready (readiness probe)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := PodProblems(&corev1.Pod{Status: tc.st})
			if tc.want == nil {
				if got != nil {
					t.Errorf("problems %q for a ready pod", got)
				}
				return
			}
			joined := strings.Join(got, "; ")
			for _, w := range tc.want {
				if !strings.Contains(joined, w) {
					t.Errorf("problems %q lack %q", joined, w)
				}
			}
		})
	}
}

func TestCABundleSet(t *testing.T) {
	m := &admissionregistrationv1.MutatingWebhookConfiguration{Webhooks: []admissionregistrationv1.MutatingWebhook{{Name: "cache.kfpargo.io"}}}
	if ok, why := CABundleSet(m); ok || !strings.Contains(why, "cache.kfpargo.io has no caBundle") {
		t.Errorf("empty caBundle: %v %q", ok, why)
	}
	m.Webhooks[0].ClientConfig.CABundle = []byte("pem")
	if ok, _ := CABundleSet(m); !ok {
		t.Error("caBundle set but not seen")
	}
}
