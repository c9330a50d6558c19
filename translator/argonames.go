package translator

import (
	"strconv"
	"strings"

	"github.com/kfpargo/kfpargo/ir"
	"github.com/kfpargo/kfpargo/step"
)

// checkArgoNames rejects input and output names that Argo cannot carry.
// The translator uses them unchanged as Argo parameter names, which Argo
// restricts to letters, digits, '_' and '-'. The SDK derives them from
// Python identifiers, so only hand-written specs (or non-ASCII identifiers)
// reach this error; without it Argo would reject the whole Workflow at
// submission with a message that names no IR field.
func (t *translation) checkArgoNames() {
	t.checkComponentNames("root", t.spec.Root)
	for _, name := range sortedKeys(t.spec.Components) {
		t.checkComponentNames("components."+name, t.spec.Components[name])
	}
}

func (t *translation) checkComponentNames(at string, c *ir.ComponentSpec) {
	if c == nil {
		return
	}
	if in := c.InputDefinitions; in != nil {
		t.checkNames(at+".inputDefinitions.parameters", sortedKeys(in.Parameters))
		t.checkNames(at+".inputDefinitions.artifacts", sortedKeys(in.Artifacts))
		t.checkCollisions(at+".inputDefinitions", in.Parameters, in.Artifacts, step.TaskParam, itemsParam)
	}
	if out := c.OutputDefinitions; out != nil {
		t.checkNames(at+".outputDefinitions.parameters", sortedKeys(out.Parameters))
		t.checkNames(at+".outputDefinitions.artifacts", sortedKeys(out.Artifacts))
		t.checkCollisions(at+".outputDefinitions", out.Parameters, out.Artifacts)
	}
	if c.DAG == nil {
		return
	}
	if out := c.DAG.Outputs; out != nil {
		t.checkNames(at+".dag.outputs.parameters", sortedKeys(out.Parameters))
		t.checkNames(at+".dag.outputs.artifacts", sortedKeys(out.Artifacts))
	}
	for _, task := range sortedKeys(c.DAG.Tasks) {
		if !pathElement(task) {
			t.fail(at+".dag.tasks["+strconv.Quote(task)+"]", "a task name is part of its outputs' paths (ROOT/NAMESPACE/RUN/TASK/OUTPUT): it cannot be '.' or '..', hold '/', '\\' or NUL, or be longer than %d bytes", step.MaxNameBytes)
		}
		if in := c.DAG.Tasks[task].Inputs; in != nil {
			tat := at + ".dag.tasks." + task + ".inputs"
			t.checkNames(tat+".parameters", sortedKeys(in.Parameters))
			t.checkNames(tat+".artifacts", sortedKeys(in.Artifacts))
		}
	}
}

// checkCollisions rejects a parameter whose name is the Argo name of one of
// the artifacts beside it (artifacts travel as parameters "artifact-NAME")
// or a name the translator itself gives template inputs: Argo would accept
// the duplicate and both would read one value.
func (t *translation) checkCollisions(at string, params map[string]*ir.ParameterSpec, arts map[string]*ir.ArtifactSpec, reserved ...string) {
	taken := map[string]string{}
	for _, r := range reserved {
		taken[r] = "a name kfpargo uses itself"
	}
	for _, a := range sortedKeys(arts) {
		taken[step.ArtifactParam(a)] = "the Argo name of artifact " + strconv.Quote(a)
	}
	for _, p := range sortedKeys(params) {
		if why, ok := taken[p]; ok {
			t.fail(at+".parameters["+strconv.Quote(p)+"]", "the name is %s; rename the parameter", why)
		}
	}
}

func (t *translation) checkNames(at string, names []string) {
	for _, n := range names {
		if !validArgoParamName(n) {
			t.fail(at+"["+strconv.Quote(n)+"]", "Argo accepts only letters, digits, '_' and '-' in parameter and artifact names, and the launcher at most %d of them (the name becomes a file name)", step.MaxNameBytes)
		}
	}
}

// pathElement is the launcher's rule for the task part of an object key
// and local path (launcher.keyPart), with the length a file name allows.
func pathElement(s string) bool {
	return s != "" && s != "." && s != ".." && len(s) <= step.MaxNameBytes && !strings.ContainsAny(s, "/\\\x00")
}

func validArgoParamName(s string) bool { return step.ValidName(s) }
