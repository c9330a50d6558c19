package main

import (
	"fmt"
	"strings"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

type scheduleFlags struct {
	compile     compileFlags
	cluster     clusterFlags
	name        string
	experiment  string
	concurrency string
}

func newScheduleCommand() *cobra.Command {
	var f scheduleFlags
	cmd := &cobra.Command{
		Use:   "schedule PIPELINE --cron SCHEDULE [--timezone TZ] [--concurrency-policy Allow|Forbid|Replace]",
		Short: "Run a pipeline on a schedule (an Argo CronWorkflow)",
		Long: `Compiles PIPELINE (with the same flags as kfpargo compile) into an Argo CronWorkflow and
creates it: Argo then starts a run at every time the cron schedule names. --experiment puts
every run in an experiment. --concurrency-policy says what happens when a run is still going
at the next time: Allow another, Forbid (skip this time) or Replace the running one.
Delete it with kubectl delete cronworkflow NAME (or argo cron delete NAME).

Exit codes: 0 created; 1 the cluster could not be reached or refused it; 2 invalid input.`,
		Example: `  kfpargo schedule pipeline.yaml --cron '0 3 * * *' --timezone Europe/Berlin --experiment nightly
  kfpargo schedule pipeline.yaml --cron '*/30 * * * *' --concurrency-policy Forbid --name retrain`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{fmt.Errorf("schedule takes one PIPELINE, got %d arguments", len(args))}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error { return runSchedule(cmd, args[0], &f) },
	}
	fl := cmd.Flags()
	f.compile.addTranslationFlags(fl)
	f.cluster.add(cmd)
	f.cluster.addNamespace(cmd)
	fl.StringVar(&f.compile.schedule, "cron", "", "cron schedule, e.g. '0 3 * * *' (required)")
	fl.StringVar(&f.compile.timezone, "timezone", "", "IANA time zone of the schedule (default: the controller's)")
	fl.StringVar(&f.concurrency, "concurrency-policy", "Allow", "when a run is still going at the next time: Allow, Forbid or Replace")
	fl.StringVar(&f.name, "name", "", "name of the CronWorkflow (default: the pipeline's name)")
	fl.StringVar(&f.experiment, "experiment", "", "put every run in this experiment (label "+LabelExperiment+")")
	return cmd
}

func runSchedule(cmd *cobra.Command, file string, f *scheduleFlags) error {
	if f.compile.schedule == "" {
		return usageError{fmt.Errorf("--cron is required: the schedule, e.g. '0 3 * * *'")}
	}
	policy := wfv1.ConcurrencyPolicy(f.concurrency)
	switch policy {
	case wfv1.AllowConcurrent, wfv1.ForbidConcurrent, wfv1.ReplaceConcurrent:
	default:
		return usageError{fmt.Errorf("--concurrency-policy %q: want Allow, Forbid or Replace", f.concurrency)}
	}
	if f.experiment != "" {
		if errs := validation.IsValidLabelValue(f.experiment); len(errs) > 0 {
			return usageError{fmt.Errorf("--experiment %q: %s", f.experiment, strings.Join(errs, "; "))}
		}
	}
	if f.name != "" {
		if errs := validation.IsDNS1123Subdomain(f.name); len(errs) > 0 {
			return usageError{fmt.Errorf("--name %q: %s", f.name, strings.Join(errs, "; "))}
		}
	}
	f.compile.kind = "cronworkflow"
	obj, err := compileFile(cmd, file, f.compile)
	if err != nil {
		return err
	}
	cw, ok := obj.(*wfv1.CronWorkflow)
	if !ok {
		return fmt.Errorf("compile %s: got %T, not a CronWorkflow", file, obj)
	}
	cw.Spec.ConcurrencyPolicy = policy
	if f.name != "" {
		cw.Name, cw.GenerateName = f.name, ""
	}
	if f.experiment != "" {
		if cw.Spec.WorkflowMetadata == nil {
			cw.Spec.WorkflowMetadata = &metav1.ObjectMeta{}
		}
		if cw.Spec.WorkflowMetadata.Labels == nil {
			cw.Spec.WorkflowMetadata.Labels = map[string]string{}
		}
		cw.Spec.WorkflowMetadata.Labels[LabelExperiment] = f.experiment
	}
	c, ns, server, err := f.cluster.runClients()
	if err != nil {
		return err
	}
	ctx, cancel := signalContext()
	defer cancel()
	created, err := c.Argo.ArgoprojV1alpha1().CronWorkflows(ns).Create(ctx, cw, metav1.CreateOptions{})
	if err != nil {
		return clusterError(err, server, ns, cw.Name)
	}
	tz := created.Spec.Timezone
	if tz == "" {
		tz = "the controller's time zone"
	}
	fmt.Fprintf(cmd.OutOrStdout(), "cronworkflow %s/%s created: runs at %q (%s), concurrency %s\n",
		ns, created.Name, strings.Join(created.Spec.GetSchedules(ctx), ", "), tz, created.Spec.ConcurrencyPolicy)
	return nil
}
