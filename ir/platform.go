package ir

// The Kubernetes platform spec: kfp_kubernetes.KubernetesExecutorConfig and
// ml_pipelines.PipelineConfig. Fields marked deprecated are still written by
// older SDKs (often beside their replacement) and are honoured when the
// replacement is absent.

// PlatformKubernetes is the only platform key kfpargo knows.
const PlatformKubernetes = "kubernetes"

// SinglePlatformSpec holds one platform's settings.
type SinglePlatformSpec struct {
	DeploymentSpec *PlatformDeploymentSpec `json:"deploymentSpec"`
	Platform       string                  `json:"platform"`
	Config         map[string]any          `json:"config"`
	PipelineConfig *PipelineConfig         `json:"pipelineConfig"`
}

// PlatformDeploymentSpec maps executor labels to Kubernetes executor configs.
type PlatformDeploymentSpec struct {
	Executors map[string]*KubernetesExecutorConfig `json:"executors"`
}

// Kubernetes returns the Kubernetes platform spec, or nil.
func (p *Pipeline) Kubernetes() *SinglePlatformSpec {
	if p == nil || p.Platform == nil {
		return nil
	}
	return p.Platform.Platforms[PlatformKubernetes]
}

// ExecutorConfig returns the Kubernetes config of an executor, or nil.
func (s *SinglePlatformSpec) ExecutorConfig(label string) *KubernetesExecutorConfig {
	if s == nil || s.DeploymentSpec == nil {
		return nil
	}
	return s.DeploymentSpec.Executors[label]
}

// PipelineConfig is run-level configuration.
type PipelineConfig struct {
	ResourceTTLOnCompletion int32            `json:"resourceTtlOnCompletion"`
	Workspace               *WorkspaceConfig `json:"workspace"`
	ResourceTTLOnSuccess    int32            `json:"resourceTtlOnSuccess"`
	ResourceTTLOnFailure    int32            `json:"resourceTtlOnFailure"`
	ActiveDeadlineSeconds   int32            `json:"activeDeadlineSeconds"`
}

// WorkspaceConfig is a volume shared by every step of a run.
type WorkspaceConfig struct {
	Size       string                     `json:"size"`
	Kubernetes *KubernetesWorkspaceConfig `json:"kubernetes"`
}

// KubernetesWorkspaceConfig patches the workspace's PersistentVolumeClaim
// spec; PvcSpecPatch is a PersistentVolumeClaimSpec as JSON.
type KubernetesWorkspaceConfig struct {
	PvcSpecPatch map[string]any `json:"pvcSpecPatch"`
}

// KubernetesExecutorConfig is the Kubernetes configuration of the pods of
// one executor.
type KubernetesExecutorConfig struct {
	SecretAsVolume         []SecretAsVolume         `json:"secretAsVolume"`
	SecretAsEnv            []SecretAsEnv            `json:"secretAsEnv"`
	PvcMount               []PvcMount               `json:"pvcMount"`
	NodeSelector           *NodeSelector            `json:"nodeSelector"`
	PodMetadata            *PodMetadata             `json:"podMetadata"`
	ImagePullSecret        []ImagePullSecret        `json:"imagePullSecret"`
	ImagePullPolicy        string                   `json:"imagePullPolicy"`
	ConfigMapAsVolume      []ConfigMapAsVolume      `json:"configMapAsVolume"`
	ConfigMapAsEnv         []ConfigMapAsEnv         `json:"configMapAsEnv"`
	ActiveDeadlineSeconds  int64                    `json:"activeDeadlineSeconds"`
	FieldPathAsEnv         []FieldPathAsEnv         `json:"fieldPathAsEnv"`
	Tolerations            []Toleration             `json:"tolerations"`
	GenericEphemeralVolume []GenericEphemeralVolume `json:"genericEphemeralVolume"`
	NodeAffinity           []NodeAffinityTerm       `json:"nodeAffinity"`
	PodAffinity            []PodAffinityTerm        `json:"podAffinity"`
	EnabledSharedMemory    *EnabledSharedMemory     `json:"enabledSharedMemory"`
	EmptyDirMounts         []EmptyDirMount          `json:"emptyDirMounts"`
	SecurityContext        *SecurityContext         `json:"securityContext"`
	InitContainers         []InitContainer          `json:"initContainers"`
}

// SecretAsVolume mounts a Secret.
type SecretAsVolume struct {
	SecretName          string              `json:"secretName"` // deprecated
	MountPath           string              `json:"mountPath"`
	Optional            *bool               `json:"optional"`
	SecretNameParameter *InputParameterSpec `json:"secretNameParameter"`
}

// SecretAsEnv sets environment variables from a Secret's keys.
type SecretAsEnv struct {
	SecretName          string              `json:"secretName"` // deprecated
	KeyToEnv            []SecretKeyToEnv    `json:"keyToEnv"`
	Optional            *bool               `json:"optional"`
	SecretNameParameter *InputParameterSpec `json:"secretNameParameter"`
}

// SecretKeyToEnv maps one Secret key to one variable.
type SecretKeyToEnv struct {
	SecretKey string `json:"secretKey"`
	EnvVar    string `json:"envVar"`
}

// PvcMount mounts an existing PersistentVolumeClaim. TaskOutputParameter,
// Constant and ComponentInputParameter are the deprecated forms of
// PvcNameParameter.
type PvcMount struct {
	TaskOutputParameter     *TaskOutputParameterRef `json:"taskOutputParameter"`
	Constant                string                  `json:"constant"`
	ComponentInputParameter string                  `json:"componentInputParameter"`
	MountPath               string                  `json:"mountPath"`
	PvcNameParameter        *InputParameterSpec     `json:"pvcNameParameter"`
	SubPath                 string                  `json:"subPath"`
}

// NodeSelector constrains the nodes; NodeSelectorJSON wins over Labels.
type NodeSelector struct {
	Labels           map[string]string   `json:"labels"`
	NodeSelectorJSON *InputParameterSpec `json:"nodeSelectorJson"`
}

// PodMetadata adds labels and annotations.
type PodMetadata struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

// ImagePullSecret names a Secret used to pull images.
type ImagePullSecret struct {
	SecretName          string              `json:"secretName"` // deprecated
	SecretNameParameter *InputParameterSpec `json:"secretNameParameter"`
}

// ConfigMapAsVolume mounts a ConfigMap.
type ConfigMapAsVolume struct {
	ConfigMapName          string              `json:"configMapName"` // deprecated
	MountPath              string              `json:"mountPath"`
	Optional               *bool               `json:"optional"`
	ConfigMapNameParameter *InputParameterSpec `json:"configMapNameParameter"`
}

// ConfigMapAsEnv sets environment variables from a ConfigMap's keys.
type ConfigMapAsEnv struct {
	ConfigMapName          string              `json:"configMapName"` // deprecated
	KeyToEnv               []ConfigMapKeyToEnv `json:"keyToEnv"`
	ConfigMapNameParameter *InputParameterSpec `json:"configMapNameParameter"`
	Optional               *bool               `json:"optional"`
}

// ConfigMapKeyToEnv maps one ConfigMap key to one variable.
type ConfigMapKeyToEnv struct {
	ConfigMapKey string `json:"configMapKey"`
	EnvVar       string `json:"envVar"`
}

// FieldPathAsEnv exposes a pod field (downward API) as a variable.
type FieldPathAsEnv struct {
	Name      string `json:"name"`
	FieldPath string `json:"fieldPath"`
}

// Toleration is one toleration; TolerationJSON (one toleration or a list)
// wins over the other fields.
type Toleration struct {
	Key               string              `json:"key"`
	Operator          string              `json:"operator"`
	Value             string              `json:"value"`
	Effect            string              `json:"effect"`
	TolerationSeconds *int64              `json:"tolerationSeconds"`
	TolerationJSON    *InputParameterSpec `json:"tolerationJson"`
}

// SelectorRequirement is a key/operator/values match.
type SelectorRequirement struct {
	Key      string   `json:"key"`
	Operator string   `json:"operator"`
	Values   []string `json:"values"`
}

// NodeAffinityTerm is a required term, or a preferred one when Weight is
// set; NodeAffinityJSON (a NodeAffinity) wins over the other fields.
type NodeAffinityTerm struct {
	MatchExpressions []SelectorRequirement `json:"matchExpressions"`
	MatchFields      []SelectorRequirement `json:"matchFields"`
	Weight           *int32                `json:"weight"`
	NodeAffinityJSON *InputParameterSpec   `json:"nodeAffinityJson"`
}

// PodAffinityTerm is a pod affinity (or, with Anti, anti-affinity) term,
// preferred when Weight is set.
type PodAffinityTerm struct {
	MatchPodExpressions       []SelectorRequirement `json:"matchPodExpressions"`
	MatchPodLabels            map[string]string     `json:"matchPodLabels"`
	TopologyKey               string                `json:"topologyKey"`
	Namespaces                []string              `json:"namespaces"`
	MatchNamespaceExpressions []SelectorRequirement `json:"matchNamespaceExpressions"`
	MatchNamespaceLabels      map[string]string     `json:"matchNamespaceLabels"`
	Weight                    *int32                `json:"weight"`
	Anti                      *bool                 `json:"anti"`
}

// GenericEphemeralVolume is a PVC that lives as long as the pod.
type GenericEphemeralVolume struct {
	VolumeName          string       `json:"volumeName"`
	MountPath           string       `json:"mountPath"`
	AccessModes         []string     `json:"accessModes"`
	Size                string       `json:"size"`
	DefaultStorageClass bool         `json:"defaultStorageClass"`
	StorageClassName    string       `json:"storageClassName"`
	Metadata            *PodMetadata `json:"metadata"`
}

// EnabledSharedMemory mounts a memory-backed /dev/shm.
type EnabledSharedMemory struct {
	VolumeName string `json:"volumeName"`
	Size       string `json:"size"`
}

// EmptyDirMount mounts an emptyDir volume.
type EmptyDirMount struct {
	VolumeName string  `json:"volumeName"`
	MountPath  string  `json:"mountPath"`
	Medium     *string `json:"medium"`
	SizeLimit  *string `json:"sizeLimit"`
}

// SecurityContext is the main container's identity.
type SecurityContext struct {
	RunAsUser    *int64 `json:"runAsUser"`
	RunAsGroup   *int64 `json:"runAsGroup"`
	RunAsNonRoot *bool  `json:"runAsNonRoot"`
}

// InitContainer is a user init container (a sidecar with RestartPolicy
// Always).
type InitContainer struct {
	Name          string                  `json:"name"`
	Image         string                  `json:"image"`
	Command       []string                `json:"command"`
	Args          []string                `json:"args"`
	Env           []EnvVar                `json:"env"`
	VolumeMounts  []InitContainerMount    `json:"volumeMounts"`
	RestartPolicy *string                 `json:"restartPolicy"`
	Resources     *InitContainerResources `json:"resources"`
}

// InitContainerMount mounts a volume defined by another field of the config.
type InitContainerMount struct {
	VolumeName string `json:"volumeName"`
	MountPath  string `json:"mountPath"`
}

// InitContainerResources are quantities by resource name.
type InitContainerResources struct {
	Requests map[string]string `json:"requests"`
	Limits   map[string]string `json:"limits"`
}
