package runwatch

import (
	"context"
	"fmt"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kfpargo/kfpargo/runstatus"
)

// Follow polls the run every interval, showing it on d, until it has
// finished (and the display its final state) or ctx ends. Errors reading
// the run are retried until ctx ends: an apiserver that restarts does not
// end the watch.
func Follow(ctx context.Context, c runstatus.Clients, ns, name string, interval time.Duration, d *Display) (*wfv1.Workflow, []runstatus.Step, error) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var lastErr error
	for {
		wf, err := c.Argo.ArgoprojV1alpha1().Workflows(ns).Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			var steps []runstatus.Step
			podList, perr := runstatus.Pods(ctx, c, ns, name)
			if perr == nil {
				steps = runstatus.Steps(wf, podList)
			} else {
				steps = runstatus.Steps(wf, nil)
			}
			if wf.Status.Fulfilled() {
				return wf, steps, d.Finish(wf, steps)
			}
			if err := d.Update(wf, steps); err != nil {
				return wf, steps, err
			}
		}
		lastErr = err
		select {
		case <-ctx.Done():
			if lastErr != nil {
				return nil, nil, fmt.Errorf("watch run %s/%s: %w (last error: %v)", ns, name, ctx.Err(), lastErr)
			}
			return nil, nil, fmt.Errorf("watch run %s/%s: %w", ns, name, ctx.Err())
		case <-tick.C:
		}
	}
}
