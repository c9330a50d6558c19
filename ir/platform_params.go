package ir

import "strconv"

// PlatformParameter is one value of a Kubernetes executor config that may
// be known only at run time: a Secret, ConfigMap or PVC name, or a *Json
// field. Field is its path below the executor config, e.g.
// secretAsEnv[0].secretNameParameter.
type PlatformParameter struct {
	Field string
	Spec  *InputParameterSpec
	// JSON marks the *Json fields, whose value is a JSON object or list;
	// the others are names.
	JSON bool
}

// Parameters lists the config's run-time values in field order, with the
// deprecated forms (secretName, pvcMount.constant, …) turned into the
// InputParameterSpec that replaced them. An entry whose name is not given
// at all has a nil Spec.
func (c *KubernetesExecutorConfig) Parameters() []PlatformParameter {
	var out []PlatformParameter
	name := func(field string, p *InputParameterSpec, deprecated string) {
		if p == nil && deprecated != "" {
			p = constantString(deprecated)
		}
		out = append(out, PlatformParameter{Field: field, Spec: p})
	}
	at := func(list string, i int, field string) string {
		return list + "[" + strconv.Itoa(i) + "]." + field
	}
	for i, s := range c.SecretAsVolume {
		name(at("secretAsVolume", i, "secretNameParameter"), s.SecretNameParameter, s.SecretName)
	}
	for i, s := range c.SecretAsEnv {
		name(at("secretAsEnv", i, "secretNameParameter"), s.SecretNameParameter, s.SecretName)
	}
	for i, m := range c.PvcMount {
		p := m.PvcNameParameter
		switch {
		case p != nil:
		case m.TaskOutputParameter != nil:
			p = &InputParameterSpec{TaskOutputParameter: m.TaskOutputParameter}
		case m.ComponentInputParameter != "":
			p = &InputParameterSpec{ComponentInputParameter: m.ComponentInputParameter}
		}
		name(at("pvcMount", i, "pvcNameParameter"), p, m.Constant)
	}
	for i, s := range c.ImagePullSecret {
		name(at("imagePullSecret", i, "secretNameParameter"), s.SecretNameParameter, s.SecretName)
	}
	for i, s := range c.ConfigMapAsVolume {
		name(at("configMapAsVolume", i, "configMapNameParameter"), s.ConfigMapNameParameter, s.ConfigMapName)
	}
	for i, s := range c.ConfigMapAsEnv {
		name(at("configMapAsEnv", i, "configMapNameParameter"), s.ConfigMapNameParameter, s.ConfigMapName)
	}
	if c.NodeSelector != nil && c.NodeSelector.NodeSelectorJSON != nil {
		out = append(out, PlatformParameter{Field: "nodeSelector.nodeSelectorJson", Spec: c.NodeSelector.NodeSelectorJSON, JSON: true})
	}
	for i, tol := range c.Tolerations {
		if tol.TolerationJSON != nil {
			out = append(out, PlatformParameter{Field: at("tolerations", i, "tolerationJson"), Spec: tol.TolerationJSON, JSON: true})
		}
	}
	for i, a := range c.NodeAffinity {
		if a.NodeAffinityJSON != nil {
			out = append(out, PlatformParameter{Field: at("nodeAffinity", i, "nodeAffinityJson"), Spec: a.NodeAffinityJSON, JSON: true})
		}
	}
	return out
}

func constantString(s string) *InputParameterSpec {
	return &InputParameterSpec{RuntimeValue: &RuntimeValue{Constant: s}}
}

// Constant returns a runtimeValue's constant, or nil.
func (p *InputParameterSpec) Constant() any {
	if p == nil || p.RuntimeValue == nil {
		return nil
	}
	if p.RuntimeValue.Constant != nil {
		return p.RuntimeValue.Constant
	}
	return p.RuntimeValue.ConstantValue
}
