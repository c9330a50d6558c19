package runstatus

import (
	"strings"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kfpargo/kfpargo/step"
)

func TestStepsAndTable(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	at := func(s int) metav1.Time { return metav1.NewTime(t0.Add(time.Duration(s) * time.Second)) }
	exit3, exit0 := "3", "0"
	wf := &wfv1.Workflow{Status: wfv1.WorkflowStatus{Nodes: wfv1.Nodes{
		"root": {Name: "run", DisplayName: "run", Type: wfv1.NodeTypeDAG, Phase: wfv1.NodeFailed},
		"b": {Name: "run.prep", DisplayName: "prep", Type: wfv1.NodeTypePod, Phase: wfv1.NodeFailed,
			StartedAt: at(5), FinishedAt: at(8), Message: "main: Error (exit code 3)",
			Outputs: &wfv1.Outputs{ExitCode: &exit3}},
		"a": {Name: "run.load", DisplayName: "load", Type: wfv1.NodeTypePod, Phase: wfv1.NodeSucceeded,
			StartedAt: at(0), FinishedAt: at(4),
			Inputs: &wfv1.Inputs{Parameters: []wfv1.Parameter{{Name: "kfpargo-task", Value: wfv1.AnyStringPtr("load-data")}}},
			Outputs: &wfv1.Outputs{ExitCode: &exit0,
				Parameters: []wfv1.Parameter{{Name: "n", Value: wfv1.AnyStringPtr("12")}}}},
	}}}
	pod := func(node string, created int, decision string) corev1.Pod {
		return corev1.Pod{ObjectMeta: metav1.ObjectMeta{CreationTimestamp: at(created), Annotations: map[string]string{
			nodeNameAnnotation: node, step.AnnotationCacheDecision: decision, step.AnnotationCacheSource: "ns/old/" + node}}}
	}
	// prep ran twice (a retry): the decision shown is the last pod's.
	steps := Steps(wf, []corev1.Pod{pod("run.load", 0, "hit: replaying"), pod("run.prep", 6, "miss: no entry"), pod("run.prep", 5, "hit: x")})
	if len(steps) != 2 || steps[0].Name != "load" || steps[1].Name != "prep" {
		t.Fatalf("steps in start order, DAG nodes left out: %+v", steps)
	}
	if steps[0].Pods != 1 || steps[1].Pods != 2 || steps[0].Outputs["n"] != "12" || steps[1].ExitCode != "3" || steps[0].Task != "load-data" {
		t.Fatalf("steps: %+v", steps)
	}
	if !steps[0].Cached() || steps[0].CacheSource != "ns/old/run.load" || steps[1].Cache != "miss" || steps[1].Cached() {
		t.Errorf("cache decisions: %+v / %+v", steps[0], steps[1])
	}
	if d := steps[0].Duration(); d != 4*time.Second {
		t.Errorf("duration %s", d)
	}
	var b strings.Builder
	if err := WriteTable(&b, steps); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "STEP") {
		t.Fatalf("table:\n%s", b.String())
	}
	for _, want := range []string{"prep", "Failed", "3s", "miss", "2", "3", "main: Error (exit code 3)"} {
		if !strings.Contains(lines[2], want) {
			t.Errorf("row %q lacks %q", lines[2], want)
		}
	}
}
