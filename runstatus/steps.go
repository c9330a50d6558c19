package runstatus

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"

	"github.com/kfpargo/kfpargo/step"
)

// Argo's pod annotation naming the workflow node a pod runs.
const nodeNameAnnotation = "workflows.argoproj.io/node-name"

// Step is one executed task of a run.
type Step struct {
	Name     string // the DAG task name as Argo shows it
	Task     string // the IR task name (the kfpargo-task input), when known
	NodeName string
	Phase    wfv1.NodePhase
	Started  time.Time
	Finished time.Time
	Pods     int
	// Pod is the name of the step's last pod; empty before it exists.
	Pod      string
	ExitCode string
	Message  string
	Outputs  map[string]string
	// Cache is the cache webhook's decision for the step's (last) pod:
	// hit, miss, skip or error; empty when it did not see the pod.
	Cache string
	// CacheSource is, on a hit, the NAMESPACE/WORKFLOW/POD whose outputs
	// were replayed.
	CacheSource string
	CacheKey    string
}

// Cached reports whether the step's outputs were replayed from the cache.
func (s Step) Cached() bool { return s.Cache == "hit" }

// Duration is how long the step ran; zero until it started.
func (s Step) Duration() time.Duration {
	if s.Started.IsZero() {
		return 0
	}
	end := s.Finished
	if end.IsZero() {
		end = time.Now()
	}
	return end.Sub(s.Started)
}

// Steps lists the pod nodes of a workflow in start order, with the number of
// pods that ran each.
func Steps(wf *wfv1.Workflow, pods []corev1.Pod) []Step {
	podsByNode := map[string]int{}
	lastPod := map[string]corev1.Pod{}
	for _, p := range pods {
		if n := p.Annotations[nodeNameAnnotation]; n != "" {
			podsByNode[n]++
			if last, ok := lastPod[n]; !ok || last.CreationTimestamp.Before(&p.CreationTimestamp) {
				lastPod[n] = p
			}
		}
	}
	var steps []Step
	for _, n := range wf.Status.Nodes {
		if n.Type != wfv1.NodeTypePod {
			continue
		}
		s := Step{
			Name:     n.DisplayName,
			NodeName: n.Name,
			Phase:    n.Phase,
			Started:  n.StartedAt.Time,
			Finished: n.FinishedAt.Time,
			Pods:     podsByNode[n.Name],
			Message:  n.Message,
			Outputs:  map[string]string{},
		}
		if p, ok := lastPod[n.Name]; ok {
			s.Pod = p.Name
			decision, _, _ := strings.Cut(p.Annotations[step.AnnotationCacheDecision], ":")
			s.Cache = decision
			s.CacheSource = p.Annotations[step.AnnotationCacheSource]
			s.CacheKey = p.Annotations[step.AnnotationCacheKey]
		}
		if n.Inputs != nil {
			for _, p := range n.Inputs.Parameters {
				if p.Name == step.TaskParam && p.Value != nil {
					s.Task = p.Value.String()
				}
			}
		}
		if n.Outputs != nil {
			if n.Outputs.ExitCode != nil {
				s.ExitCode = *n.Outputs.ExitCode
			}
			for _, p := range n.Outputs.Parameters {
				if p.Value != nil {
					s.Outputs[p.Name] = p.Value.String()
				}
			}
		}
		steps = append(steps, s)
	}
	sort.Slice(steps, func(i, j int) bool {
		if !steps[i].Started.Equal(steps[j].Started) {
			return steps[i].Started.Before(steps[j].Started)
		}
		return steps[i].Name < steps[j].Name
	})
	return steps
}

// WriteTable prints the steps as an aligned table.
func WriteTable(w io.Writer, steps []Step) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tPHASE\tDURATION\tCACHE\tPODS\tEXIT\tMESSAGE")
	for _, s := range steps {
		exit := s.ExitCode
		if exit == "" {
			exit = "-"
		}
		msg := strings.ReplaceAll(s.Message, "\n", " ")
		if len(msg) > 60 {
			msg = msg[:57] + "..."
		}
		cache := s.Cache
		if cache == "" {
			cache = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", s.Name, s.Phase, s.Duration().Round(100*time.Millisecond), cache, s.Pods, exit, msg)
	}
	return tw.Flush()
}
