package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kfpargo/kfpargo/runview"
)

func TestWriteRunList(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	wf := func(name, exp string, created, started, finished int, phase wfv1.WorkflowPhase) wfv1.Workflow {
		w := wfv1.Workflow{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "argo",
			CreationTimestamp: metav1.NewTime(now.Add(time.Duration(created) * time.Minute)),
			Labels:            map[string]string{labelPipeline: "seed-mnist", LabelExperiment: exp}}}
		w.Status.Phase = phase
		w.Status.StartedAt = metav1.NewTime(now.Add(time.Duration(started) * time.Minute))
		if finished != 0 {
			w.Status.FinishedAt = metav1.NewTime(now.Add(time.Duration(finished) * time.Minute))
		}
		w.Status.Nodes = wfv1.Nodes{"a": {Type: wfv1.NodeTypePod}, "b": {Type: wfv1.NodeTypePod}, "c": {Type: wfv1.NodeTypeDAG}}
		return w
	}
	var b bytes.Buffer
	err := writeRunList(&b, []wfv1.Workflow{
		wf("old", "mnist", -90, -90, -88, wfv1.WorkflowSucceeded),
		wf("new", "", -5, -5, 0, wfv1.WorkflowRunning),
	}, map[string]int{"argo/old": 2}, false, now)
	if err != nil {
		t.Fatal(err)
	}
	want := "NAME  PIPELINE    EXPERIMENT  PHASE      STARTED  DURATION  STEPS  CACHED\n" +
		"new   seed-mnist  -           Running    5m ago   5m0s      2      0\n" +
		"old   seed-mnist  mnist       Succeeded  1h ago   2m0s      2      2\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	b.Reset()
	if err := writeRunList(&b, nil, nil, false, now); err != nil || b.String() != "no runs\n" {
		t.Errorf("empty list: %q, %v", b.String(), err)
	}
}

func TestWriteComparison(t *testing.T) {
	v := func(s string) *string { return &s }
	c := &runview.Comparison{Runs: []string{"r1", "r2"}, Rows: []runview.ComparisonRow{
		{Kind: runview.KindParameter, Name: "epochs", Values: []*string{v("5"), v("5")}},
		{Kind: runview.KindParameter, Name: "hidden_units", Values: []*string{v("128"), v("256")}, Differs: true},
		{Kind: runview.KindMetric, Name: "train/accuracy", Values: []*string{v("98.9"), nil}, Differs: true},
	}}
	var b bytes.Buffer
	if err := writeComparison(&b, c, false); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(b.String(), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[1], "  epochs") || !strings.HasPrefix(lines[2], "* hidden_units") || !strings.Contains(lines[3], "98.9") || !strings.HasSuffix(strings.TrimSpace(lines[3]), "-") {
		t.Errorf("want the equal row unmarked, the differing ones marked *, a missing value as -:\n%s", b.String())
	}
	b.Reset()
	if err := writeComparison(&b, c, true); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "epochs") || !strings.Contains(b.String(), "hidden_units") {
		t.Errorf("--diff kept an equal row or dropped a differing one:\n%s", b.String())
	}
}

func TestSubmitArguments(t *testing.T) {
	args := wfv1.Arguments{Parameters: []wfv1.Parameter{{Name: "epochs", Value: wfv1.AnyStringPtr("5")}}}
	if err := setArguments(&args, []string{"epochs=3"}, "run.yaml"); err != nil || args.Parameters[0].Value.String() != "3" {
		t.Errorf("setArguments: %v, %v", err, args.Parameters)
	}
	err := setArguments(&args, []string{"epoch=3"}, "run.yaml")
	var inv usageError
	if err == nil || !strings.Contains(err.Error(), `run.yaml has no parameter "epoch" (it has: epochs)`) || !asUsage(err, &inv) {
		t.Errorf("unknown parameter: %v", err)
	}
	wf, err := fromTemplate("workflowtemplate/seed", []string{"epochs=2"})
	if err != nil || wf.Spec.WorkflowTemplateRef.Name != "seed" || wf.GenerateName != "seed-" || wf.Spec.Arguments.Parameters[0].Value.String() != "2" {
		t.Errorf("fromTemplate: %+v, %v", wf, err)
	}
	for _, bad := range []string{"seed", "cronworkflow/seed", "workflowtemplate/"} {
		if _, err := fromTemplate(bad, nil); err == nil || !asUsage(err, &inv) {
			t.Errorf("--from %q: %v", bad, err)
		}
	}
}

func asUsage(err error, target *usageError) bool {
	u, ok := err.(usageError)
	if ok {
		*target = u
	}
	return ok
}
