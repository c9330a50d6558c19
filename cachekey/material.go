package cachekey

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/kfpargo/kfpargo/artifact"
	"github.com/kfpargo/kfpargo/step"
)

// Version is part of every key, so a change of what goes into a key changes
// every key instead of colliding with old entries.
const Version = "kfpargo-cache-v1"

// Material is what a key is computed from, in a form that reads well in
// `kfpargo cache explain`. Resources, scheduling, the run's and pod's names
// and where outputs go change how or where a step runs, not what it
// computes, and stay out.
type Material struct {
	Version string `json:"version"`
	// Image is the main container's image reference: pinned by digest
	// (name@sha256:...) it identifies the bytes; a tag may move.
	Image string `json:"image"`
	// Command is the user's command as the component declares it, with
	// placeholders unresolved: their values are in Params and Artifacts.
	Command   []string            `json:"command"`
	Env       map[string]string   `json:"env"`
	Outputs   map[string]string   `json:"outputs"`
	Params    map[string]Param    `json:"params"`
	Artifacts map[string]Artifact `json:"artifacts"`
	Salt      string              `json:"salt,omitempty"`
}

// Param is one input parameter: its type and value, or absent.
type Param struct {
	Type   string `json:"type"`
	Value  any    `json:"value,omitempty"`
	Absent bool   `json:"absent,omitempty"`
}

// Artifact is one input artifact (or list of them) by content identity.
type Artifact struct {
	Schema string   `json:"schema"`
	List   bool     `json:"list,omitempty"`
	Absent bool     `json:"absent,omitempty"`
	Items  []string `json:"items,omitempty"`
}

// Identify names an input artifact's content. It is given every descriptor
// without a digest (imported data): the webhook and the launcher must name
// it the same way (artifact.Store.Identity).
type Identify func(d *artifact.Descriptor) (string, error)

// ContentID is the identity of content with a known SHA-256.
func ContentID(sha256Hex string) string { return "sha256:" + sha256Hex }

// FromSpec builds the material of the step a launcher spec describes. env
// holds the values of the spec's EnvNames, as the side computing the key
// sees them.
func FromSpec(s *step.Spec, env map[string]string, identify Identify) (*Material, error) {
	m := &Material{
		Version:   Version,
		Image:     s.Image,
		Command:   append([]string{}, s.Command...),
		Env:       map[string]string{},
		Outputs:   map[string]string{},
		Params:    map[string]Param{},
		Artifacts: map[string]Artifact{},
		Salt:      s.Cache.Salt,
	}
	for _, name := range s.EnvNames {
		v, ok := env[name]
		if !ok {
			return nil, fmt.Errorf("environment variable %s is not set", name)
		}
		m.Env[name] = v
	}
	for name, t := range s.OutputParams {
		m.Outputs[name] = string(t)
	}
	for name, schema := range s.OutputArtifacts {
		m.Outputs[name] = schema
	}
	for name, p := range s.Params {
		mp := Param{Type: string(p.Type), Absent: !p.Present}
		if p.Present {
			mp.Value = p.Value
		}
		m.Params[name] = mp
	}
	for _, name := range sortedKeys(s.Artifacts) {
		a := s.Artifacts[name]
		ma := Artifact{Schema: a.SchemaTitle, List: a.List, Absent: !a.Present}
		for _, d := range a.Items {
			id := ""
			if d.SHA256 != "" {
				id = ContentID(d.SHA256)
			} else {
				if identify == nil {
					return nil, fmt.Errorf("input artifact %s: %s has no digest and nothing can identify it", name, d.URI)
				}
				var err error
				if id, err = identify(d); err != nil {
					return nil, fmt.Errorf("input artifact %s: %w", name, err)
				}
			}
			ma.Items = append(ma.Items, id)
		}
		m.Artifacts[name] = ma
	}
	return m, nil
}

// Key is the hex SHA-256 of the version line and the material's JSON, whose
// encoding is canonical: fixed field order, sorted map keys (encoding/json
// sorts them), values as the launcher decoded them.
func (m *Material) Key() (string, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("encode cache key material: %w", err)
	}
	h := sha256.New()
	h.Write([]byte(Version + "\n"))
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil)), nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
