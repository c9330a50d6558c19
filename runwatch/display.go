package runwatch

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"

	"github.com/kfpargo/kfpargo/runstatus"
)

// Display shows a run's steps as they change. On a terminal it redraws
// one table in place; otherwise (a log, a pipe) it writes one line per
// step whose phase changed, so the output reads top to bottom.
type Display struct {
	w   io.Writer
	tty bool
	now func() time.Time
	// lines is how many lines the last table took (terminal mode).
	lines int
	// seen is each step's last phase shown (line mode).
	seen map[string]wfv1.NodePhase
}

// New writes to w; tty says whether w is a terminal.
func New(w io.Writer, tty bool) *Display {
	return &Display{w: w, tty: tty, now: time.Now, seen: map[string]wfv1.NodePhase{}}
}

// Update shows the run's current state.
func (d *Display) Update(wf *wfv1.Workflow, steps []runstatus.Step) error {
	if d.tty {
		return d.redraw(wf, steps)
	}
	for _, s := range steps {
		if d.seen[s.NodeName] == s.Phase {
			continue
		}
		d.seen[s.NodeName] = s.Phase
		if _, err := fmt.Fprintln(d.w, stepLine(wf, s, d.now())); err != nil {
			return err
		}
	}
	return nil
}

// Finish shows the final state: the table (in place on a terminal, once
// at the end otherwise) and a summary line.
func (d *Display) Finish(wf *wfv1.Workflow, steps []runstatus.Step) error {
	if d.tty {
		if err := d.redraw(wf, steps); err != nil {
			return err
		}
	} else {
		if err := d.Update(wf, steps); err != nil {
			return err
		}
		if err := writeTable(d.w, steps, d.now()); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintln(d.w, Summary(wf, steps))
	return err
}

// redraw moves the cursor back over the last table and writes the new
// one, clearing what is below.
func (d *Display) redraw(wf *wfv1.Workflow, steps []runstatus.Step) error {
	var body bytes.Buffer
	fmt.Fprintf(&body, "%s %s  %s\n", wf.Name, phaseOf(wf), elapsed(wf, d.now()).Round(time.Second))
	if err := writeTable(&body, steps, d.now()); err != nil {
		return err
	}
	var out bytes.Buffer
	if d.lines > 0 {
		// Up to the table's first line, then clear to the end.
		fmt.Fprintf(&out, "\x1b[%dA\r\x1b[J", d.lines)
	}
	out.Write(body.Bytes())
	d.lines = bytes.Count(body.Bytes(), []byte("\n"))
	_, err := d.w.Write(out.Bytes())
	return err
}

// writeTable is the step table: phase, duration, whether the step ran or
// came from the cache, and its pod.
func writeTable(w io.Writer, steps []runstatus.Step, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tPHASE\tDURATION\tCACHED\tPOD")
	for _, s := range steps {
		pod := s.Pod
		if pod == "" {
			pod = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.Name, s.Phase, duration(s, now), cacheWord(s), pod)
	}
	return tw.Flush()
}

func stepLine(wf *wfv1.Workflow, s runstatus.Step, now time.Time) string {
	line := fmt.Sprintf("%7s  %-24s %s", elapsed(wf, now).Round(100*time.Millisecond), s.Name, s.Phase)
	if s.Phase != wfv1.NodePending && s.Phase != wfv1.NodeRunning {
		line += fmt.Sprintf(" in %s (%s)", duration(s, now), cacheWord(s))
	}
	if s.Message != "" && s.Phase != wfv1.NodeSucceeded {
		line += ": " + oneLine(s.Message, 100)
	}
	return line
}

// cacheWord says whether a step ran or was served from the cache.
func cacheWord(s runstatus.Step) string {
	switch {
	case s.Cached():
		return "cached"
	case s.Phase == wfv1.NodePending || s.Phase == wfv1.NodeSkipped || s.Phase == wfv1.NodeOmitted:
		return "-"
	}
	return "ran"
}

func duration(s runstatus.Step, now time.Time) time.Duration {
	if s.Started.IsZero() {
		return 0
	}
	end := s.Finished
	if end.IsZero() {
		end = now
	}
	return end.Sub(s.Started).Round(100 * time.Millisecond)
}

func elapsed(wf *wfv1.Workflow, now time.Time) time.Duration {
	start := wf.Status.StartedAt.Time
	if start.IsZero() {
		start = wf.CreationTimestamp.Time
	}
	if start.IsZero() {
		return 0
	}
	end := wf.Status.FinishedAt.Time
	if end.IsZero() {
		end = now
	}
	return end.Sub(start)
}

func phaseOf(wf *wfv1.Workflow) wfv1.WorkflowPhase {
	if wf.Status.Phase == "" {
		return wfv1.WorkflowPending
	}
	return wf.Status.Phase
}

// Summary is one line about a finished (or current) run: its phase, wall
// time, and how many steps ran and how many came from the cache.
func Summary(wf *wfv1.Workflow, steps []runstatus.Step) string {
	ran, cached, failed := 0, 0, 0
	for _, s := range steps {
		switch {
		case s.Cached():
			cached++
		case s.Phase == wfv1.NodeFailed || s.Phase == wfv1.NodeError:
			failed++
			ran++
		case s.Phase == wfv1.NodeSucceeded:
			ran++
		}
	}
	verb := "steps ran"
	if ran == 1 {
		verb = "step ran"
	}
	line := fmt.Sprintf("run %s/%s %s in %s: %d %s, %d from the cache", wf.Namespace, wf.Name, phaseOf(wf),
		elapsed(wf, time.Now()).Round(100*time.Millisecond), ran, verb, cached)
	if failed > 0 {
		line += fmt.Sprintf(", %d failed", failed)
	}
	if wf.Status.Message != "" && wf.Status.Phase != wfv1.WorkflowSucceeded {
		line += ": " + oneLine(wf.Status.Message, 200)
	}
	return line
}

func oneLine(s string, max int) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > max {
		s = s[:max-3] + "..."
	}
	return s
}
