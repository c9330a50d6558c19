package translator

import (
	"encoding/json"
	"fmt"

	"sigs.k8s.io/yaml"
)

// MarshalYAML writes an object as YAML without the fields the Go types
// always emit but a person would never write: the empty status, a null
// creationTimestamp, and empty resources, metadata and outputs blocks.
func MarshalYAML(obj any) ([]byte, error) {
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("marshal: %w", err)
	}
	var tree map[string]any
	if err := json.Unmarshal(b, &tree); err != nil {
		return nil, fmt.Errorf("marshal: %w", err)
	}
	delete(tree, "status")
	tidy(tree)
	return yaml.Marshal(tree)
}

// tidy removes the known noise keys wherever they appear. Only these keys
// are pruned: an empty map elsewhere (emptyDir: {}) carries meaning.
func tidy(v any) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			switch k {
			case "creationTimestamp":
				if e == nil {
					delete(x, k)
					continue
				}
			case "resources", "metadata", "outputs", "inputs", "arguments":
				if m, ok := e.(map[string]any); ok && len(m) == 0 {
					delete(x, k)
					continue
				}
			case "name":
				if e == "" {
					delete(x, k)
					continue
				}
			}
			tidy(e)
			if k == "metadata" {
				if m, ok := x[k].(map[string]any); ok && len(m) == 0 {
					delete(x, k)
				}
			}
		}
	case []any:
		for _, e := range x {
			tidy(e)
		}
	}
}
