package translator

import (
	"fmt"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kfpargo/kfpargo/ir"
)

// TranslateObject produces the kind Options asks for: a Workflow (one run),
// a WorkflowTemplate (a registered pipeline, submitted later with its
// arguments) or a CronWorkflow (recurring runs on Options.Schedule).
func TranslateObject(p *ir.Pipeline, opts Options) (runtime.Object, error) {
	kind := opts.Kind
	if kind == "" {
		kind = KindWorkflow
	}
	switch kind {
	case KindWorkflow, KindWorkflowTemplate, KindCronWorkflow:
	default:
		return nil, ir.Errors{{Path: "--kind", Msg: fmt.Sprintf("unknown kind %q (expected workflow, workflowtemplate or cronworkflow)", kind)}}
	}
	if kind == KindCronWorkflow && opts.Schedule == "" {
		return nil, ir.Errors{{Path: "--schedule", Msg: "a cronworkflow needs a schedule, e.g. --schedule '0 3 * * *'"}}
	}
	if kind != KindCronWorkflow && opts.Schedule != "" {
		return nil, ir.Errors{{Path: "--schedule", Msg: "only a cronworkflow has a schedule"}}
	}
	opts.Kind = KindWorkflow
	// A registered pipeline may leave required inputs to submit time.
	opts.allowMissingInputs = kind == KindWorkflowTemplate
	wf, err := Translate(p, opts)
	if err != nil {
		return nil, err
	}
	name := dnsName(p.Spec.PipelineInfo.Name)
	meta := metav1.ObjectMeta{Name: name, Labels: wf.Labels, Annotations: wf.Annotations}
	switch kind {
	case KindWorkflowTemplate:
		return &wfv1.WorkflowTemplate{
			TypeMeta:   metav1.TypeMeta{APIVersion: "argoproj.io/v1alpha1", Kind: "WorkflowTemplate"},
			ObjectMeta: meta,
			Spec:       wf.Spec,
		}, nil
	case KindCronWorkflow:
		return &wfv1.CronWorkflow{
			TypeMeta:   metav1.TypeMeta{APIVersion: "argoproj.io/v1alpha1", Kind: "CronWorkflow"},
			ObjectMeta: meta,
			Spec: wfv1.CronWorkflowSpec{
				Schedules:        []string{opts.Schedule},
				Timezone:         opts.Timezone,
				WorkflowSpec:     wf.Spec,
				WorkflowMetadata: &metav1.ObjectMeta{Labels: wf.Labels, Annotations: wf.Annotations},
			},
		}, nil
	}
	return wf, nil
}
