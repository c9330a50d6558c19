package cachewebhook

import (
	"errors"
	"fmt"
	"io"

	corev1 "k8s.io/api/core/v1"

	"github.com/kfpargo/kfpargo/cachekey"
	"github.com/kfpargo/kfpargo/step"
)

// MainContainer is the name Argo gives a container template's container.
const MainContainer = "main"

// stepPod is what the webhook reads from a step pod: the main container
// and the launcher invocation in it.
type stepPod struct {
	index int // of the main container in spec.containers
	// prefix is everything before the launcher in command+args: Argo's
	// `argoexec emissary ... --`, kept on a hit.
	prefix []string
	spec   *step.Spec
	env    map[string]string // the main container's literal variables
}

// errNotLauncher: the pod is labelled for the cache but its main container
// does not run `launcher run`; nothing to do.
var errNotLauncher = errors.New("the main container does not run the kfpargo launcher")

// readStepPod finds the launcher's flags in the pod. Argo puts its
// emissary in front of the template's command: command is
// [argoexec emissary ... -- LAUNCHER run] and args the launcher's flags;
// both are read as one argv so that either layout works.
func readStepPod(pod *corev1.Pod) (*stepPod, error) {
	idx := -1
	for i, c := range pod.Spec.Containers {
		if c.Name == MainContainer {
			idx = i
			break
		}
	}
	if idx < 0 {
		return nil, fmt.Errorf("no container named %q", MainContainer)
	}
	c := pod.Spec.Containers[idx]
	argv := append(append([]string{}, c.Command...), c.Args...)
	at := -1
	for i := 0; i+1 < len(argv); i++ {
		if argv[i] == step.LauncherPath && argv[i+1] == "run" {
			at = i
			break
		}
	}
	if at < 0 {
		return nil, errNotLauncher
	}
	if at > 0 && argv[at-1] != "--" {
		return nil, fmt.Errorf("the launcher is not the command after Argo's emissary: %q", argv[:at])
	}
	spec, err := step.ParseRunArgs(argv[at+2:], io.Discard)
	if err != nil {
		return nil, fmt.Errorf("launcher flags: %w", err)
	}
	env := map[string]string{}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			env[e.Name] = e.Value
		}
	}
	return &stepPod{index: idx, prefix: argv[:at], spec: spec, env: env}, nil
}

// keyEnv is the component's variables as the pod sets them. A variable
// the launcher flags name but the pod does not set literally (a Secret
// reference, say) cannot be read here, and the step is not looked up.
func (p *stepPod) keyEnv() (map[string]string, error) {
	out := map[string]string{}
	for _, name := range p.spec.EnvNames {
		v, ok := p.env[name]
		if !ok {
			return nil, fmt.Errorf("variable %s of the cache key is not set as a literal value in container %s", name, MainContainer)
		}
		out[name] = v
	}
	return out, nil
}

// PodMaterial computes the cache key material of a step pod as the webhook
// does (for `kfpargo cache explain`): nil material and errNotLauncher-like
// errors for pods that are not launcher steps, e.g. replays.
func PodMaterial(pod *corev1.Pod, identify cachekey.Identify) (*cachekey.Material, *step.Spec, error) {
	sp, err := readStepPod(pod)
	if err != nil {
		return nil, nil, err
	}
	env, err := sp.keyEnv()
	if err != nil {
		return nil, sp.spec, err
	}
	m, err := cachekey.FromSpec(sp.spec, env, identify)
	return m, sp.spec, err
}
