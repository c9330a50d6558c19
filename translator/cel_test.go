package translator

import (
	"encoding/json"
	"strings"
	"testing"

	argotemplate "github.com/argoproj/argo-workflows/v3/util/template"
)

// testResolver binds the names used in the tests: "in-*" are DAG inputs,
// "task-*" upstream outputs and "const" a constant.
func testResolver(name string) (celRef, error) {
	switch {
	case strings.HasPrefix(name, "in-"):
		return celRef{code: "inputs.parameters[" + exprString(name) + "]", scope: scopeInputs}, nil
	case strings.HasPrefix(name, "task-"):
		return celRef{code: "tasks[" + exprString(name) + "].outputs.parameters[\"Output\"]", scope: scopeTasks}, nil
	case name == "const":
		return celRef{code: exprString("it's {{x}}")}, nil
	}
	return celRef{}, errUnknown(name)
}

type errUnknown string

func (e errUnknown) Error() string { return "no input " + string(e) }

// evalWhen evaluates a translated condition with Argo's own template
// substitution, the way the controller does before it reads `when`.
func evalWhen(t *testing.T, when string, vars map[string]string) string {
	t.Helper()
	doc, _ := json.Marshal(map[string]string{"when": when})
	out, err := argotemplate.Replace(string(doc), vars, true)
	if err != nil {
		t.Fatalf("Argo substitution of %s: %v", when, err)
	}
	var got map[string]string
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	return got["when"]
}

func TestCELCondition(t *testing.T) {
	for _, tc := range []struct {
		cel   string
		vars  map[string]string
		want  string
		scope celScope
	}{
		{`inputs.parameter_values['in-coin'] == 'heads'`, map[string]string{"inputs.parameters.in-coin": "heads"}, "true", scopeInputs},
		{`inputs.parameter_values['in-coin'] == 'heads'`, map[string]string{"inputs.parameters.in-coin": `it's "tails"`}, "false", scopeInputs},
		{`inputs.parameter_values['in-coin'] != 'no-such-result'`, map[string]string{"inputs.parameters.in-coin": "x' || 'a' == 'a"}, "true", scopeInputs},
		{`int(inputs.parameter_values['task-rand']) > 5`, map[string]string{"tasks.task-rand.outputs.parameters.Output": "7"}, "true", scopeTasks},
		{`int(inputs.parameter_values['task-rand']) <= 5`, map[string]string{"tasks.task-rand.outputs.parameters.Output": "7"}, "false", scopeTasks},
		{`int(inputs.parameter_values['in-a']) >= int(inputs.parameter_values['task-b'])`,
			map[string]string{"inputs.parameters.in-a": "3", "tasks.task-b.outputs.parameters.Output": "3"}, "true", scopeTasks},
		{`!(inputs.parameter_values['in-x'] == 'heads') && !(inputs.parameter_values['in-x'] == 'tails')`, map[string]string{"inputs.parameters.in-x": "side"}, "true", scopeInputs},
		{`!(inputs.parameter_values['in-x'] == 'heads') && inputs.parameter_values['in-x'] == 'tails'`, map[string]string{"inputs.parameters.in-x": "heads"}, "false", scopeInputs},
		{`inputs.parameter_values['in-x'] == 'a' || inputs.parameter_values['in-x'] == 'b'`, map[string]string{"inputs.parameters.in-x": "b"}, "true", scopeInputs},
		{`double(inputs.parameters['in-f']) < 0.5`, map[string]string{"inputs.parameters.in-f": "0.25"}, "true", scopeInputs},
		{`inputs.parameter_values['in-n'] == 3`, map[string]string{"inputs.parameters.in-n": "3"}, "true", scopeInputs},
		{`inputs.parameter_values['in-b'] == true`, map[string]string{"inputs.parameters.in-b": "true"}, "true", scopeInputs},
		{`inputs.parameter_values['in-b']`, map[string]string{"inputs.parameters.in-b": "false"}, "false", scopeInputs},
		{`inputs.parameter_values['const'] == "it's {{x}}"`, nil, "true", scopeNone},
		{`parseJson(inputs.parameter_values['in-s'])["a"] == 'heads'`, map[string]string{"inputs.parameters.in-s": `{"a":"heads"}`}, "true", scopeInputs},
		{`int(inputs.parameter_values['in-s']) == -1`, map[string]string{"inputs.parameters.in-s": "-1"}, "true", scopeInputs},
	} {
		code, scope, err := celCondition(tc.cel, testResolver)
		if err != nil {
			t.Errorf("%s: %v", tc.cel, err)
			continue
		}
		if scope != tc.scope {
			t.Errorf("%s: scope %d, want %d", tc.cel, scope, tc.scope)
		}
		if got := evalWhen(t, "{{="+code+"}}", tc.vars); got != tc.want {
			t.Errorf("%s\n  as %s\n  = %q, want %q", tc.cel, code, got, tc.want)
		}
	}
}

// A condition over a task output is not evaluated while the DAG's inputs
// are substituted (Argo does not know the task yet); it must survive that
// step unchanged.
func TestCELConditionWaitsForTasks(t *testing.T) {
	code, _, err := celCondition(`inputs.parameter_values['task-a'] == inputs.parameter_values['in-b']`, testResolver)
	if err != nil {
		t.Fatal(err)
	}
	when := "{{=" + code + "}}"
	if got := evalWhen(t, when, map[string]string{"inputs.parameters.in-b": "x"}); got != when {
		t.Fatalf("evaluated too early: %q", got)
	}
	if got := evalWhen(t, when, map[string]string{"inputs.parameters.in-b": "x", "tasks.task-a.outputs.parameters.Output": "x"}); got != "true" {
		t.Fatalf("got %q", got)
	}
}

func TestCELErrors(t *testing.T) {
	for _, tc := range []struct{ cel, want string }{
		{`inputs.parameter_values['nope'] == 'a'`, "no input nope"},
		{`size(inputs.parameter_values['in-a']) > 1`, "unsupported function size()"},
		{`inputs.parameter_values['in-a'] == 'a`, "unterminated string"},
		{`inputs.parameter_values['in-a'] == `, "unexpected end"},
		{`inputs.parameter_values['in-a'] == 'a')`, "unexpected ')'"},
		{`foo == 1`, `unsupported identifier "foo"`},
		{`inputs.parameter_values['in-a'] in ['a']`, "unexpected in"},
		{`1 # 2`, "unexpected character"},
		{`('a'`, "expected ')'"},
	} {
		_, _, err := celCondition(tc.cel, testResolver)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.cel, err, tc.want)
		}
	}
}

func FuzzCELCondition(f *testing.F) {
	for _, s := range []string{
		`inputs.parameter_values['in-a'] == 'heads'`,
		`!(int(inputs.parameters['task-b']) >= 3) || double(inputs.parameter_values['in-c']) < 1.5`,
		`parseJson(string_value)["a"]`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		code, _, err := celCondition(s, testResolver)
		if err == nil && strings.Contains(code, "}}") {
			t.Fatalf("%q gave code that ends the Argo tag early: %s", s, code)
		}
	})
}

func TestFinalStatus(t *testing.T) {
	for _, tc := range []struct {
		phase, state string
		message      string
	}{{"Succeeded", "COMPLETE", ""}, {"Failed", "FAILED", "Failed"}, {"Error", "FAILED", "Error"}, {"Omitted", "COMPLETE", ""}} {
		got := evalWhen(t, finalStatus("exit-handler-1", "exit-handler-1"), map[string]string{
			"tasks.exit-handler-1.status": tc.phase, "workflow.name": "run-x",
		})
		var st struct {
			State                   string `json:"state"`
			PipelineJobResourceName string `json:"pipelineJobResourceName"`
			PipelineTaskName        string `json:"pipelineTaskName"`
			Error                   struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal([]byte(got), &st); err != nil {
			t.Fatalf("%s: %q is not JSON: %v", tc.phase, got, err)
		}
		if st.State != tc.state || st.Error.Message != tc.message || st.PipelineJobResourceName != "run-x" || st.PipelineTaskName != "exit-handler-1" {
			t.Errorf("%s: got %+v", tc.phase, st)
		}
	}
}
