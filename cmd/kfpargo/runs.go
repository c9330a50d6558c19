package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"

	"github.com/kfpargo/kfpargo/runview"
)

// labelPipeline marks the Workflows kfpargo compiled (translator sets it).
const labelPipeline = "kfpargo.io/pipeline"

func newGetCommand() *cobra.Command {
	var cf clusterFlags
	var output string
	cmd := &cobra.Command{
		Use:   "get RUN [-o table|json|yaml]",
		Short: "Show a run: its steps, cache decisions, parameters, artifacts and metrics",
		Long: `Shows one run (an Argo Workflow compiled by kfpargo): its parameters; each step's phase,
duration, pod and cache decision (hit, miss or skip, with the reason and the cache key);
each step's input and output parameters, artifacts (URI, size, SHA-256) and metrics.
-o json and -o yaml print the same as a document (fields documented in package runview).

Exit codes: 0 shown; 1 unknown run or no cluster reachable; 2 bad flags.`,
		Example: `  kfpargo get seed-mnist-x7k2p
  kfpargo get seed-mnist-x7k2p -n team-a -o json | jq '.steps[] | {name, cached}'`,
		Args: oneRun("get"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "table" && output != "json" && output != "yaml" {
				return usageError{fmt.Errorf("--output %q: want table, json or yaml", output)}
			}
			c, ns, server, err := cf.runClients()
			if err != nil {
				return err
			}
			ctx, cancel := signalContext()
			defer cancel()
			r, err := loadRun(ctx, c, server, ns, args[0], cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			return printRun(cmd.OutOrStdout(), r, output)
		},
	}
	cf.add(cmd)
	cf.addNamespace(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "table", "table, json or yaml")
	return cmd
}

func oneRun(name string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != 1 {
			return usageError{fmt.Errorf("%s takes one RUN (the Workflow's name), got %d arguments", name, len(args))}
		}
		return nil
	}
}

func printRun(w io.Writer, r *runview.Run, output string) error {
	switch output {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	case "yaml":
		b, err := yaml.Marshal(r)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	fmt.Fprintf(w, "Run:         %s/%s\n", r.Namespace, r.Name)
	fmt.Fprintf(w, "Pipeline:    %s\n", orDash(r.Pipeline))
	fmt.Fprintf(w, "Experiment:  %s\n", orDash(r.Experiment))
	fmt.Fprintf(w, "Phase:       %s", r.Phase)
	if r.Message != "" && r.Phase != string(wfv1.WorkflowSucceeded) {
		fmt.Fprintf(w, " (%s)", r.Message)
	}
	fmt.Fprintln(w)
	if !r.Started.IsZero() {
		fmt.Fprintf(w, "Started:     %s, took %s\n", r.Started.Local().Format(time.RFC3339), seconds(r.DurationSeconds))
	}
	if len(r.Parameters) > 0 {
		fmt.Fprintln(w, "Parameters:")
		for _, p := range r.Parameters {
			fmt.Fprintf(w, "  %s = %s\n", p.Name, p.Value)
		}
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tPHASE\tDURATION\tCACHE\tKEY\tPOD")
	for _, s := range r.Steps {
		decision, key := "-", "-"
		if s.Cache != nil {
			decision = s.Cache.Decision
			if s.Cache.Key != "" {
				key = shortKey(s.Cache.Key)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.Label(), s.Phase, seconds(s.DurationSeconds), decision, key, podOf(s))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, s := range r.Steps {
		if len(s.Inputs)+len(s.Outputs)+len(s.Artifacts)+len(s.Metrics) == 0 && (s.Cache == nil || s.Cache.Reason == "") {
			continue
		}
		fmt.Fprintf(w, "\n%s:\n", s.Label())
		if s.Cache != nil && s.Cache.Reason != "" {
			fmt.Fprintf(w, "  cache: %s: %s\n", s.Cache.Decision, s.Cache.Reason)
		}
		for _, p := range s.Inputs {
			fmt.Fprintf(w, "  in   %s = %s\n", p.Name, oneLineValue(p.Value))
		}
		for _, p := range s.Outputs {
			fmt.Fprintf(w, "  out  %s = %s\n", p.Name, oneLineValue(p.Value))
		}
		for _, a := range s.Artifacts {
			dir := "in "
			if a.Direction == runview.Output {
				dir = "out"
			}
			sum := "-"
			if a.SHA256 != "" {
				sum = "sha256:" + a.SHA256[:min(12, len(a.SHA256))]
			}
			fmt.Fprintf(w, "  %s  %s (%s) %s, %s, %s\n", dir, a.Name, orDash(a.SchemaTitle), a.URI, runview.FormatSize(a.Size), sum)
		}
		for _, m := range s.Metrics {
			fmt.Fprintf(w, "  metric %s = %s\n", m.Name, m.Text())
		}
	}
	return nil
}

func podOf(s runview.Step) string {
	return orDash(s.Pod)
}

func newListCommand() *cobra.Command {
	var cf clusterFlags
	var experiment string
	var all bool
	cmd := &cobra.Command{
		Use:   "list [--experiment NAME] [-n NAMESPACE | -A]",
		Short: "List runs, newest first, with their experiment, phase and how many steps came from the cache",
		Long: `Lists the runs kfpargo submitted (Workflows labelled kfpargo.io/pipeline), newest first:
pipeline, experiment, phase, start, duration, and how many of the steps were served from the
cache.

Exit codes: 0 listed (also when there is none); 1 no cluster reachable; 2 bad flags.`,
		Example: `  kfpargo list
  kfpargo list --experiment mnist
  kfpargo list -A`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, ns, server, err := cf.runClients()
			if err != nil {
				return err
			}
			if all {
				ns = metav1.NamespaceAll
			}
			sel := labels.Set{}
			if experiment != "" {
				sel[LabelExperiment] = experiment
			}
			selector := labelPipeline
			if len(sel) > 0 {
				selector += "," + sel.String()
			}
			ctx, cancel := signalContext()
			defer cancel()
			wfs, err := c.Argo.ArgoprojV1alpha1().Workflows(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
			if err != nil {
				return clusterError(err, server, ns, "")
			}
			cached := map[string]int{}
			pods, err := c.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "kfpargo.io/cached=true"})
			if err == nil {
				for _, p := range pods.Items {
					cached[p.Namespace+"/"+p.Labels["workflows.argoproj.io/workflow"]]++
				}
			}
			return writeRunList(cmd.OutOrStdout(), wfs.Items, cached, all, time.Now())
		},
	}
	cf.add(cmd)
	cf.addNamespace(cmd)
	cmd.Flags().StringVar(&experiment, "experiment", "", "only the runs of this experiment")
	cmd.Flags().BoolVarP(&all, "all-namespaces", "A", false, "runs of every namespace")
	return cmd
}

// writeRunList prints runs newest first; cached counts the replayed
// steps per NAMESPACE/RUN.
func writeRunList(w io.Writer, wfs []wfv1.Workflow, cached map[string]int, withNamespace bool, now time.Time) error {
	if len(wfs) == 0 {
		_, err := fmt.Fprintln(w, "no runs")
		return err
	}
	sort.Slice(wfs, func(i, j int) bool {
		return wfs[j].CreationTimestamp.Before(&wfs[i].CreationTimestamp)
	})
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	head := "NAME\tPIPELINE\tEXPERIMENT\tPHASE\tSTARTED\tDURATION\tSTEPS\tCACHED"
	if withNamespace {
		head = "NAMESPACE\t" + head
	}
	fmt.Fprintln(tw, head)
	for _, wf := range wfs {
		steps := 0
		for _, n := range wf.Status.Nodes {
			if n.Type == wfv1.NodeTypePod {
				steps++
			}
		}
		started, dur := "-", "-"
		if !wf.Status.StartedAt.IsZero() {
			started = ago(now.Sub(wf.Status.StartedAt.Time)) + " ago"
			end := wf.Status.FinishedAt.Time
			if end.IsZero() {
				end = now
			}
			dur = end.Sub(wf.Status.StartedAt.Time).Round(time.Second).String()
		}
		phase := string(wf.Status.Phase)
		if phase == "" {
			phase = string(wfv1.WorkflowPending)
		}
		row := fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d", wf.Name, orDash(wf.Labels[labelPipeline]), orDash(wf.Labels[LabelExperiment]),
			phase, started, dur, steps, cached[wf.Namespace+"/"+wf.Name])
		if withNamespace {
			row = wf.Namespace + "\t" + row
		}
		fmt.Fprintln(tw, row)
	}
	return tw.Flush()
}

func newCompareCommand() *cobra.Command {
	var cf clusterFlags
	var output string
	var diffOnly bool
	cmd := &cobra.Command{
		Use:   "compare RUN RUN...",
		Short: "Compare runs: parameters and metrics side by side",
		Long: `Lines two or more runs up side by side: a row per run parameter and per metric (STEP/METRIC),
a column per run; rows whose values differ are marked with *. -o json prints the same table
as a document.

Exit codes: 0 compared; 1 an unknown run or no cluster reachable; 2 bad flags.`,
		Example: `  kfpargo compare seed-mnist-x7k2p seed-mnist-q8w4n
  kfpargo compare $(kfpargo list --experiment mnist | awk 'NR>1 {print $1}') --diff`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 2 {
				return usageError{fmt.Errorf("compare takes two or more RUNs, got %d", len(args))}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "table" && output != "json" {
				return usageError{fmt.Errorf("--output %q: want table or json", output)}
			}
			c, ns, server, err := cf.runClients()
			if err != nil {
				return err
			}
			ctx, cancel := signalContext()
			defer cancel()
			var runs []*runview.Run
			for _, name := range args {
				r, err := loadRun(ctx, c, server, ns, name, cmd.ErrOrStderr())
				if err != nil {
					return err
				}
				runs = append(runs, r)
			}
			cmp := runview.Compare(runs)
			if output == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(cmp)
			}
			return writeComparison(cmd.OutOrStdout(), cmp, diffOnly)
		},
	}
	cf.add(cmd)
	cf.addNamespace(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "table", "table or json")
	cmd.Flags().BoolVar(&diffOnly, "diff", false, "only the rows whose values differ")
	return cmd
}

func writeComparison(w io.Writer, c *runview.Comparison, diffOnly bool) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "\t%s\n", strings.Join(append([]string{"KIND"}, c.Runs...), "\t"))
	for _, row := range c.Rows {
		if diffOnly && !row.Differs {
			continue
		}
		mark := " "
		if row.Differs {
			mark = "*"
		}
		cells := []string{mark + " " + row.Name, row.Kind}
		for _, v := range row.Values {
			if v == nil {
				cells = append(cells, "-")
			} else {
				cells = append(cells, oneLineValue(*v))
			}
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func seconds(s float64) string {
	if s <= 0 {
		return "-"
	}
	return (time.Duration(s * float64(time.Second))).Round(100 * time.Millisecond).String()
}

func shortKey(k string) string {
	if len(k) > 12 {
		return k[:12]
	}
	return k
}

func oneLineValue(v string) string {
	v = strings.ReplaceAll(v, "\n", " ")
	if len(v) > 80 {
		v = v[:77] + "..."
	}
	return v
}

func ago(d time.Duration) string {
	switch {
	case d < time.Minute:
		return d.Round(time.Second).String()
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}
