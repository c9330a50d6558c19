package translator

import (
	"strconv"

	"github.com/kfpargo/kfpargo/ir"
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
	}
	if out := c.OutputDefinitions; out != nil {
		t.checkNames(at+".outputDefinitions.parameters", sortedKeys(out.Parameters))
		t.checkNames(at+".outputDefinitions.artifacts", sortedKeys(out.Artifacts))
	}
	if c.DAG == nil {
		return
	}
	if out := c.DAG.Outputs; out != nil {
		t.checkNames(at+".dag.outputs.parameters", sortedKeys(out.Parameters))
		t.checkNames(at+".dag.outputs.artifacts", sortedKeys(out.Artifacts))
	}
	for _, task := range sortedKeys(c.DAG.Tasks) {
		if in := c.DAG.Tasks[task].Inputs; in != nil {
			tat := at + ".dag.tasks." + task + ".inputs"
			t.checkNames(tat+".parameters", sortedKeys(in.Parameters))
			t.checkNames(tat+".artifacts", sortedKeys(in.Artifacts))
		}
	}
}

func (t *translation) checkNames(at string, names []string) {
	for _, n := range names {
		if !validArgoParamName(n) {
			t.fail(at+"["+strconv.Quote(n)+"]", "Argo accepts only letters, digits, '_' and '-' in parameter and artifact names")
		}
	}
}

func validArgoParamName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '-' || c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
