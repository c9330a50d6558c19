package translator

import (
	"math"
	"strconv"
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
		{"../x", `root.inputDefinitions.parameters["../x"]: Argo accepts only`},
		{strings.Repeat("n", 201), "and the launcher at most 200 of them"},
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

// Each parameter value reaches its step as one command-line argument, and
// Linux refuses to start a process with an argument over 128 KiB: the pod
// fails with Argo's "argument list too long" and no word about which value
// (argoproj/argo-workflows#15471). Values known when compiling are checked
// then, with the IR field or flag at fault named.
func TestHugeParameterValues(t *testing.T) {
	huge := strings.Repeat("x", 1<<20)
	for _, tc := range []struct {
		name string
		edit func(p *ir.Pipeline, o *Options)
		want string // empty: accepted
	}{
		{"99 KiB default is accepted", func(p *ir.Pipeline, o *Options) {
			p.Spec.Root.InputDefinitions = &ir.InputsSpec{Parameters: map[string]*ir.ParameterSpec{"s": {ParameterType: ir.TypeString, DefaultValue: strings.Repeat("x", 99<<10)}}}
		}, ""},
		{"1 MiB pipeline input default", func(p *ir.Pipeline, o *Options) {
			p.Spec.Root.InputDefinitions = &ir.InputsSpec{Parameters: map[string]*ir.ParameterSpec{"s": {ParameterType: ir.TypeString, DefaultValue: huge}}}
		}, "root.inputDefinitions.parameters.s: value of 1048576 bytes is larger than the 102400 a parameter can carry"},
		{"16 MiB --param", func(p *ir.Pipeline, o *Options) {
			p.Spec.Root.InputDefinitions = &ir.InputsSpec{Parameters: map[string]*ir.ParameterSpec{"s": {ParameterType: ir.TypeString, DefaultValue: "x"}}}
			o.Params = map[string]string{"s": strings.Repeat("y", 16<<20)}
		}, "--param s: value of 16777216 bytes is larger than the 102400 a parameter can carry"},
		{"--param that is not UTF-8", func(p *ir.Pipeline, o *Options) {
			p.Spec.Root.InputDefinitions = &ir.InputsSpec{Parameters: map[string]*ir.ParameterSpec{"s": {ParameterType: ir.TypeString, DefaultValue: "x"}}}
			o.Params = map[string]string{"s": "ok\xff"}
		}, "--param s: value is not UTF-8 text: byte 0xff at offset 2"},
		{"1 MiB list default (JSON-encoded)", func(p *ir.Pipeline, o *Options) {
			items := make([]any, 200_000)
			for i := range items {
				items[i] = "abc"
			}
			p.Spec.Root.InputDefinitions = &ir.InputsSpec{Parameters: map[string]*ir.ParameterSpec{"l": {ParameterType: ir.TypeList, DefaultValue: items}}}
		}, "root.inputDefinitions.parameters.l: value of 1200001 bytes"},
		{"1 MiB component default", func(p *ir.Pipeline, o *Options) {
			p.Spec.Components["comp-step"].InputDefinitions.Parameters["s"] = &ir.ParameterSpec{ParameterType: ir.TypeString, DefaultValue: huge}
		}, "components.comp-step.inputDefinitions.parameters.s.defaultValue: value of 1048576 bytes"},
		{"1 MiB task constant", func(p *ir.Pipeline, o *Options) {
			p.Spec.Root.DAG.Tasks["step-0"].Inputs = &ir.TaskInputsSpec{Parameters: map[string]*ir.InputParameterSpec{"n": {RuntimeValue: &ir.RuntimeValue{Constant: huge}}}}
			p.Spec.Components["comp-step"].InputDefinitions.Parameters["n"].ParameterType = ir.TypeString
		}, "value of 1048576 bytes is larger than the 102400 a parameter can carry"},
		{"200 KiB command argument", func(p *ir.Pipeline, o *Options) {
			c := p.Spec.DeploymentSpec.Executors["exec-step"].Container
			c.Command = []string{"python3", "-c", strings.Repeat("#", 200<<10)}
		}, "deploymentSpec.executors.exec-step.container.command[2]: an argument of 204800 bytes, larger than the 131071 Linux passes to a process"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := generated(1)
			var o Options
			tc.edit(p, &o)
			_, err := Translate(p, o)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %.300v", err)
			case tc.want == "":
			case err == nil:
				t.Fatalf("accepted, want %q", tc.want)
			case !strings.Contains(err.Error(), tc.want):
				t.Fatalf("got %.300v\nwant %q", err, tc.want)
			case len(err.Error()) > 2000:
				t.Fatalf("error of %d bytes repeats the value", len(err.Error()))
			}
		})
	}
}

// A task's IR name is a path element of its outputs' object keys and local
// paths (ROOT/NAMESPACE/RUN/TASK/OUTPUT); the launcher refuses one that is
// not, so the run would fail at its first step with outputs.
func TestTaskNamesThatAreNotPathElements(t *testing.T) {
	for _, name := range []string{"..", ".", "../x", "a/b", `a\b`, "a\x00b", strings.Repeat("t", 201)} {
		p := generated(1)
		task := p.Spec.Root.DAG.Tasks["step-0"]
		delete(p.Spec.Root.DAG.Tasks, "step-0")
		p.Spec.Root.DAG.Tasks[name] = task
		want := `root.dag.tasks[` + strconv.Quote(name) + `]: a task name is part of its outputs' paths`
		if _, err := Translate(p, Options{}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%.40q: got %.300v, want %q", name, err, want)
		}
	}
	p := generated(1)
	p.Spec.Root.DAG.Tasks["ünï-task_1.v2"] = p.Spec.Root.DAG.Tasks["step-0"]
	delete(p.Spec.Root.DAG.Tasks, "step-0")
	if _, err := Translate(p, Options{}); err != nil {
		t.Errorf("a name with dots and non-ASCII letters was refused: %v", err)
	}
}

// A trigger condition is parsed by recursive descent: without a bound, a
// condition of a million '(' ended kfpargo with a fatal stack overflow,
// which no recover catches, and a long '!' chain took quadratic time.
func TestCELNesting(t *testing.T) {
	for _, tc := range []struct {
		name, cel, want string
	}{
		{"50 parentheses", strings.Repeat("(", 50) + "true" + strings.Repeat(")", 50), ""},
		{"50 negations", strings.Repeat("!", 50) + "true", ""},
		{"1 000 000 parentheses", strings.Repeat("(", 1_000_000) + "true" + strings.Repeat(")", 1_000_000), "at offset 200: nested deeper than 200 levels"},
		{"100 000 negations", strings.Repeat("!", 100_000) + "true", "at offset 200: nested deeper than 200 levels"},
		{"100 000 minus signs", strings.Repeat("-", 100_000) + "1 > 0", "nested deeper than 200 levels"},
		{"100 000 nested calls", strings.Repeat("int(", 100_000) + "1" + strings.Repeat(")", 100_000) + " > 0", "nested deeper than 200 levels"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := celCondition(tc.cel, testResolver)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %.300v, want %q", err, tc.want)
			}
		})
	}
}
