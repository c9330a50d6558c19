package translator

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/kfpargo/kfpargo/ir"
)

// generated builds a pipeline of n container tasks in layers of ten: every
// task reads a parameter and an artifact from one task of the layer before.
func generated(n int) *ir.Pipeline {
	spec := &ir.PipelineSpec{
		PipelineInfo:  ir.PipelineInfo{Name: fmt.Sprintf("generated-%d", n)},
		SchemaVersion: "2.1.0",
		DeploymentSpec: ir.DeploymentSpec{Executors: map[string]*ir.ExecutorSpec{
			"exec-step": {Container: &ir.ContainerSpec{Image: "python:3.11", Command: []string{"sh", "-c", "cat \"$0\" > \"$1\"; echo 1 > \"$2\""},
				Args: []string{"{{$.inputs.artifacts['data'].path}}", "{{$.outputs.artifacts['data'].path}}", "{{$.outputs.parameters['n'].output_file}}"}}},
		}},
		Components: map[string]*ir.ComponentSpec{
			"comp-step": {
				ExecutorLabel: "exec-step",
				InputDefinitions: &ir.InputsSpec{
					Parameters: map[string]*ir.ParameterSpec{"n": {ParameterType: ir.TypeInteger, DefaultValue: 0.0}},
					Artifacts:  map[string]*ir.ArtifactSpec{"data": {ArtifactType: ir.ArtifactTypeSchema{SchemaTitle: "system.Dataset"}, IsOptional: true}},
				},
				OutputDefinitions: &ir.OutputsSpec{
					Parameters: map[string]*ir.ParameterSpec{"n": {ParameterType: ir.TypeInteger}},
					Artifacts:  map[string]*ir.ArtifactSpec{"data": {ArtifactType: ir.ArtifactTypeSchema{SchemaTitle: "system.Dataset"}}},
				},
			},
		},
		Root: &ir.ComponentSpec{DAG: &ir.DAGSpec{Tasks: map[string]*ir.TaskSpec{}}},
	}
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("step-%d", i)
		task := &ir.TaskSpec{TaskInfo: ir.TaskInfo{Name: name}, ComponentRef: ir.ComponentRef{Name: "comp-step"}}
		if i >= 10 {
			up := fmt.Sprintf("step-%d", i-10+(i%3))
			task.Inputs = &ir.TaskInputsSpec{
				Parameters: map[string]*ir.InputParameterSpec{"n": {TaskOutputParameter: &ir.TaskOutputParameterRef{ProducerTask: up, OutputParameterKey: "n"}}},
				Artifacts:  map[string]*ir.InputArtifactSpec{"data": {TaskOutputArtifact: &ir.TaskOutputArtifactRef{ProducerTask: up, OutputArtifactKey: "data"}}},
			}
			task.DependentTasks = []string{up}
		}
		spec.Root.DAG.Tasks[name] = task
	}
	return &ir.Pipeline{Spec: spec}
}

// BenchmarkCompile times translation plus YAML emission, per task, for
// generated pipelines; compare the per-task figure across sizes.
func BenchmarkCompile(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		p := generated(n)
		b.Run(fmt.Sprintf("tasks=%d", n), func(b *testing.B) {
			var size int
			for i := 0; i < b.N; i++ {
				wf, err := Translate(p, Options{})
				if err != nil {
					b.Fatal(err)
				}
				out, err := MarshalYAML(wf)
				if err != nil {
					b.Fatal(err)
				}
				size = len(out)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/task")
			b.ReportMetric(float64(size), "bytes")
		})
	}
}

// BenchmarkCompileCorpus times parse + translate + emit over every corpus
// spec that translates today.
func BenchmarkCompileCorpus(b *testing.B) {
	root := filepath.Join(corpusDir, "valid")
	var inputs [][]byte
	var names []string
	_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		p, err := ir.Parse(path, data)
		if err != nil {
			return nil
		}
		if _, err := Translate(p, Options{Params: requiredParams(p)}); err == nil {
			inputs, names = append(inputs, data), append(names, path)
		}
		return nil
	})
	if len(inputs) == 0 {
		b.Skip("no corpus")
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j, data := range inputs {
			p, err := ir.Parse(names[j], data)
			if err != nil {
				b.Fatal(err)
			}
			wf, err := Translate(p, Options{Params: requiredParams(p)})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := MarshalYAML(wf); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(len(inputs)), "specs")
}

func TestGeneratedValidates(t *testing.T) {
	wf, err := Translate(generated(50), Options{})
	if err != nil {
		t.Fatal(err)
	}
	argoValidate(t, wf)
}
