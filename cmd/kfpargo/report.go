package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	htmlreport "github.com/kfpargo/kfpargo/report"
	"github.com/kfpargo/kfpargo/runstatus"
	"github.com/kfpargo/kfpargo/runview"
)

// loadRun reads a run's Workflow and pods and builds its view. A Workflow
// whose values cannot all be read still gives a run; the problems are
// warned about on stderr.
func loadRun(ctx context.Context, c runstatus.Clients, server, ns, name string, stderr io.Writer) (*runview.Run, error) {
	wf, err := c.Argo.ArgoprojV1alpha1().Workflows(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, clusterError(err, server, ns, name)
	}
	pods, err := runstatus.Pods(ctx, c, ns, name)
	if err != nil {
		return nil, clusterError(err, server, ns, name)
	}
	return viewOf(wf, pods, stderr)
}

func viewOf(wf *wfv1.Workflow, pods []corev1.Pod, stderr io.Writer) (*runview.Run, error) {
	r, err := runview.FromWorkflow(wf, pods)
	if r == nil {
		return nil, err
	}
	if err != nil {
		fmt.Fprintf(stderr, "warning: run %s/%s: %v\n", wf.Namespace, wf.Name, err)
	}
	return r, nil
}

// clusterError says what went wrong in the user's terms: the run is not
// there, or the cluster is not.
func clusterError(err error, server, ns, name string) error {
	switch {
	case apierrors.IsNotFound(err):
		return fmt.Errorf("run %q not found in namespace %q (server %s)", name, ns, server)
	case apierrors.IsForbidden(err), apierrors.IsUnauthorized(err):
		return fmt.Errorf("run %s/%s: not allowed: %w", ns, name, err)
	}
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		return fmt.Errorf("run %s/%s: %w", ns, name, err)
	}
	return fmt.Errorf("cannot reach the cluster at %s: %w", server, err)
}

func newReportCommand() *cobra.Command {
	var cf clusterFlags
	var output string
	cmd := &cobra.Command{
		Use:   "report RUN -o FILE",
		Short: "Write a run's report as one self-contained HTML file",
		Long: `Writes one HTML file about a run (an Argo Workflow compiled by kfpargo): the pipeline's graph
with each step's phase and the steps served from the cache marked, per-step timing bars,
the run's parameters, each step's inputs, outputs and artifacts (URI, size, SHA-256), and the
logged metrics as tables and charts (a confusion matrix and a ROC curve for
ClassificationMetrics). The file has no external assets: it opens offline and can be
attached to a ticket.

Exit codes: 0 written; 1 the run or the cluster could not be read, or the file not written;
2 bad flags.`,
		Example: `  kfpargo report seed-mnist-x7k2p -o report.html
  kfpargo report seed-mnist-x7k2p -n team-a --context prod -o /tmp/run.html
  kfpargo report seed-mnist-x7k2p -o - > run.html`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{fmt.Errorf("report takes one RUN (the Workflow's name), got %d arguments", len(args))}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if output == "" {
				return usageError{errors.New("--output (-o) is required: the HTML file to write, or - for stdout")}
			}
			c, ns, server, err := cf.runClients()
			if err != nil {
				return err
			}
			r, err := loadRun(cmd.Context(), c, server, ns, args[0], cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			return writeReport(r, output, cmd.OutOrStdout())
		},
	}
	cf.add(cmd)
	cf.addNamespace(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "", "HTML file to write (- for stdout)")
	return cmd
}

func writeReport(r *runview.Run, output string, stdout io.Writer) error {
	var b bytes.Buffer
	if err := htmlreport.Render(&b, r); err != nil {
		return err
	}
	if output == "-" {
		_, err := stdout.Write(b.Bytes())
		return err
	}
	if err := os.WriteFile(output, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("--output: %w", err)
	}
	return nil
}
