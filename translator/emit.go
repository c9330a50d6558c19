package translator

import (
	"bytes"
	"encoding/json"
	"fmt"

	yaml "go.yaml.in/yaml/v2"
)

// MarshalYAML writes an object as YAML without the fields the Go types
// always emit but a person would never write: the empty status, a null
// creationTimestamp, and empty resources, metadata and outputs blocks.
func MarshalYAML(obj any) ([]byte, error) {
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("marshal: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var tree map[string]any
	if err := dec.Decode(&tree); err != nil {
		return nil, fmt.Errorf("marshal: %w", err)
	}
	delete(tree, "status")
	tidy(tree)
	// Straight from the tree: sigs.k8s.io/yaml would marshal it to JSON and
	// parse that again, which was most of a large pipeline's compile time.
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
			if n, ok := e.(json.Number); ok {
				x[k] = number(n)
				continue
			}
			tidy(e)
			if k == "metadata" {
				if m, ok := x[k].(map[string]any); ok && len(m) == 0 {
					delete(x, k)
				}
			}
		}
	case []any:
		for i, e := range x {
			if n, ok := e.(json.Number); ok {
				x[i] = number(n)
				continue
			}
			tidy(e)
		}
	}
}

// number gives a JSON number the Go type YAML prints it as: an integer
// without a fraction, else a float.
func number(n json.Number) any {
	if i, err := n.Int64(); err == nil {
		return i
	}
	f, _ := n.Float64()
	return f
}
