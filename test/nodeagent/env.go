package nodeagent

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

// envContext is everything a container's environment is built from.
type envContext struct {
	pod       *corev1.Pod
	container *corev1.Container
	objects   *podObjects
	// path is the image's PATH (see ImageMap.Path).
	path string
	// apiHost and apiPort locate the apiserver, as the kubernetes
	// Service would.
	apiHost, apiPort string
	podIP, hostIP    string
	// allocatable stands in for unset limits in resourceFieldRef, as on a
	// kubelet.
	allocatable corev1.ResourceList
}

// envList is an environment that keeps the first position of a name
// and the last value given to it.
type envList struct {
	names  []string
	values map[string]string
}

func newEnvList() *envList { return &envList{values: map[string]string{}} }

func (l *envList) set(name, value string) {
	if _, ok := l.values[name]; !ok {
		l.names = append(l.names, name)
	}
	l.values[name] = value
}

func (l *envList) lookup(name string) (string, bool) {
	v, ok := l.values[name]
	return v, ok
}

// environ is the list in NAME=value form.
func (l *envList) environ() []string {
	out := make([]string, 0, len(l.names))
	for _, n := range l.names {
		out = append(out, n+"="+l.values[n])
	}
	return out
}

// serviceEnv is what the kubernetes Service contributes to every
// container, pointing at the apiserver.
func serviceEnv(host, port string) [][2]string {
	addr := "tcp://" + host + ":" + port
	prefix := "KUBERNETES_PORT_" + port + "_TCP"
	return [][2]string{
		{"KUBERNETES_SERVICE_HOST", host},
		{"KUBERNETES_SERVICE_PORT", port},
		{"KUBERNETES_SERVICE_PORT_HTTPS", port},
		{"KUBERNETES_PORT", addr},
		{prefix, addr},
		{prefix + "_PROTO", "tcp"},
		{prefix + "_PORT", port},
		{prefix + "_ADDR", host},
	}
}

// buildEnv returns a container's whole environment, built from scratch:
// the image part (PATH, HOME), HOSTNAME, the kubernetes Service variables,
// then envFrom and env as a kubelet resolves them, including $(VAR)
// expansion of env values.
func buildEnv(ec envContext) ([]string, error) {
	c := ec.container
	env := newEnvList()
	env.set("PATH", ec.path)
	env.set("HOSTNAME", podHostname(ec.pod))
	svc := newEnvList()
	for _, kv := range serviceEnv(ec.apiHost, ec.apiPort) {
		env.set(kv[0], kv[1])
		svc.set(kv[0], kv[1])
	}
	// The variables $(VAR) may refer to: the container's own, defined
	// earlier, and the service variables; not the image's PATH or HOME.
	defined := newEnvList()
	for i, from := range c.EnvFrom {
		vars, err := envFromSource(ec.objects, from)
		if err != nil {
			return nil, fmt.Errorf("container %s: envFrom[%d]: %w", c.Name, i, err)
		}
		for _, kv := range vars {
			name := from.Prefix + kv[0]
			// A kubelet skips keys that are not valid variable names.
			if len(validation.IsEnvVarName(name)) > 0 {
				continue
			}
			env.set(name, kv[1])
			defined.set(name, kv[1])
		}
	}
	for _, e := range c.Env {
		var value string
		switch {
		case e.ValueFrom == nil:
			value = expandVars(e.Value, func(name string) (string, bool) {
				if v, ok := defined.lookup(name); ok {
					return v, true
				}
				return svc.lookup(name)
			})
		default:
			v, ok, err := ec.envValueFrom(e.ValueFrom)
			if err != nil {
				return nil, fmt.Errorf("container %s: env %s: %w", c.Name, e.Name, err)
			}
			if !ok {
				continue
			}
			value = v
		}
		env.set(e.Name, value)
		defined.set(e.Name, value)
	}
	// A container runtime sets HOME for the user when the image does not;
	// everything runs as root here.
	if _, ok := env.lookup("HOME"); !ok {
		env.set("HOME", "/root")
	}
	return env.environ(), nil
}

// envValueFrom resolves one valueFrom; ok is false when an optional
// source is missing and the variable is left out.
func (ec envContext) envValueFrom(src *corev1.EnvVarSource) (value string, ok bool, err error) {
	switch {
	case src.FieldRef != nil:
		v, err := podFieldValue(ec.pod, src.FieldRef.FieldPath, ec.podIP, ec.hostIP)
		return v, err == nil, err
	case src.ResourceFieldRef != nil:
		v, err := containerResourceValue(ec.pod, ec.container, src.ResourceFieldRef, ec.allocatable)
		return v, err == nil, err
	case src.SecretKeyRef != nil:
		ref := src.SecretKeyRef
		optional := ref.Optional != nil && *ref.Optional
		s, found := ec.objects.secrets[ref.Name]
		if !found {
			if optional {
				return "", false, nil
			}
			return "", false, fmt.Errorf("secret %q: %w", ref.Name, errMissingObject)
		}
		data, found := s.Data[ref.Key]
		if !found {
			if sd, ok := s.StringData[ref.Key]; ok {
				return sd, true, nil
			}
			if optional {
				return "", false, nil
			}
			return "", false, fmt.Errorf("secret %q has no key %q: %w", ref.Name, ref.Key, errMissingObject)
		}
		return string(data), true, nil
	case src.ConfigMapKeyRef != nil:
		ref := src.ConfigMapKeyRef
		optional := ref.Optional != nil && *ref.Optional
		cm, found := ec.objects.configMaps[ref.Name]
		if !found {
			if optional {
				return "", false, nil
			}
			return "", false, fmt.Errorf("configmap %q: %w", ref.Name, errMissingObject)
		}
		v, found := cm.Data[ref.Key]
		if !found {
			if optional {
				return "", false, nil
			}
			return "", false, fmt.Errorf("configmap %q has no key %q: %w", ref.Name, ref.Key, errMissingObject)
		}
		return v, true, nil
	}
	return "", false, fmt.Errorf("valueFrom has no source this node agent supports")
}

// envFromSource lists the variables of one envFrom entry, sorted by key.
func envFromSource(objs *podObjects, from corev1.EnvFromSource) ([][2]string, error) {
	var data map[string]string
	switch {
	case from.ConfigMapRef != nil:
		cm, ok := objs.configMaps[from.ConfigMapRef.Name]
		if !ok {
			if from.ConfigMapRef.Optional != nil && *from.ConfigMapRef.Optional {
				return nil, nil
			}
			return nil, fmt.Errorf("configmap %q: %w", from.ConfigMapRef.Name, errMissingObject)
		}
		data = cm.Data
	case from.SecretRef != nil:
		s, ok := objs.secrets[from.SecretRef.Name]
		if !ok {
			if from.SecretRef.Optional != nil && *from.SecretRef.Optional {
				return nil, nil
			}
			return nil, fmt.Errorf("secret %q: %w", from.SecretRef.Name, errMissingObject)
		}
		data = map[string]string{}
		for k, v := range s.Data {
			data[k] = string(v)
		}
	default:
		return nil, fmt.Errorf("envFrom has no source this node agent supports")
	}
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([][2]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, [2]string{k, data[k]})
	}
	return out, nil
}

// expandVars replaces $(NAME) by lookup(NAME) the way Kubernetes does in
// env values, command and args: "$$" is a literal "$", and a reference to
// an undefined name, or one that is not closed, stays as written.
func expandVars(s string, lookup func(string) (string, bool)) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			name := s[i+2 : i+2+end]
			if v, ok := lookup(name); ok && name != "" {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+3+end])
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}

// expandArgs expands $(VAR) in a command or args with the container's
// final environment.
func expandArgs(args []string, environ []string) []string {
	vals := make(map[string]string, len(environ))
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		vals[k] = v
	}
	lookup := func(name string) (string, bool) {
		v, ok := vals[name]
		return v, ok
	}
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = expandVars(a, lookup)
	}
	return out
}

// podHostname is the host name a pod's containers see.
func podHostname(pod *corev1.Pod) string {
	h := pod.Spec.Hostname
	if h == "" {
		h = pod.Name
	}
	if len(h) > 63 {
		h = strings.TrimRight(h[:63], "-.")
	}
	return h
}
