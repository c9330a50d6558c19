package translator

import "github.com/kfpargo/kfpargo/ir"

// perPodComponents names the executor components that some task runs more
// than once per run under the same IR task name: inside a loop, in a
// sub-pipeline used twice, or in two sub-pipelines that reuse a task name.
// The launcher names output URIs after the task, so those templates get
// --per-pod-outputs and put the pod name in the URI as well.
func perPodComponents(spec *ir.PipelineSpec) map[string]bool {
	runs := map[string]int{}            // IR task name -> executions (2 = "more than one")
	components := map[string][]string{} // executor component -> IR task names running it
	var visit func(d *ir.ComponentSpec, repeated bool, depth int)
	visit = func(d *ir.ComponentSpec, repeated bool, depth int) {
		if d == nil || d.DAG == nil || depth > 64 {
			return
		}
		for name, task := range d.DAG.Tasks {
			rep := repeated || task.ParameterIterator != nil || task.ArtifactIterator != nil
			runs[name]++
			if rep {
				runs[name]++
			}
			comp := spec.Components[task.ComponentRef.Name]
			if comp == nil {
				continue
			}
			if comp.DAG != nil {
				visit(comp, rep, depth+1)
				continue
			}
			components[task.ComponentRef.Name] = append(components[task.ComponentRef.Name], name)
		}
	}
	visit(spec.Root, false, 0)
	out := map[string]bool{}
	for comp, names := range components {
		for _, n := range names {
			if runs[n] > 1 {
				out[comp] = true
			}
		}
	}
	return out
}
