package runwatch

import (
	"bytes"
	"strings"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kfpargo/kfpargo/runstatus"
)

var t0 = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

func run(phase wfv1.WorkflowPhase) *wfv1.Workflow {
	wf := &wfv1.Workflow{ObjectMeta: metav1.ObjectMeta{Name: "seed-abc", Namespace: "argo"}}
	wf.Status.Phase = phase
	wf.Status.StartedAt = metav1.NewTime(t0)
	if phase == wfv1.WorkflowSucceeded {
		wf.Status.FinishedAt = metav1.NewTime(t0.Add(30 * time.Second))
	}
	return wf
}

func step(name string, phase wfv1.NodePhase, cache string, start, end int) runstatus.Step {
	s := runstatus.Step{Name: name, NodeName: "seed-abc." + name, Phase: phase, Cache: cache, Pod: "seed-abc-" + name + "-1"}
	if start >= 0 {
		s.Started = t0.Add(time.Duration(start) * time.Second)
	}
	if end >= 0 {
		s.Finished = t0.Add(time.Duration(end) * time.Second)
	}
	return s
}

// Off a terminal every phase change is one line, never repeated, and the
// end shows the table and the summary.
func TestLineMode(t *testing.T) {
	var b bytes.Buffer
	d := New(&b, false)
	d.now = func() time.Time { return t0.Add(5 * time.Second) }
	updates := [][]runstatus.Step{
		{step("load-data", wfv1.NodeRunning, "hit", 1, -1)},
		{step("load-data", wfv1.NodeRunning, "hit", 1, -1)},
		{step("load-data", wfv1.NodeSucceeded, "hit", 1, 2), step("train", wfv1.NodeRunning, "miss", 3, -1)},
	}
	for _, u := range updates {
		if err := d.Update(run(wfv1.WorkflowRunning), u); err != nil {
			t.Fatal(err)
		}
	}
	final := []runstatus.Step{step("load-data", wfv1.NodeSucceeded, "hit", 1, 2), step("train", wfv1.NodeSucceeded, "miss", 3, 29)}
	if err := d.Finish(run(wfv1.WorkflowSucceeded), final); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if strings.Contains(out, "\x1b[") {
		t.Errorf("escape sequences off a terminal:\n%q", out)
	}
	for _, want := range []string{
		"load-data                Running\n",
		"load-data                Succeeded in 1s (cached)\n",
		"train                    Succeeded in 26s (ran)\n",
		"STEP       PHASE      DURATION  CACHED  POD\n",
		"train      Succeeded  26s       ran     seed-abc-train-1\n",
		"run argo/seed-abc Succeeded in 30s: 1 step ran, 1 from the cache\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "load-data                Running"); n != 1 {
		t.Errorf("unchanged step printed %d times:\n%s", n, out)
	}
}

// On a terminal each update moves the cursor back over exactly the lines
// the previous table took.
func TestTerminalRedraw(t *testing.T) {
	var b bytes.Buffer
	d := New(&b, true)
	d.now = func() time.Time { return t0.Add(5 * time.Second) }
	one := []runstatus.Step{step("load-data", wfv1.NodeRunning, "", 1, -1)}
	two := append(one, step("train", wfv1.NodePending, "", -1, -1))
	if err := d.Update(run(wfv1.WorkflowRunning), one); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "\x1b[") {
		t.Fatalf("first draw moves the cursor: %q", b.String())
	}
	b.Reset()
	if err := d.Update(run(wfv1.WorkflowRunning), two); err != nil {
		t.Fatal(err)
	}
	// Header, column titles and one step: 3 lines to go back over.
	if !strings.HasPrefix(b.String(), "\x1b[3A\r\x1b[J") {
		t.Fatalf("second draw starts %q", b.String())
	}
	b.Reset()
	if err := d.Update(run(wfv1.WorkflowRunning), two); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b.String(), "\x1b[4A\r\x1b[J") || !strings.Contains(b.String(), "train      Pending  0s        -       seed-abc-train-1") {
		t.Fatalf("third draw:\n%q", b.String())
	}
}

func TestSummaryCountsFailures(t *testing.T) {
	wf := run(wfv1.WorkflowFailed)
	wf.Status.FinishedAt = metav1.NewTime(t0.Add(10 * time.Second))
	wf.Status.Message = "child 'x' failed"
	got := Summary(wf, []runstatus.Step{step("a", wfv1.NodeSucceeded, "hit", 0, 1), step("b", wfv1.NodeFailed, "miss", 1, 9)})
	want := "run argo/seed-abc Failed in 10s: 1 step ran, 1 from the cache, 1 failed: child 'x' failed"
	if got != want {
		t.Errorf("Summary = %q, want %q", got, want)
	}
}
