// Command dumprun writes a finished run (its Workflow and pods) as a JSON
// fixture for runview's and report's tests, trimmed to what they read:
// templates, managed fields and pod specs are left out.
//
//	make stack-up && . .stack/env
//	go run ./test/cmd/dumprun -pipeline runview/testdata/mnist-classification.yaml -param load_seconds=2 > run1.json
//	go run ./test/cmd/dumprun RUN > run.json   # a run that already finished
//
// Namespace, object store and launcher image come from the environment as
// for test/e2e (runner.TargetFromEnv).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kfpargo/kfpargo/runstatus"
	"github.com/kfpargo/kfpargo/runview"
	"github.com/kfpargo/kfpargo/runview/fixture"
	"github.com/kfpargo/kfpargo/test/runner"
)

func main() {
	pipeline := flag.String("pipeline", "", "run this pipeline spec first, then dump its run")
	experiment := flag.String("experiment", "", "label the run with this experiment")
	params := map[string]string{}
	flag.Func("param", "pipeline argument NAME=VALUE (repeatable)", func(s string) error {
		k, v, ok := strings.Cut(s, "=")
		if !ok {
			return fmt.Errorf("want NAME=VALUE, got %q", s)
		}
		params[k] = v
		return nil
	})
	flag.Parse()
	if (*pipeline == "") == (flag.NArg() != 1) {
		fmt.Fprintln(os.Stderr, "usage: dumprun -pipeline SPEC [-param K=V]... | dumprun WORKFLOW")
		os.Exit(2)
	}
	if err := dump(*pipeline, params, *experiment, flag.Arg(0)); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func dump(pipeline string, params map[string]string, experiment, name string) error {
	ctx := context.Background()
	t, err := runner.TargetFromEnv()
	if err != nil {
		return err
	}
	if pipeline != "" {
		wf, err := t.Compile(pipeline, params)
		if err != nil {
			return err
		}
		if experiment != "" {
			wf.Labels[runview.LabelExperiment] = experiment
		}
		res, err := t.Run(ctx, wf, os.Stderr)
		if err != nil {
			return err
		}
		name = res.Workflow.Name
	}
	wf, err := t.Clients.Argo.ArgoprojV1alpha1().Workflows(t.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	pods, err := runstatus.Pods(ctx, t.Clients, t.Namespace, name)
	if err != nil {
		return err
	}
	f := fixture.Run{Workflow: *wf}
	f.Workflow.ManagedFields = nil
	f.Workflow.Spec.Templates = nil
	f.Workflow.Status.StoredTemplates = nil
	for _, p := range pods {
		f.Pods = append(f.Pods, corev1.Pod{ObjectMeta: metav1.ObjectMeta{
			Name: p.Name, Namespace: p.Namespace, CreationTimestamp: p.CreationTimestamp,
			Labels: p.Labels, Annotations: p.Annotations,
		}})
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(f)
}
