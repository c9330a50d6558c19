package ir

// PipelineSpec is the first document of a compiled pipeline.
type PipelineSpec struct {
	PipelineInfo        PipelineInfo              `json:"pipelineInfo"`
	SchemaVersion       string                    `json:"schemaVersion"`
	SDKVersion          string                    `json:"sdkVersion"`
	DefaultPipelineRoot string                    `json:"defaultPipelineRoot"`
	DeploymentSpec      DeploymentSpec            `json:"deploymentSpec"`
	Components          map[string]*ComponentSpec `json:"components"`
	Root                *ComponentSpec            `json:"root"`
}

// PipelineInfo names the pipeline.
type PipelineInfo struct {
	Name        string `json:"name"`
	DisplayName string `json:"displayName"`
	Description string `json:"description"`
}

// DeploymentSpec holds the executors, keyed by executor label.
type DeploymentSpec struct {
	Executors map[string]*ExecutorSpec `json:"executors"`
}

// ExecutorSpec is a oneof: exactly one field is set.
type ExecutorSpec struct {
	Container *ContainerSpec `json:"container"`
	Importer  *ImporterSpec  `json:"importer"`
	Resolver  *ResolverSpec  `json:"resolver"`
	CustomJob any            `json:"customJob"`
}

// ContainerSpec is a container executor.
type ContainerSpec struct {
	Image     string     `json:"image"`
	Command   []string   `json:"command"`
	Args      []string   `json:"args"`
	Env       []EnvVar   `json:"env"`
	Lifecycle *Lifecycle `json:"lifecycle"`
	Resources *Resources `json:"resources"`
}

// EnvVar is a literal environment variable of a container executor.
type EnvVar struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Lifecycle holds container lifecycle hooks.
type Lifecycle struct {
	PreCacheCheck *ExecHook `json:"preCacheCheck"`
}

// ExecHook is a command run by a lifecycle hook.
type ExecHook struct {
	Command []string `json:"command"`
	Args    []string `json:"args"`
}

// Resources are a container executor's resource settings. The string fields
// may hold placeholders resolved at run time; the float fields are deprecated.
type Resources struct {
	CPULimit              float64      `json:"cpuLimit"`
	MemoryLimit           float64      `json:"memoryLimit"`
	CPURequest            float64      `json:"cpuRequest"`
	MemoryRequest         float64      `json:"memoryRequest"`
	ResourceCPULimit      string       `json:"resourceCpuLimit"`
	ResourceCPURequest    string       `json:"resourceCpuRequest"`
	ResourceMemoryLimit   string       `json:"resourceMemoryLimit"`
	ResourceMemoryRequest string       `json:"resourceMemoryRequest"`
	Accelerator           *Accelerator `json:"accelerator"`
}

// Accelerator requests accelerators; Type and Count are deprecated.
type Accelerator struct {
	Type          string `json:"type"`
	Count         int64  `json:"count"`
	ResourceType  string `json:"resourceType"`
	ResourceCount string `json:"resourceCount"`
}

// ImporterSpec brings an existing artifact into the pipeline.
type ImporterSpec struct {
	ArtifactURI         *ValueOrRuntimeParameter `json:"artifactUri"`
	TypeSchema          ArtifactTypeSchema       `json:"typeSchema"`
	Metadata            map[string]any           `json:"metadata"`
	Reimport            bool                     `json:"reimport"`
	DownloadToWorkspace bool                     `json:"downloadToWorkspace"`
	Properties          map[string]any           `json:"properties"`
	CustomProperties    map[string]any           `json:"customProperties"`
}

// ValueOrRuntimeParameter is either a constant or a runtime parameter name.
type ValueOrRuntimeParameter struct {
	Constant         any    `json:"constant"`
	RuntimeParameter string `json:"runtimeParameter"`
	ConstantValue    any    `json:"constantValue"`
}

// ResolverSpec queries artifacts from metadata (unused by compiled pipelines).
type ResolverSpec struct {
	OutputArtifactQueries map[string]*ArtifactQuery `json:"outputArtifactQueries"`
}

// ArtifactQuery is one resolver query.
type ArtifactQuery struct {
	Filter string `json:"filter"`
	Limit  int64  `json:"limit"`
}

// ComponentSpec is either an executor component or a DAG.
type ComponentSpec struct {
	InputDefinitions       *InputsSpec  `json:"inputDefinitions"`
	OutputDefinitions      *OutputsSpec `json:"outputDefinitions"`
	ExecutorLabel          string       `json:"executorLabel"`
	DAG                    *DAGSpec     `json:"dag"`
	SinglePlatformSpecs    []any        `json:"singlePlatformSpecs"`
	TaskConfigPassthroughs []any        `json:"taskConfigPassthroughs"`
}

// InputsSpec declares a component's inputs.
type InputsSpec struct {
	Parameters map[string]*ParameterSpec `json:"parameters"`
	Artifacts  map[string]*ArtifactSpec  `json:"artifacts"`
}

// OutputsSpec declares a component's outputs.
type OutputsSpec struct {
	Parameters map[string]*ParameterSpec `json:"parameters"`
	Artifacts  map[string]*ArtifactSpec  `json:"artifacts"`
}

// ParameterSpec declares one parameter.
type ParameterSpec struct {
	ParameterType ParameterType `json:"parameterType"`
	DefaultValue  any           `json:"defaultValue"`
	IsOptional    bool          `json:"isOptional"`
	Description   string        `json:"description"`
	Literals      []any         `json:"literals"`
	// Type is the pre-2.0 primitive type (INT, DOUBLE, STRING).
	Type string `json:"type"`
}

// HasDefault reports whether the spec carries a default value.
func (p *ParameterSpec) HasDefault() bool { return p.DefaultValue != nil }

// ArtifactSpec declares one artifact.
type ArtifactSpec struct {
	ArtifactType   ArtifactTypeSchema `json:"artifactType"`
	IsArtifactList bool               `json:"isArtifactList"`
	IsOptional     bool               `json:"isOptional"`
	Description    string             `json:"description"`
	Metadata       map[string]any     `json:"metadata"`
}

// ArtifactTypeSchema names an artifact type such as system.Dataset.
type ArtifactTypeSchema struct {
	SchemaTitle    string `json:"schemaTitle"`
	InstanceSchema string `json:"instanceSchema"`
	SchemaURI      string `json:"schemaUri"`
	SchemaVersion  string `json:"schemaVersion"`
}

// DAGSpec is a DAG component's body.
type DAGSpec struct {
	Tasks   map[string]*TaskSpec `json:"tasks"`
	Outputs *DAGOutputsSpec      `json:"outputs"`
}

// DAGOutputsSpec maps a DAG's outputs to its subtasks' outputs.
type DAGOutputsSpec struct {
	Parameters map[string]*DAGOutputParameterSpec `json:"parameters"`
	Artifacts  map[string]*DAGOutputArtifactSpec  `json:"artifacts"`
}

// DAGOutputParameterSpec is a oneof.
type DAGOutputParameterSpec struct {
	ValueFromParameter *ParameterSelector `json:"valueFromParameter"`
	ValueFromOneof     *ParameterOneof    `json:"valueFromOneof"`
}

// ParameterSelector points at a subtask's output parameter.
type ParameterSelector struct {
	ProducerSubtask    string `json:"producerSubtask"`
	OutputParameterKey string `json:"outputParameterKey"`
}

// ParameterOneof is dsl.OneOf over parameters.
type ParameterOneof struct {
	ParameterSelectors []ParameterSelector `json:"parameterSelectors"`
}

// DAGOutputArtifactSpec lists artifact selectors; more than one is dsl.OneOf.
type DAGOutputArtifactSpec struct {
	ArtifactSelectors []ArtifactSelector `json:"artifactSelectors"`
}

// ArtifactSelector points at a subtask's output artifact.
type ArtifactSelector struct {
	ProducerSubtask   string `json:"producerSubtask"`
	OutputArtifactKey string `json:"outputArtifactKey"`
}

// TaskSpec is one task of a DAG.
type TaskSpec struct {
	TaskInfo          TaskInfo           `json:"taskInfo"`
	ComponentRef      ComponentRef       `json:"componentRef"`
	DependentTasks    []string           `json:"dependentTasks"`
	Inputs            *TaskInputsSpec    `json:"inputs"`
	CachingOptions    *CachingOptions    `json:"cachingOptions"`
	TriggerPolicy     *TriggerPolicy     `json:"triggerPolicy"`
	ParameterIterator *ParameterIterator `json:"parameterIterator"`
	ArtifactIterator  *ArtifactIterator  `json:"artifactIterator"`
	IteratorPolicy    *IteratorPolicy    `json:"iteratorPolicy"`
	RetryPolicy       *RetryPolicy       `json:"retryPolicy"`
}

// TaskInfo carries the task's display name.
type TaskInfo struct {
	Name string `json:"name"`
}

// ComponentRef names the component a task runs.
type ComponentRef struct {
	Name string `json:"name"`
}

// TaskInputsSpec binds a task's inputs.
type TaskInputsSpec struct {
	Parameters map[string]*InputParameterSpec `json:"parameters"`
	Artifacts  map[string]*InputArtifactSpec  `json:"artifacts"`
}

// InputParameterSpec is a oneof over the sources of a parameter.
type InputParameterSpec struct {
	TaskOutputParameter         *TaskOutputParameterRef `json:"taskOutputParameter"`
	RuntimeValue                *RuntimeValue           `json:"runtimeValue"`
	ComponentInputParameter     string                  `json:"componentInputParameter"`
	TaskFinalStatus             *TaskFinalStatusRef     `json:"taskFinalStatus"`
	ParameterExpressionSelector string                  `json:"parameterExpressionSelector"`
}

// TaskOutputParameterRef points at an upstream task's output parameter.
type TaskOutputParameterRef struct {
	ProducerTask       string `json:"producerTask"`
	OutputParameterKey string `json:"outputParameterKey"`
}

// RuntimeValue is a constant (a protobuf Value) known at compile time.
type RuntimeValue struct {
	Constant      any `json:"constant"`
	ConstantValue any `json:"constantValue"`
}

// TaskFinalStatusRef asks for the final status of an upstream task.
type TaskFinalStatusRef struct {
	ProducerTask string `json:"producerTask"`
}

// InputArtifactSpec is a oneof over the sources of an artifact.
type InputArtifactSpec struct {
	TaskOutputArtifact     *TaskOutputArtifactRef `json:"taskOutputArtifact"`
	ComponentInputArtifact string                 `json:"componentInputArtifact"`
}

// TaskOutputArtifactRef points at an upstream task's output artifact.
type TaskOutputArtifactRef struct {
	ProducerTask      string `json:"producerTask"`
	OutputArtifactKey string `json:"outputArtifactKey"`
}

// CachingOptions controls step caching.
type CachingOptions struct {
	EnableCache bool   `json:"enableCache"`
	CacheKey    string `json:"cacheKey"`
}

// TriggerPolicy is a task's condition and upstream strategy.
type TriggerPolicy struct {
	Condition string `json:"condition"`
	Strategy  string `json:"strategy"`
}

// ParameterIterator is dsl.ParallelFor over parameters.
type ParameterIterator struct {
	Items     ParameterItems `json:"items"`
	ItemInput string         `json:"itemInput"`
}

// ParameterItems is either a raw JSON array or an input parameter name.
type ParameterItems struct {
	Raw            string `json:"raw"`
	InputParameter string `json:"inputParameter"`
}

// ArtifactIterator is dsl.ParallelFor over a list of artifacts.
type ArtifactIterator struct {
	Items     ArtifactItems `json:"items"`
	ItemInput string        `json:"itemInput"`
}

// ArtifactItems names the artifact list input.
type ArtifactItems struct {
	InputArtifact string `json:"inputArtifact"`
}

// IteratorPolicy limits loop parallelism.
type IteratorPolicy struct {
	ParallelismLimit int64 `json:"parallelismLimit"`
}

// RetryPolicy is a task's retry policy; durations are protobuf Duration strings.
type RetryPolicy struct {
	MaxRetryCount      int64   `json:"maxRetryCount"`
	BackoffDuration    string  `json:"backoffDuration"`
	BackoffFactor      float64 `json:"backoffFactor"`
	BackoffMaxDuration string  `json:"backoffMaxDuration"`
}

// PlatformSpec is the optional second document.
type PlatformSpec struct {
	Platforms map[string]*SinglePlatformSpec `json:"platforms"`
}
