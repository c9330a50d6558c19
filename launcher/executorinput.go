package launcher

import (
	"github.com/kfpargo/kfpargo/artifact"
	"github.com/kfpargo/kfpargo/step"
)

// The ExecutorInput and ExecutorOutput messages as KFP's protojson writes
// them, the contract of lightweight Python components ({{$}}).

// ExecutorInput is what `--executor_input {{$}}` receives.
type ExecutorInput struct {
	Inputs  ExecutorInputs  `json:"inputs"`
	Outputs ExecutorOutputs `json:"outputs"`
}

// ExecutorInputs holds input values and artifacts.
type ExecutorInputs struct {
	ParameterValues map[string]any          `json:"parameterValues,omitempty"`
	Artifacts       map[string]ArtifactList `json:"artifacts,omitempty"`
}

// ExecutorOutputs says where outputs go.
type ExecutorOutputs struct {
	Parameters map[string]OutputParameter `json:"parameters,omitempty"`
	Artifacts  map[string]ArtifactList    `json:"artifacts,omitempty"`
	OutputFile string                     `json:"outputFile"`
}

// OutputParameter names the file an output parameter is written to.
type OutputParameter struct {
	OutputFile string `json:"outputFile"`
}

// ArtifactList is KFP's RuntimeArtifactList.
type ArtifactList struct {
	Artifacts []RuntimeArtifact `json:"artifacts"`
}

// RuntimeArtifact is one artifact as the SDK sees it.
type RuntimeArtifact struct {
	Name     string         `json:"name"`
	Type     ArtifactType   `json:"type"`
	URI      string         `json:"uri"`
	Metadata map[string]any `json:"metadata"`
	// CustomPath is where the component wrote an output artifact instead
	// of its local path (the SDK's artifact.set_path()); executor output only.
	CustomPath string `json:"custom_path,omitempty"`
}

// ArtifactType is the artifact's schema title.
type ArtifactType struct {
	SchemaTitle string `json:"schemaTitle"`
}

// ExecutorOutput is what a component may write to outputs.outputFile.
type ExecutorOutput struct {
	ParameterValues map[string]any          `json:"parameterValues"`
	Artifacts       map[string]ArtifactList `json:"artifacts"`
}

// buildExecutorInput assembles the ExecutorInput for a step whose output
// artifacts will be written at outURIs.
func buildExecutorInput(s *step.Spec, l Layout, outURIs map[string]string) *ExecutorInput {
	ei := &ExecutorInput{
		Inputs: ExecutorInputs{ParameterValues: map[string]any{}, Artifacts: map[string]ArtifactList{}},
		Outputs: ExecutorOutputs{
			Parameters: map[string]OutputParameter{},
			Artifacts:  map[string]ArtifactList{},
			OutputFile: l.ExecutorOutputFile(),
		},
	}
	for name, p := range s.Params {
		if p.Present {
			ei.Inputs.ParameterValues[name] = p.Value
		}
	}
	for name, a := range s.Artifacts {
		if a.Present {
			ei.Inputs.Artifacts[name] = runtimeArtifacts(name, a)
		}
	}
	for name := range s.OutputParams {
		ei.Outputs.Parameters[name] = OutputParameter{OutputFile: l.UserParamFile(name)}
	}
	for name, schema := range s.OutputArtifacts {
		ei.Outputs.Artifacts[name] = ArtifactList{Artifacts: []RuntimeArtifact{runtimeArtifact(name, schema, outURIs[name], nil)}}
	}
	return ei
}

func runtimeArtifacts(name string, a step.InputArtifact) ArtifactList {
	l := ArtifactList{Artifacts: []RuntimeArtifact{}}
	for _, d := range a.Items {
		l.Artifacts = append(l.Artifacts, runtimeArtifact(name, a.SchemaTitle, d.URI, d.Metadata))
	}
	return l
}

func runtimeArtifact(name, schema, uri string, md map[string]any) RuntimeArtifact {
	if md == nil {
		md = map[string]any{}
	}
	return RuntimeArtifact{Name: name, Type: ArtifactType{SchemaTitle: schema}, URI: uri, Metadata: md}
}

// descriptorFor returns d's metadata, never nil.
func metadataOf(d *artifact.Descriptor) map[string]any {
	if d == nil || d.Metadata == nil {
		return map[string]any{}
	}
	return d.Metadata
}
