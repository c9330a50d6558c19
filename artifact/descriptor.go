package artifact

import (
	"encoding/json"
	"fmt"
)

// Descriptor identifies an artifact's content in the object store.
type Descriptor struct {
	URI         string         `json:"uri"`
	SHA256      string         `json:"sha256"`
	Size        int64          `json:"size"`
	Dir         bool           `json:"dir,omitempty"`
	SchemaTitle string         `json:"schemaTitle"`
	Metadata    map[string]any `json:"metadata,omitempty"`
}

// ParseDescriptor decodes a descriptor and checks it is usable.
func ParseDescriptor(s string) (*Descriptor, error) {
	var d Descriptor
	if err := json.Unmarshal([]byte(s), &d); err != nil {
		return nil, fmt.Errorf("invalid artifact descriptor: %v", err)
	}
	if d.URI == "" {
		return nil, fmt.Errorf("invalid artifact descriptor: no uri")
	}
	return &d, nil
}

// JSON encodes the descriptor compactly.
func (d *Descriptor) JSON() ([]byte, error) { return json.Marshal(d) }
