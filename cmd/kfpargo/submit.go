package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/spf13/cobra"
	"golang.org/x/term"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"github.com/kfpargo/kfpargo/runstatus"
	"github.com/kfpargo/kfpargo/runwatch"
)

// LabelExperiment groups runs into an experiment (kfpargo list
// --experiment, kfpargo compare); a label, so Argo's UI and kubectl -l can
// select by it too.
const LabelExperiment = "kfpargo.io/experiment"

// runFailed is a run that finished without succeeding (exit 3).
type runFailed struct{ ns, name, phase string }

func (e runFailed) Error() string {
	return fmt.Sprintf("run %s/%s %s", e.ns, e.name, e.phase)
}

type submitFlags struct {
	compile    compileFlags
	cluster    clusterFlags
	experiment string
	watch      bool
	from       string
	interval   time.Duration
}

func newSubmitCommand() *cobra.Command {
	return submitCommand("submit", false)
}

func newRunCommand() *cobra.Command {
	return submitCommand("run", true)
}

// submitCommand is submit (watch on request) or run (compile, submit and
// watch in one).
func submitCommand(name string, watch bool) *cobra.Command {
	f := submitFlags{watch: watch}
	short := "Submit a pipeline as a run (an Argo Workflow), optionally watching it to the end"
	long := `Submits a run of a pipeline: PIPELINE is a KFP pipeline spec (compiled on the way, with the
same flags as kfpargo compile), a Workflow that kfpargo compile wrote, or - for standard
input; --from workflowtemplate/NAME starts a run of a registered pipeline instead (kfpargo
compile --kind workflowtemplate, applied to the cluster).

With --watch the run's steps are shown as they progress: a table redrawn in place on a
terminal (phase, duration, whether the step ran or came from the cache, its pod), one line
per change otherwise; at the end a summary says how many steps ran and how many were served
from the cache. --experiment puts the run in an experiment (the label kfpargo.io/experiment),
which kfpargo list and kfpargo compare select by.`
	examples := `  kfpargo submit pipeline.yaml --param hidden_units=256 --experiment mnist
  kfpargo submit pipeline.yaml -n team-a --watch
  kfpargo compile pipeline.yaml > run.yaml && kfpargo submit run.yaml
  kfpargo submit --from workflowtemplate/seed-mnist --param epochs=3 --watch`
	if name == "run" {
		short = "Compile, submit and watch a pipeline run in one (kfpargo submit --watch)"
		long = `Compiles PIPELINE, submits it and watches it to the end: kfpargo submit --watch.

` + long
		examples = `  kfpargo run examples/seed-mnist/pipeline.yaml --experiment mnist
  kfpargo run pipeline.yaml --param hidden_units=256 --experiment mnist -n team-a
  kfpargo run pipeline.yaml --no-cache`
	}
	cmd := &cobra.Command{
		Use:   name + " PIPELINE [--param NAME=VALUE]... [--experiment NAME] [-n NAMESPACE]",
		Short: short,
		Long: long + `

Exit codes: 0 submitted (with --watch: the run succeeded); 1 the cluster could not be reached
or refused the run; 2 invalid input (spec, flags, unknown parameter); 3 the run finished
without succeeding (--watch).`,
		Example: examples,
		Args: func(cmd *cobra.Command, args []string) error {
			switch {
			case f.from != "" && len(args) > 0:
				return usageError{fmt.Errorf("give PIPELINE or --from, not both")}
			case f.from == "" && len(args) != 1:
				return usageError{fmt.Errorf("%s takes one PIPELINE (a spec, a compiled Workflow or -), got %d arguments; see kfpargo %s --help", name, len(args), name)}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			file := ""
			if len(args) == 1 {
				file = args[0]
			}
			return runSubmit(cmd, file, &f)
		},
	}
	fl := cmd.Flags()
	f.compile.addTranslationFlags(fl)
	f.cluster.add(cmd)
	f.cluster.addNamespace(cmd)
	fl.StringVar(&f.experiment, "experiment", "", "put the run in this experiment (label "+LabelExperiment+")")
	fl.BoolVarP(&f.watch, "watch", "w", watch, "show the run's progress until it ends; the exit code is then the run's result")
	if name == "submit" {
		fl.StringVar(&f.from, "from", "", "start a run of a registered pipeline: workflowtemplate/NAME")
	}
	fl.DurationVar(&f.interval, "interval", time.Second, "how often --watch reads the run")
	return cmd
}

func runSubmit(cmd *cobra.Command, file string, f *submitFlags) error {
	if f.experiment != "" {
		if errs := validation.IsValidLabelValue(f.experiment); len(errs) > 0 {
			return usageError{fmt.Errorf("--experiment %q: %s", f.experiment, strings.Join(errs, "; "))}
		}
	}
	var wf *wfv1.Workflow
	var err error
	switch {
	case f.from != "":
		wf, err = fromTemplate(f.from, f.compile.params)
	default:
		wf, err = workflowToSubmit(cmd, file, f.compile)
	}
	if err != nil {
		return err
	}
	if f.experiment != "" {
		if wf.Labels == nil {
			wf.Labels = map[string]string{}
		}
		wf.Labels[LabelExperiment] = f.experiment
	}
	c, ns, server, err := f.cluster.runClients()
	if err != nil {
		return err
	}
	ctx, cancel := signalContext()
	defer cancel()
	created, err := runstatus.Submit(ctx, c, ns, wf)
	if err != nil {
		return clusterError(err, server, ns, wf.GenerateName)
	}
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "run %s/%s submitted\n", ns, created.Name)
	if !f.watch {
		return nil
	}
	tty := false
	if o, ok := out.(*os.File); ok {
		tty = term.IsTerminal(int(o.Fd()))
	}
	done, _, err := runwatch.Follow(ctx, c, ns, created.Name, f.interval, runwatch.New(out, tty))
	if err != nil {
		return err
	}
	if done.Status.Phase != wfv1.WorkflowSucceeded {
		return runFailed{ns: ns, name: created.Name, phase: string(done.Status.Phase)}
	}
	return nil
}

// workflowToSubmit is PIPELINE as a Workflow: a compiled Workflow as it
// is (with --param applied to its arguments), else a spec compiled now.
func workflowToSubmit(cmd *cobra.Command, file string, cf compileFlags) (*wfv1.Workflow, error) {
	data, err := readInput(cmd.InOrStdin(), file)
	if err != nil {
		return nil, usageError{err}
	}
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if yaml.Unmarshal(data, &head) == nil && strings.HasPrefix(head.APIVersion, "argoproj.io/") {
		if head.Kind != "Workflow" {
			return nil, usageError{fmt.Errorf("%s: a %s; submit takes a pipeline spec or a Workflow (a WorkflowTemplate is started with --from workflowtemplate/NAME)", file, head.Kind)}
		}
		var wf wfv1.Workflow
		if err := yaml.UnmarshalStrict(data, &wf); err != nil {
			return nil, usageError{fmt.Errorf("%s: %w", file, err)}
		}
		if err := setArguments(&wf.Spec.Arguments, cf.params, file); err != nil {
			return nil, err
		}
		return &wf, nil
	}
	cf.kind = "workflow"
	obj, err := compileFile(cmd, file, cf)
	if err != nil {
		return nil, err
	}
	wf, ok := obj.(*wfv1.Workflow)
	if !ok {
		return nil, fmt.Errorf("compile %s: got %T, not a Workflow", file, obj)
	}
	return wf, nil
}

// fromTemplate is a run of a registered pipeline.
func fromTemplate(ref string, params []string) (*wfv1.Workflow, error) {
	kind, name, ok := strings.Cut(ref, "/")
	if !ok || name == "" || !strings.EqualFold(kind, "workflowtemplate") {
		return nil, usageError{fmt.Errorf("--from %q: want workflowtemplate/NAME", ref)}
	}
	wf := &wfv1.Workflow{
		ObjectMeta: metav1.ObjectMeta{GenerateName: name + "-"},
		Spec:       wfv1.WorkflowSpec{WorkflowTemplateRef: &wfv1.WorkflowTemplateRef{Name: name}},
	}
	for _, kv := range params {
		k, v, err := splitParam(kv)
		if err != nil {
			return nil, err
		}
		wf.Spec.Arguments.Parameters = append(wf.Spec.Arguments.Parameters, wfv1.Parameter{Name: k, Value: wfv1.AnyStringPtr(v)})
	}
	return wf, nil
}

// setArguments overrides a compiled Workflow's arguments; a name it does
// not have is an error (a typo would otherwise be ignored).
func setArguments(args *wfv1.Arguments, params []string, file string) error {
	for _, kv := range params {
		k, v, err := splitParam(kv)
		if err != nil {
			return err
		}
		found := false
		var names []string
		for i := range args.Parameters {
			names = append(names, args.Parameters[i].Name)
			if args.Parameters[i].Name == k {
				args.Parameters[i].Value = wfv1.AnyStringPtr(v)
				found = true
			}
		}
		if !found {
			return usageError{fmt.Errorf("--param %s: %s has no parameter %q (it has: %s)", kv, file, k, strings.Join(names, ", "))}
		}
	}
	return nil
}
