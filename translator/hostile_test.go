package translator

import (
	"math"
	"strings"
	"testing"

	"github.com/kfpargo/kfpargo/ir"
)

// Found by FuzzTranslate: numbers Argo stores as int32 wrapped silently.
func TestRetryStrategyBounds(t *testing.T) {
	for _, tc := range []struct {
		in   ir.RetryPolicy
		want string
	}{
		{ir.RetryPolicy{MaxRetryCount: -1}, "maxRetryCount: -1 is not between 0"},
		{ir.RetryPolicy{MaxRetryCount: math.MaxInt32 + 1}, "maxRetryCount: 2147483648 is not between 0"},
		{ir.RetryPolicy{MaxRetryCount: 1, BackoffFactor: math.NaN()}, "backoffFactor: NaN is not between 0"},
		{ir.RetryPolicy{MaxRetryCount: 1, BackoffFactor: -2}, "backoffFactor: -2 is not between 0"},
		{ir.RetryPolicy{MaxRetryCount: 1, BackoffFactor: 1e10}, "backoffFactor: 1e+10 is not between 0"},
	} {
		if _, err := retryStrategy(&tc.in); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: got %v, want %q", tc.in, err, tc.want)
		}
	}
}

// Found by FuzzTranslate: an input name Argo cannot carry made Argo reject
// the whole Workflow without naming the IR field.
func TestNamesArgoCannotCarry(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{"m s", `root.inputDefinitions.parameters["m s"]: Argo accepts only letters, digits, '_' and '-'`},
		{"ünï", `root.inputDefinitions.parameters["ünï"]`},
		{"a.b", `components.comp-step.inputDefinitions.parameters["a.b"]`},
	} {
		p := generated(1)
		p.Spec.Root.InputDefinitions = &ir.InputsSpec{Parameters: map[string]*ir.ParameterSpec{
			tc.name: {ParameterType: ir.TypeString, DefaultValue: "x"},
		}}
		comp := p.Spec.Components["comp-step"]
		comp.InputDefinitions.Parameters[tc.name] = &ir.ParameterSpec{ParameterType: ir.TypeString, IsOptional: true}
		if _, err := Translate(p, Options{}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.name, err, tc.want)
		}
	}
}

// Artifacts travel as Argo parameters named artifact-NAME, so a parameter
// of that name would silently share the artifact's value.
func TestNamesThatCollide(t *testing.T) {
	for _, tc := range []struct {
		param, want string
	}{
		{"artifact-data", `components.comp-step.inputDefinitions.parameters["artifact-data"]: the name is the Argo name of artifact "data"`},
		{"kfpargo-task", `components.comp-step.inputDefinitions.parameters["kfpargo-task"]: the name is a name kfpargo uses itself`},
	} {
		p := generated(1)
		p.Spec.Components["comp-step"].InputDefinitions.Parameters[tc.param] = &ir.ParameterSpec{ParameterType: ir.TypeString, IsOptional: true}
		if _, err := Translate(p, Options{}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.param, err, tc.want)
		}
	}
}
