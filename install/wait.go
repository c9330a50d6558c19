package install

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
)

// WaitOptions control WaitReady and WaitDeleted.
type WaitOptions struct {
	// Timeout bounds the whole wait; 0 means 5 minutes.
	Timeout time.Duration
	// Progress receives a line whenever something becomes ready or gone,
	// and one naming what is still awaited at least every ProgressEvery
	// (0: 5 s).
	Progress      io.Writer
	ProgressEvery time.Duration
	// Poll is how often the cluster is asked; 0: 1 s.
	Poll time.Duration
}

func (o WaitOptions) withDefaults() WaitOptions {
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Minute
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = 5 * time.Second
	}
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	return o
}

// awaited is one thing a wait is for.
type awaited struct {
	name string
	// quiet: no line when it is done (deletions: the count says it).
	quiet bool
	// check says whether it is done, and if not, why, in a few words.
	check func(ctx context.Context) (bool, string, error)
	// diagnose explains in detail why it is not done, for the timeout
	// error.
	diagnose func(ctx context.Context) []string
}

// poll runs the checks until all are done, printing progress, or fails
// at the timeout naming what is not done and why.
func poll(ctx context.Context, what string, items []awaited, o WaitOptions) error {
	o = o.withDefaults()
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	start := time.Now()
	lastReport := start
	pending := slices.Clone(items)
	status := map[string]string{}
	for {
		var still []awaited
		for _, it := range pending {
			done, why, err := it.check(ctx)
			if err != nil && ctx.Err() == nil {
				return fmt.Errorf("%s: %w", it.name, err)
			}
			if done {
				if !it.quiet {
					fmt.Fprintf(o.Progress, "%s: %s\n", it.name, why)
				}
				continue
			}
			status[it.name] = why
			still = append(still, it)
		}
		pending = still
		if len(pending) == 0 {
			return nil
		}
		if time.Since(lastReport) >= o.ProgressEvery {
			lastReport = time.Now()
			var parts []string
			for _, it := range pending {
				parts = append(parts, it.name+": "+status[it.name])
			}
			fmt.Fprintf(o.Progress, "waiting %s for %s (%s)\n", time.Since(start).Round(time.Second), what, strings.Join(parts, "; "))
		}
		select {
		case <-ctx.Done():
			// A fresh context: the diagnosis must still reach the cluster.
			dctx, dcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer dcancel()
			var lines []string
			for _, it := range pending {
				lines = append(lines, it.name+": "+status[it.name])
				if it.diagnose != nil {
					for _, d := range it.diagnose(dctx) {
						lines = append(lines, "  "+d)
					}
				}
			}
			return fmt.Errorf("timed out after %s waiting for %s:\n  %s", o.Timeout, what, strings.Join(lines, "\n  "))
		case <-time.After(o.Poll):
		}
	}
}

// WaitReady waits until every Deployment of objs has rolled out and every
// webhook configuration has its CA bundle (which the self-signed webhook
// or cert-manager's injector sets), or fails at the timeout naming what is
// not ready and why (the pods' conditions, container states and warning
// events).
func (c *Client) WaitReady(ctx context.Context, objs []*unstructured.Unstructured, o WaitOptions) error {
	var items []awaited
	for _, obj := range objs {
		ns, name := obj.GetNamespace(), obj.GetName()
		switch obj.GetKind() {
		case "Deployment":
			var last *appsv1.Deployment
			items = append(items, awaited{
				name: Describe(obj),
				check: func(ctx context.Context) (bool, string, error) {
					d, err := c.kube.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
					if err != nil {
						return false, "", err
					}
					last = d
					ready, why := DeploymentReady(d)
					return ready, why, nil
				},
				diagnose: func(ctx context.Context) []string {
					if last == nil {
						return nil
					}
					return c.diagnosePods(ctx, last)
				},
			})
		case "MutatingWebhookConfiguration":
			items = append(items, awaited{
				name: Describe(obj),
				check: func(ctx context.Context) (bool, string, error) {
					m, err := c.kube.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, name, metav1.GetOptions{})
					if err != nil {
						return false, "", err
					}
					ready, why := CABundleSet(m)
					return ready, why, nil
				},
				diagnose: func(context.Context) []string {
					return []string{"the self-signed webhook sets it once a replica runs; with cert-manager, its cainjector does"}
				},
			})
		}
	}
	return poll(ctx, "the installation to be ready", items, o)
}

// DeploymentReady says whether d has rolled out, as `kubectl rollout
// status` decides it, and if not, what it is waiting for.
func DeploymentReady(d *appsv1.Deployment) (bool, string) {
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	st := d.Status
	if d.Generation > st.ObservedGeneration {
		return false, "the deployment controller has not seen the new spec yet"
	}
	for _, c := range st.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Reason == "ProgressDeadlineExceeded" {
			return false, fmt.Sprintf("progress deadline exceeded: %s", c.Message)
		}
	}
	switch {
	case st.UpdatedReplicas < want:
		return false, fmt.Sprintf("%d of %d replicas updated, %d available", st.UpdatedReplicas, want, st.AvailableReplicas)
	case st.Replicas > st.UpdatedReplicas:
		return false, fmt.Sprintf("%d old replicas still running", st.Replicas-st.UpdatedReplicas)
	case st.AvailableReplicas < st.UpdatedReplicas:
		return false, fmt.Sprintf("%d of %d updated replicas available", st.AvailableReplicas, st.UpdatedReplicas)
	}
	return true, fmt.Sprintf("rolled out (%d of %d available)", st.AvailableReplicas, want)
}

// CABundleSet says whether every webhook of m has a CA bundle: without
// one the apiserver cannot call it (and, failing open, admits every pod
// unchanged).
func CABundleSet(m *admissionregistrationv1.MutatingWebhookConfiguration) (bool, string) {
	for _, w := range m.Webhooks {
		if len(w.ClientConfig.CABundle) == 0 {
			return false, fmt.Sprintf("webhook %s has no caBundle yet", w.Name)
		}
	}
	return true, "caBundle set"
}

// diagnosePods explains why d's pods are not ready.
func (c *Client) diagnosePods(ctx context.Context, d *appsv1.Deployment) []string {
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return []string{"selector: " + err.Error()}
	}
	pods, err := c.kube.CoreV1().Pods(d.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return []string{"listing pods: " + err.Error()}
	}
	if len(pods.Items) == 0 {
		lines := []string{"no pods"}
		for _, cond := range d.Status.Conditions {
			if cond.Status != corev1.ConditionTrue && cond.Message != "" {
				lines = append(lines, fmt.Sprintf("%s: %s", cond.Type, cond.Message))
			}
		}
		return append(lines, c.warnings(ctx, d.Namespace, "ReplicaSet", "")...)
	}
	var lines []string
	for i := range pods.Items {
		p := &pods.Items[i]
		problems := PodProblems(p)
		if len(problems) == 0 {
			continue
		}
		lines = append(lines, fmt.Sprintf("pod %s: %s", p.Name, strings.Join(problems, "; ")))
		for _, w := range c.warnings(ctx, p.Namespace, "Pod", p.Name) {
			lines = append(lines, "  "+w)
		}
	}
	return lines
}

// warnings are the newest warning events of an object (or, without a
// name, of every object of kind in namespace).
func (c *Client) warnings(ctx context.Context, namespace, kind, name string) []string {
	fs := fields.Set{"type": corev1.EventTypeWarning, "involvedObject.kind": kind}
	if name != "" {
		fs["involvedObject.name"] = name
	}
	evs, err := c.kube.CoreV1().Events(namespace).List(ctx, metav1.ListOptions{FieldSelector: fs.AsSelector().String()})
	if err != nil {
		return []string{"events: " + err.Error()}
	}
	items := evs.Items
	sort.Slice(items, func(i, j int) bool { return eventTime(items[i]).After(eventTime(items[j])) })
	var out []string
	for i, e := range items {
		if i == 3 {
			break
		}
		out = append(out, fmt.Sprintf("event %s: %s", e.Reason, e.Message))
	}
	return out
}

func eventTime(e corev1.Event) time.Time {
	if !e.LastTimestamp.IsZero() {
		return e.LastTimestamp.Time
	}
	return e.EventTime.Time
}

// PodProblems lists why p is not ready: conditions that are false with a
// reason, containers waiting or terminated, and restarts; nil when it is
// ready.
func PodProblems(p *corev1.Pod) []string {
	var out []string
	ready := false
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			ready = true
		}
	}
	if ready {
		return nil
	}
	out = append(out, "phase "+string(p.Status.Phase))
	statuses := append(slices.Clone(p.Status.InitContainerStatuses), p.Status.ContainerStatuses...)
	for _, c := range p.Status.Conditions {
		if c.Status == corev1.ConditionTrue || (c.Reason == "" && c.Message == "") {
			continue
		}
		if (c.Type == corev1.PodReady || c.Type == corev1.ContainersReady) && len(statuses) > 0 {
			// The containers' own states below say why.
			continue
		}
		s := fmt.Sprintf("%s=%s", c.Type, c.Status)
		if c.Reason != "" {
			s += " " + c.Reason
		}
		if c.Message != "" {
			s += ": " + c.Message
		}
		out = append(out, s)
	}
	for _, cs := range statuses {
		switch {
		case cs.State.Waiting != nil:
			s := fmt.Sprintf("container %s waiting: %s", cs.Name, cs.State.Waiting.Reason)
			if cs.State.Waiting.Message != "" {
				s += " (" + cs.State.Waiting.Message + ")"
			}
			out = append(out, s)
		case cs.State.Terminated != nil && cs.State.Terminated.ExitCode != 0:
			out = append(out, fmt.Sprintf("container %s terminated: %s, exit code %d", cs.Name, cs.State.Terminated.Reason, cs.State.Terminated.ExitCode))
		case cs.State.Running != nil && !cs.Ready:
			out = append(out, fmt.Sprintf("container %s running, not ready (readiness probe)", cs.Name))
		}
		if t := cs.LastTerminationState.Terminated; t != nil && cs.RestartCount > 0 {
			out = append(out, fmt.Sprintf("container %s restarted %d times, last exit code %d (%s)", cs.Name, cs.RestartCount, t.ExitCode, t.Reason))
		}
	}
	return out
}

// WaitDeleted waits until every object of objs is gone, or fails at the
// timeout naming what remains (for a namespace, its conditions: what
// content or finalizers keep it).
func (c *Client) WaitDeleted(ctx context.Context, objs []*unstructured.Unstructured, o WaitOptions) error {
	var items []awaited
	for _, obj := range objs {
		ri, err := c.resource(obj)
		if err != nil {
			return fmt.Errorf("%s: %w", Describe(obj), err)
		}
		name := obj.GetName()
		var last *unstructured.Unstructured
		items = append(items, awaited{
			name:  Describe(obj),
			quiet: true,
			check: func(ctx context.Context) (bool, string, error) {
				cur, err := ri.Get(ctx, name, metav1.GetOptions{})
				if apierrors.IsNotFound(err) {
					return true, "gone", nil
				}
				if err != nil {
					return false, "", err
				}
				last = cur
				if fin := cur.GetFinalizers(); len(fin) > 0 {
					return false, "finalizers " + strings.Join(fin, ", "), nil
				}
				return false, "being deleted", nil
			},
			diagnose: func(context.Context) []string {
				if last == nil || last.GetKind() != "Namespace" {
					return nil
				}
				var ns corev1.Namespace
				if err := fromUnstructured(last, &ns); err != nil {
					return []string{err.Error()}
				}
				var lines []string
				for _, c := range ns.Status.Conditions {
					if c.Status == corev1.ConditionTrue {
						lines = append(lines, fmt.Sprintf("%s: %s", c.Type, c.Message))
					}
				}
				return lines
			},
		})
	}
	return poll(ctx, "the objects to be deleted", items, o)
}

func fromUnstructured(u *unstructured.Unstructured, out any) error {
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, out); err != nil {
		return errors.New(Describe(u) + ": " + err.Error())
	}
	return nil
}
