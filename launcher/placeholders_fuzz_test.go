package launcher

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzResolveArgs: any command line, however malformed its placeholders
// or structural JSON, resolves or gives an error naming the argument; it
// never panics, and resolving never invents output from nothing: text
// without a placeholder or structure comes back as it was.
func FuzzResolveArgs(f *testing.F) {
	for _, seed := range []string{
		"{{$.inputs.parameters['s']}}",
		`--n={{$.inputs.parameters["n"]}} and {{$.inputs.parameters['l']}}`,
		"{{$.inputs.artifacts['data'].metadata['rows']}}",
		"{{$.outputs.parameters['out'].output_file}}",
		`{"IfPresent": {"InputName": "opt", "Then": ["--opt", "{{$.inputs.parameters['opt']}}"], "Else": ["--none"]}}`,
		`{"Concat": ["a", "{{$.inputs.parameters['s']}}", "b"]}`,
		`{"IfPresent": {"InputName": "s", "Then": {"Concat": ["x"]}}}`,
		"{{$}}",
		"{{$.inputs.parameters['",
		"{{$.inputs.artifacts['nope'].path}}",
		"plain text {{ not ours }}",
		`{"Concat": [{"IfPresent": {"InputName": "s", "Then": ["deep"]}}]}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, a string) {
		r := testResolver()
		out, err := r.args([]string{a})
		if err != nil {
			if !strings.Contains(err.Error(), "argument ") {
				t.Fatalf("error does not name the argument: %v", err)
			}
			return
		}
		if !strings.Contains(a, "{{$") && !strings.HasPrefix(strings.TrimSpace(a), "{\"") {
			if len(out) != 1 || out[0] != a {
				t.Fatalf("text without placeholders changed: %q -> %q", a, out)
			}
		}
		for _, o := range out {
			if utf8.ValidString(a) && !utf8.ValidString(o) {
				t.Fatalf("valid UTF-8 %q resolved to invalid %q", a, o)
			}
		}
	})
}
