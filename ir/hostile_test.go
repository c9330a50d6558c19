package ir

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
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

// TestHostileInput feeds the loader what an attacker or a broken tool could
// write. Every case must end in an ir.Errors that says what is wrong, in
// bounded time and without exhausting the stack: encoding/json and yaml.v3
// both stop at 10 000 levels, and the model decoder recurses only as deep
// as the document they returned.
func TestHostileInput(t *testing.T) {
	valid := strings.Replace(minimal, "        dependentTasks: [a]\n", "", 1)
	asJSON := func(yamlText string) string {
		var v any
		if err := yaml.Unmarshal([]byte(yamlText), &v); err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	const depth = 100_000
	deepList := strings.Repeat("[", depth) + strings.Repeat("]", depth)
	deepMap := strings.Repeat("{a: ", depth) + "1" + strings.Repeat("}", depth)
	deepJSONMap := strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth)
	var bomb strings.Builder
	bomb.WriteString("a: &a [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 'b'; i <= 'j'; i++ {
		fmt.Fprintf(&bomb, "%c: &%c [*%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c]\n", i, i, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1)
	}
	for _, tc := range []struct {
		name, file, data, want string
	}{
		{"JSON nested 100 000 lists deep", "p.json", strings.Replace(asJSON(valid), `"hi"`, deepList, 1), "invalid JSON: invalid character '[' exceeded max depth"},
		{"JSON nested 100 000 objects deep", "p.json", strings.Replace(asJSON(valid), `"hi"`, deepJSONMap, 1), "invalid JSON: invalid character '{' exceeded max depth"},
		{"sniffed JSON nested deep", "p", `{"x":` + deepList + `}`, "exceeded max depth"},
		{"YAML flow lists 100 000 deep", "p.yaml", strings.Replace(valid, "constant: hi", "constant: "+deepList, 1), "invalid YAML: yaml: line 20: exceeded max depth of 10000"},
		{"YAML flow mappings 100 000 deep", "p.yaml", strings.Replace(valid, "constant: hi", "constant: "+deepMap, 1), "exceeded max depth of 10000"},
		{"YAML alias expansion (10^10 nodes)", "p.yaml", bomb.String(), "invalid YAML: yaml: document contains excessive aliasing"},
		{"YAML not UTF-8", "p.yaml", strings.Replace(valid, "constant: hi", "constant: h\xffi", 1), "invalid YAML: yaml: invalid leading UTF-8 octet"},
		{"JSON not UTF-8 in a value", "p.json", strings.Replace(asJSON(valid), `"hi"`, "\"h\xffi\"", 1), "not UTF-8: byte 0xff at line 1"},
		{"JSON not UTF-8 in a name", "p.json", strings.Replace(asJSON(valid), `"comp-a"`, "\"comp-\xc3\"", 1), "not UTF-8: byte 0xc3 at line 1"},
		{"NUL byte in YAML", "p.yaml", strings.Replace(valid, "constant: hi", "constant: h\x00i", 1), "not a text file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.file, []byte(tc.data))
			if _, ok := err.(Errors); !ok {
				t.Fatalf("got %T %v, want ir.Errors", err, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %.300s\nwant %q", err, tc.want)
			}
			if len(err.Error()) > 1000 {
				t.Errorf("error of %d bytes: it should not repeat the input", len(err.Error()))
			}
		})
	}
}
