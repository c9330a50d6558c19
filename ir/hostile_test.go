package ir

import (
	"strings"
	"testing"
)

// Found by FuzzParse: YAML can spell numbers JSON cannot, and mappings with
// non-string keys, which gave "expected a mapping, got a mapping".
func TestHostileValues(t *testing.T) {
	for _, tc := range []struct {
		name, old, new, want string
	}{
		{"NaN constant", "constant: hi", "constant: .nan", "constant: expected a finite number, got NaN"},
		{"infinite constant", "constant: hi", "constant: [-.inf]", "constant[0]: expected a finite number, got -Inf"},
		{"NaN as a string in a float field", "image: busybox", "image: busybox, resources: {cpuLimit: 'NaN'}", "cpuLimit: expected a finite number, got NaN"},
		{"non-string key in a value", "constant: hi", "constant: {1: a}", "constant: unsupported value a mapping with a non-string key"},
		{"non-string key in a struct", "pipelineInfo: {name: p}", "pipelineInfo: {name: p, 7: x}", "pipelineInfo: expected a mapping, got a mapping with a non-string key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := strings.Replace(minimal, tc.old, tc.new, 1)
			_, err := Parse("p.yaml", []byte(spec))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v\nwant %q", err, tc.want)
			}
		})
	}
}
