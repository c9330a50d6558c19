package runview

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"

	"github.com/kfpargo/kfpargo/runstatus"
	"github.com/kfpargo/kfpargo/step"
)

// Labels and annotations the translator and the CLI put on a run's Workflow.
const (
	// LabelExperiment groups runs into an experiment (`kfpargo submit
	// --experiment`).
	LabelExperiment = "kfpargo.io/experiment"
	// LabelPipeline is the pipeline's name as a label value.
	LabelPipeline = "kfpargo.io/pipeline"
	// AnnotationPipelineName is the pipeline's name as the spec gives it.
	AnnotationPipelineName = "kfpargo.io/pipeline-name"
)

// Argo's pod annotation naming the workflow node a pod runs.
const nodeNameAnnotation = "workflows.argoproj.io/node-name"

// Run is one run of a pipeline; doc.go documents its serialised form.
type Run struct {
	Name            string    `json:"name"`
	Namespace       string    `json:"namespace"`
	UID             string    `json:"uid,omitempty"`
	Pipeline        string    `json:"pipeline,omitempty"`
	Experiment      string    `json:"experiment,omitempty"`
	Phase           string    `json:"phase"`
	Message         string    `json:"message,omitempty"`
	Started         time.Time `json:"started,omitzero"`
	Finished        time.Time `json:"finished,omitzero"`
	DurationSeconds float64   `json:"durationSeconds,omitempty"`
	Parameters      []Param   `json:"parameters"`
	Steps           []Step    `json:"steps"`
	Edges           []Edge    `json:"edges"`
}

// Param is a named parameter value.
type Param struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Step is one executed (or skipped) task of a run.
type Step struct {
	ID              string    `json:"id"`
	Name            string    `json:"name"`
	Iteration       string    `json:"iteration,omitempty"`
	Task            string    `json:"task,omitempty"`
	Node            string    `json:"node"`
	Phase           string    `json:"phase"`
	Message         string    `json:"message,omitempty"`
	Started         time.Time `json:"started,omitzero"`
	Finished        time.Time `json:"finished,omitzero"`
	DurationSeconds float64   `json:"durationSeconds,omitempty"`
	Pods            int       `json:"pods"`
	// Pod is the step's last pod.
	Pod            string           `json:"pod,omitempty"`
	ExitCode       string           `json:"exitCode,omitempty"`
	Cache          *Cache           `json:"cache,omitempty"`
	Cached         bool             `json:"cached"`
	Inputs         []Param          `json:"inputs"`
	Outputs        []Param          `json:"outputs"`
	Artifacts      []Artifact       `json:"artifacts"`
	Metrics        []Metric         `json:"metrics"`
	Classification []Classification `json:"classification,omitempty"`
}

// Label tells apart the steps that share a name, being iterations of a
// loop: "make-part #1", "tag #0.1" (outer loop first).
func (s *Step) Label() string {
	if s.Iteration == "" {
		return s.Name
	}
	return s.Name + " #" + s.Iteration
}

// Skipped reports whether the step's task did not run because of a
// condition or a failed upstream.
func (s *Step) Skipped() bool {
	return s.Phase == string(wfv1.NodeSkipped) || s.Phase == string(wfv1.NodeOmitted)
}

// Cache is the cache webhook's decision for a step's last pod.
type Cache struct {
	Decision string `json:"decision"`
	Reason   string `json:"reason,omitempty"`
	Key      string `json:"key,omitempty"`
	// Source is, on a hit, the NAMESPACE/WORKFLOW/POD whose outputs were
	// replayed.
	Source string `json:"source,omitempty"`
}

// Artifact directions.
const (
	Input  = "input"
	Output = "output"
)

// Artifact is an artifact a step read or wrote, from its descriptor.
type Artifact struct {
	Name        string         `json:"name"`
	Direction   string         `json:"direction"`
	URI         string         `json:"uri"`
	Size        int64          `json:"size"`
	SHA256      string         `json:"sha256,omitempty"`
	Dir         bool           `json:"dir,omitempty"`
	SchemaTitle string         `json:"schemaTitle,omitempty"`
	Metadata    map[string]any `json:"metadata,omitempty"`
}

// Metric is one scalar metric a step logged in a Metrics (or
// ClassificationMetrics) artifact.
type Metric struct {
	Artifact string `json:"artifact"`
	Name     string `json:"name"`
	// Value is a float64, a string or a bool.
	Value any `json:"value"`
}

// Text formats the value: numbers in their shortest exact form.
func (m Metric) Text() string { return formatValue(m.Value) }

// Number returns the value when it is a number.
func (m Metric) Number() (float64, bool) {
	f, ok := m.Value.(float64)
	return f, ok
}

// Classification is what a ClassificationMetrics artifact holds.
type Classification struct {
	Artifact        string           `json:"artifact"`
	ConfusionMatrix *ConfusionMatrix `json:"confusionMatrix,omitempty"`
	ROC             []ROCPoint       `json:"roc,omitempty"`
	// ROCPoints is the number of points of the ROC curve; when only the
	// step's metrics summary was available it is all that is known.
	ROCPoints int `json:"rocPoints,omitempty"`
}

// ConfusionMatrix has a row per actual class and a column per predicted
// class.
type ConfusionMatrix struct {
	Classes []string    `json:"classes"`
	Rows    [][]float64 `json:"rows"`
}

// ROCPoint is one point of a ROC curve.
type ROCPoint struct {
	Threshold float64 `json:"threshold"`
	FPR       float64 `json:"fpr"`
	TPR       float64 `json:"tpr"`
}

// Edge says that step To ran after (and from the outputs of) step From.
type Edge struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// Step returns the step with the given id.
func (r *Run) Step(id string) *Step {
	for i := range r.Steps {
		if r.Steps[i].ID == id {
			return &r.Steps[i]
		}
	}
	return nil
}

// FromWorkflow builds the view of a run from its Workflow and the pods it
// created (pods carry the cache decisions; nil pods leave them out).
func FromWorkflow(wf *wfv1.Workflow, pods []corev1.Pod) (*Run, error) {
	if wf == nil {
		return nil, errors.New("no workflow")
	}
	r := &Run{
		Name:       wf.Name,
		Namespace:  wf.Namespace,
		UID:        string(wf.UID),
		Pipeline:   wf.Annotations[AnnotationPipelineName],
		Experiment: wf.Labels[LabelExperiment],
		Phase:      string(wf.Status.Phase),
		Message:    wf.Status.Message,
		Started:    wf.Status.StartedAt.Time,
		Finished:   wf.Status.FinishedAt.Time,
		Parameters: []Param{},
		Steps:      []Step{},
		Edges:      []Edge{},
	}
	if r.Pipeline == "" {
		r.Pipeline = wf.Labels[LabelPipeline]
	}
	if r.Phase == "" {
		r.Phase = string(wfv1.WorkflowPending)
	}
	r.DurationSeconds = seconds(r.Started, r.Finished)
	for _, p := range wf.Spec.Arguments.Parameters {
		r.Parameters = append(r.Parameters, Param{Name: p.Name, Value: paramValue(p)})
	}

	byNode := map[string]runstatus.Step{}
	for _, s := range runstatus.Steps(wf, pods) {
		byNode[s.NodeName] = s
	}
	lastPod := lastPods(pods)
	var errs []error
	for id, n := range wf.Status.Nodes {
		if !isStep(n) {
			continue
		}
		s, err := newStep(id, n, byNode[n.Name], lastPod[n.Name])
		if err != nil {
			errs = append(errs, fmt.Errorf("step %s: %w", n.DisplayName, err))
		}
		r.Steps = append(r.Steps, s)
	}
	sort.Slice(r.Steps, func(i, j int) bool {
		a, b := r.Steps[i], r.Steps[j]
		if !a.Started.Equal(b.Started) {
			return a.Started.Before(b.Started)
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.ID < b.ID
	})
	r.Edges = edges(wf.Status.Nodes)
	// A bad descriptor or metrics value leaves that one item out; the rest
	// of the run is still worth showing, so the error goes with the run.
	return r, errors.Join(errs...)
}

// isStep tells the nodes a user thinks of as steps: pods, and tasks that did
// not run. DAG, loop and retry nodes only group them.
func isStep(n wfv1.NodeStatus) bool {
	return n.Type == wfv1.NodeTypePod || n.Type == wfv1.NodeTypeSkipped
}

func newStep(id string, n wfv1.NodeStatus, rs runstatus.Step, pod *corev1.Pod) (Step, error) {
	s := Step{
		ID:        id,
		Name:      n.DisplayName,
		Task:      rs.Task,
		Node:      n.Name,
		Phase:     string(n.Phase),
		Message:   n.Message,
		Started:   n.StartedAt.Time,
		Finished:  n.FinishedAt.Time,
		Pods:      rs.Pods,
		Pod:       rs.Pod,
		ExitCode:  rs.ExitCode,
		Inputs:    []Param{},
		Outputs:   []Param{},
		Artifacts: []Artifact{},
		Metrics:   []Metric{},
	}
	if s.Name == "" {
		s.Name = n.Name
	}
	s.Iteration = iteration(n.Name)
	s.DurationSeconds = seconds(s.Started, s.Finished)
	if pod != nil && pod.Annotations[step.AnnotationCacheDecision] != "" {
		decision, reason, _ := strings.Cut(pod.Annotations[step.AnnotationCacheDecision], ":")
		s.Cache = &Cache{
			Decision: strings.TrimSpace(decision),
			Reason:   strings.TrimSpace(reason),
			Key:      pod.Annotations[step.AnnotationCacheKey],
			Source:   pod.Annotations[step.AnnotationCacheSource],
		}
		s.Cached = s.Cache.Decision == "hit"
	}
	var errs []error
	if n.Inputs != nil {
		for _, p := range n.Inputs.Parameters {
			switch {
			case p.Name == step.TaskParam:
				if s.Task == "" {
					s.Task = paramValue(p)
				}
			case strings.HasPrefix(p.Name, step.ArtifactParamPrefix):
				as, err := artifacts(strings.TrimPrefix(p.Name, step.ArtifactParamPrefix), Input, paramValue(p))
				if err != nil {
					errs = append(errs, fmt.Errorf("input %s: %w", p.Name, err))
				}
				s.Artifacts = append(s.Artifacts, as...)
			case strings.HasPrefix(p.Name, "kfpargo-"):
			default:
				s.Inputs = append(s.Inputs, Param{Name: p.Name, Value: paramValue(p)})
			}
		}
	}
	var summary string
	if n.Outputs != nil {
		for _, p := range n.Outputs.Parameters {
			switch {
			case p.Name == step.MetricsParam:
				summary = paramValue(p)
			case strings.HasPrefix(p.Name, step.ArtifactParamPrefix):
				as, err := artifacts(strings.TrimPrefix(p.Name, step.ArtifactParamPrefix), Output, paramValue(p))
				if err != nil {
					errs = append(errs, fmt.Errorf("output %s: %w", p.Name, err))
				}
				s.Artifacts = append(s.Artifacts, as...)
			case strings.HasPrefix(p.Name, "kfpargo-"):
			default:
				if p.Value != nil {
					s.Outputs = append(s.Outputs, Param{Name: p.Name, Value: paramValue(p)})
				}
			}
		}
	}
	if err := s.addMetrics(summary); err != nil {
		errs = append(errs, err)
	}
	// A metrics artifact's metadata is its values, now in Metrics and
	// Classification; a ROC curve would double the size of `get -o json`.
	for i := range s.Artifacts {
		if step.IsMetrics(s.Artifacts[i].SchemaTitle) {
			s.Artifacts[i].Metadata = nil
		}
	}
	return s, errors.Join(errs...)
}

// iteration reads the loop indices from a node name such as
// "wf.for-loop-1(0:a).for-loop-2(1:{\"x\":\"1.5\"}).tag": Argo appends
// "(INDEX:ITEM)" to the node of each iteration, and the item may hold dots
// and parentheses, so the name is split only outside parentheses.
func iteration(nodeName string) string {
	var idx []string
	depth, start := 0, 0
	for i := 0; i < len(nodeName); i++ {
		switch nodeName[i] {
		case '(':
			depth++
			if depth == 1 {
				start = i + 1
			}
		case ')':
			if depth == 1 {
				if n, _, ok := strings.Cut(nodeName[start:i], ":"); ok {
					if _, err := strconv.Atoi(n); err == nil {
						idx = append(idx, n)
					}
				}
			}
			depth = max(depth-1, 0)
		}
	}
	return strings.Join(idx, ".")
}

func paramValue(p wfv1.Parameter) string {
	if p.Value == nil {
		return ""
	}
	return p.Value.String()
}

func seconds(start, end time.Time) float64 {
	if start.IsZero() || end.IsZero() {
		return 0
	}
	return end.Sub(start).Seconds()
}

// lastPods maps a node name to the newest pod that ran it: a retried step's
// cache decision is its last attempt's.
func lastPods(pods []corev1.Pod) map[string]*corev1.Pod {
	last := map[string]*corev1.Pod{}
	for i := range pods {
		p := &pods[i]
		n := p.Annotations[nodeNameAnnotation]
		if n == "" {
			continue
		}
		if l, ok := last[n]; !ok || l.CreationTimestamp.Before(&p.CreationTimestamp) {
			last[n] = p
		}
	}
	return last
}

// artifacts decodes an artifact parameter: one descriptor, or, for a list
// input (dsl.Collected, a loop's outputs), a JSON array of descriptors,
// possibly nested or holding descriptors as JSON text. Items of a list are
// named NAME[i] (NAME[i][j] when nested).
func artifacts(name, direction, value string) ([]Artifact, error) {
	if strings.TrimSpace(value) == "" {
		return nil, nil
	}
	var v any
	if err := json.Unmarshal([]byte(value), &v); err != nil {
		return nil, fmt.Errorf("artifact descriptor is not JSON: %v", err)
	}
	var out []Artifact
	var walk func(name string, v any, depth int) error
	walk = func(name string, v any, depth int) error {
		if depth > 4 {
			return errors.New("artifact list nested too deeply")
		}
		switch x := v.(type) {
		case string:
			var inner any
			if err := json.Unmarshal([]byte(x), &inner); err != nil {
				return fmt.Errorf("%s: artifact descriptor is not JSON: %v", name, err)
			}
			return walk(name, inner, depth+1)
		case []any:
			for i, item := range x {
				if err := walk(fmt.Sprintf("%s[%d]", name, i), item, depth+1); err != nil {
					return err
				}
			}
			return nil
		case map[string]any:
			a := Artifact{Name: name, Direction: direction}
			a.URI, _ = x["uri"].(string)
			a.SHA256, _ = x["sha256"].(string)
			if size, ok := x["size"].(float64); ok {
				a.Size = int64(size)
			}
			a.Dir, _ = x["dir"].(bool)
			a.SchemaTitle, _ = x["schemaTitle"].(string)
			a.Metadata, _ = x["metadata"].(map[string]any)
			if a.URI == "" {
				return fmt.Errorf("%s: artifact descriptor has no uri", name)
			}
			out = append(out, a)
			return nil
		default:
			return fmt.Errorf("%s: artifact descriptor is a JSON %T, want an object or a list", name, v)
		}
	}
	err := walk(name, v, 0)
	return out, err
}

// addMetrics reads the metrics of the step's Metrics and
// ClassificationMetrics outputs: in full from their descriptors' metadata,
// else from the step's kfpargo-metrics summary (which keeps scalars and a
// small confusion matrix, and only the number of ROC points).
func (s *Step) addMetrics(summary string) error {
	values := map[string]map[string]any{}
	schema := map[string]string{}
	for _, a := range s.Artifacts {
		if a.Direction == Output && step.IsMetrics(a.SchemaTitle) && len(a.Metadata) > 0 {
			values[a.Name] = a.Metadata
			schema[a.Name] = a.SchemaTitle
		}
	}
	var err error
	if summary != "" {
		var sum map[string]map[string]any
		if jerr := json.Unmarshal([]byte(summary), &sum); jerr != nil {
			err = fmt.Errorf("output %s: %v", step.MetricsParam, jerr)
		}
		for name, m := range sum {
			if _, ok := values[name]; !ok {
				values[name] = m
			}
		}
	}
	names := make([]string, 0, len(values))
	for name := range values {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		m := values[name]
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var c Classification
		for _, k := range keys {
			switch v := m[k].(type) {
			case float64, string, bool:
				s.Metrics = append(s.Metrics, Metric{Artifact: name, Name: k, Value: v})
			default:
				switch k {
				case "confusionMatrix":
					c.ConfusionMatrix = confusionMatrix(v)
				case "confidenceMetrics":
					c.ROC, c.ROCPoints = roc(v)
				}
			}
		}
		if c.ConfusionMatrix != nil || c.ROCPoints > 0 || schema[name] == step.SchemaClassificationMetrics {
			c.Artifact = name
			s.Classification = append(s.Classification, c)
		}
	}
	return err
}

// confusionMatrix reads KFP's shape: {"annotationSpecs": [{"displayName":
// "cat"}, ...], "rows": [{"row": [3, 1]}, ...]}; a matrix that is not
// square in its classes is left out.
func confusionMatrix(v any) *ConfusionMatrix {
	m, _ := v.(map[string]any)
	specs, _ := m["annotationSpecs"].([]any)
	rows, _ := m["rows"].([]any)
	cm := &ConfusionMatrix{}
	for _, s := range specs {
		spec, _ := s.(map[string]any)
		name, _ := spec["displayName"].(string)
		cm.Classes = append(cm.Classes, name)
	}
	for _, r := range rows {
		row, _ := r.(map[string]any)
		cells, _ := row["row"].([]any)
		var cs []float64
		for _, c := range cells {
			f, _ := c.(float64)
			cs = append(cs, f)
		}
		if len(cs) != len(cm.Classes) {
			return nil
		}
		cm.Rows = append(cm.Rows, cs)
	}
	if len(cm.Classes) == 0 || len(cm.Rows) != len(cm.Classes) {
		return nil
	}
	return cm
}

// roc reads log_roc_curve's points ({confidenceThreshold, recall,
// falsePositiveRate}), ordered by false positive rate, or the summary's
// {"points": N}.
func roc(v any) ([]ROCPoint, int) {
	switch x := v.(type) {
	case map[string]any:
		n, _ := x["points"].(float64)
		return nil, int(n)
	case []any:
		var pts []ROCPoint
		for _, item := range x {
			m, _ := item.(map[string]any)
			th, ok1 := m["confidenceThreshold"].(float64)
			tpr, ok2 := m["recall"].(float64)
			fpr, ok3 := m["falsePositiveRate"].(float64)
			if ok1 && ok2 && ok3 {
				pts = append(pts, ROCPoint{Threshold: th, FPR: fpr, TPR: tpr})
			}
		}
		sort.SliceStable(pts, func(i, j int) bool {
			if pts[i].FPR != pts[j].FPR {
				return pts[i].FPR < pts[j].FPR
			}
			return pts[i].TPR < pts[j].TPR
		})
		return pts, len(pts)
	}
	return nil, 0
}

func formatValue(v any) string {
	switch x := v.(type) {
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case string:
		return x
	case nil:
		return ""
	default:
		return fmt.Sprint(x)
	}
}

// edges links the steps through the workflow's node graph. Argo lists a
// node's dependents as its children, but also puts DAG, loop (TaskGroup)
// and retry nodes in between; an edge A -> B is drawn when B can be reached
// from A through such grouping nodes only.
func edges(nodes wfv1.Nodes) []Edge {
	byName := map[string]string{}
	for id, n := range nodes {
		byName[n.Name] = id
	}
	seen := map[Edge]bool{}
	var out []Edge
	for id, n := range nodes {
		if !isStep(n) {
			continue
		}
		visited := map[string]bool{}
		stack := append([]string(nil), n.Children...)
		for len(stack) > 0 {
			c := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if visited[c] {
				continue
			}
			visited[c] = true
			child, ok := nodes[c]
			if !ok {
				// Old controllers wrote children by name.
				if cid, ok2 := byName[c]; ok2 {
					c, child, ok = cid, nodes[cid], true
				}
			}
			if !ok {
				continue
			}
			if isStep(child) {
				e := Edge{From: id, To: c}
				if !seen[e] && c != id {
					seen[e] = true
					out = append(out, e)
				}
				continue
			}
			stack = append(stack, child.Children...)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].From != out[j].From {
			return out[i].From < out[j].From
		}
		return out[i].To < out[j].To
	})
	return out
}
