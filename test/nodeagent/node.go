package nodeagent

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"go.uber.org/zap"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
)

const (
	// nodeLeaseNamespace holds the Leases that say a node is alive.
	nodeLeaseNamespace = "kube-node-lease"
	leaseSeconds       = 40
	// agentVersion is what the Node reports as its kubelet version: the
	// Kubernetes minor this agent imitates.
	agentVersion = "v1.33.0-kfpargo-nodeagent"
)

// nodeResources are generous: there is no scheduler that could refuse a
// pod, but requests and limits resolved from the downward API should
// still look like a machine's.
func nodeResources() corev1.ResourceList {
	return corev1.ResourceList{
		corev1.ResourceCPU:              resource.MustParse("64"),
		corev1.ResourceMemory:           resource.MustParse("256Gi"),
		corev1.ResourcePods:             resource.MustParse("1000"),
		corev1.ResourceEphemeralStorage: resource.MustParse("1Ti"),
	}
}

// nodeClient registers the agent's Node and keeps it Ready.
type nodeClient struct {
	kc   kubernetes.Interface
	name string
	ip   string
	log  *zap.Logger
}

func (n *nodeClient) conditions(ready bool, reason, message string) []corev1.NodeCondition {
	now := metav1.Now()
	cond := func(t corev1.NodeConditionType, s corev1.ConditionStatus, reason, message string) corev1.NodeCondition {
		return corev1.NodeCondition{Type: t, Status: s, Reason: reason, Message: message, LastHeartbeatTime: now, LastTransitionTime: now}
	}
	readyStatus := corev1.ConditionFalse
	if ready {
		readyStatus = corev1.ConditionTrue
	}
	return []corev1.NodeCondition{
		cond(corev1.NodeMemoryPressure, corev1.ConditionFalse, "KubeletHasSufficientMemory", "node agent does not track memory"),
		cond(corev1.NodeDiskPressure, corev1.ConditionFalse, "KubeletHasNoDiskPressure", "node agent does not track disk"),
		cond(corev1.NodePIDPressure, corev1.ConditionFalse, "KubeletHasSufficientPID", "node agent does not track PIDs"),
		cond(corev1.NodeReady, readyStatus, reason, message),
	}
}

func (n *nodeClient) status(ready bool, reason, message string) corev1.NodeStatus {
	return corev1.NodeStatus{
		Capacity:    nodeResources(),
		Allocatable: nodeResources(),
		Phase:       corev1.NodeRunning,
		Conditions:  n.conditions(ready, reason, message),
		Addresses: []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: n.ip},
			{Type: corev1.NodeHostName, Address: n.name},
		},
		NodeInfo: corev1.NodeSystemInfo{
			OperatingSystem:         "linux",
			Architecture:            runtime.GOARCH,
			KubeletVersion:          agentVersion,
			KubeProxyVersion:        agentVersion,
			ContainerRuntimeVersion: "nodeagent://" + agentVersion,
		},
	}
}

// register creates the Node (or takes over an existing one), Ready and
// without the not-ready taint that admission puts on new nodes; no node
// lifecycle controller is there to remove it.
func (n *nodeClient) register(ctx context.Context) error {
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name: n.name,
			Labels: map[string]string{
				"kubernetes.io/hostname": n.name,
				"kubernetes.io/os":       "linux",
				"kubernetes.io/arch":     runtime.GOARCH,
			},
		},
		Status: n.status(true, "KubeletReady", "node agent is posting ready status"),
	}
	_, err := n.kc.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create node %s: %w", n.name, err)
	}
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := n.kc.CoreV1().Nodes().Get(ctx, n.name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		var keep []corev1.Taint
		for _, t := range cur.Spec.Taints {
			if t.Key != corev1.TaintNodeNotReady && t.Key != corev1.TaintNodeUnreachable {
				keep = append(keep, t)
			}
		}
		if len(keep) == len(cur.Spec.Taints) && !cur.Spec.Unschedulable {
			return nil
		}
		cur.Spec.Taints, cur.Spec.Unschedulable = keep, false
		_, err = n.kc.CoreV1().Nodes().Update(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("untaint node %s: %w", n.name, err)
	}
	if err := n.setStatus(ctx, true, "KubeletReady", "node agent is posting ready status"); err != nil {
		return err
	}
	n.renewLease(ctx)
	return nil
}

// setStatus writes the Node's status with a fresh heartbeat.
func (n *nodeClient) setStatus(ctx context.Context, ready bool, reason, message string) error {
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := n.kc.CoreV1().Nodes().Get(ctx, n.name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		st := n.status(ready, reason, message)
		// Keep transition times of unchanged conditions.
		for i, c := range st.Conditions {
			for _, old := range cur.Status.Conditions {
				if old.Type == c.Type && old.Status == c.Status {
					st.Conditions[i].LastTransitionTime = old.LastTransitionTime
				}
			}
		}
		cur.Status = st
		_, err = n.kc.CoreV1().Nodes().UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("node %s status: %w", n.name, err)
	}
	return nil
}

// renewLease creates or renews the node's Lease; failures only matter to
// a node lifecycle controller, so they are logged, not returned.
func (n *nodeClient) renewLease(ctx context.Context) {
	leases := n.kc.CoordinationV1().Leases(nodeLeaseNamespace)
	now := metav1.NowMicro()
	holder, dur := n.name, int32(leaseSeconds)
	lease, err := leases.Get(ctx, n.name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		lease = &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: n.name, Namespace: nodeLeaseNamespace},
			Spec:       coordinationv1.LeaseSpec{HolderIdentity: &holder, LeaseDurationSeconds: &dur, RenewTime: &now},
		}
		if node, err := n.kc.CoreV1().Nodes().Get(ctx, n.name, metav1.GetOptions{}); err == nil {
			lease.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: node.Name, UID: node.UID}}
		}
		_, err = leases.Create(ctx, lease, metav1.CreateOptions{})
	case err == nil:
		lease.Spec.HolderIdentity, lease.Spec.LeaseDurationSeconds, lease.Spec.RenewTime = &holder, &dur, &now
		_, err = leases.Update(ctx, lease, metav1.UpdateOptions{})
	}
	if err != nil {
		n.log.Debug("node lease not renewed", zap.String("event", "lease"), zap.Error(err))
	}
}

// heartbeat keeps the Node Ready and its Lease fresh until ctx ends.
func (n *nodeClient) heartbeat(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cctx, cancel := context.WithTimeout(ctx, every)
		if err := n.setStatus(cctx, true, "KubeletReady", "node agent is posting ready status"); err != nil && ctx.Err() == nil {
			n.log.Warn("heartbeat failed", zap.String("event", "heartbeat"), zap.Error(err))
		}
		n.renewLease(cctx)
		cancel()
	}
}
