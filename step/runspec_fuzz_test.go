package step_test

import (
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/kfpargo/kfpargo/ir"
	"github.com/kfpargo/kfpargo/step"
)

// FuzzParseRunArgs: the launcher's flags are read from the pod spec by the
// launcher and by the cache webhook, for pods anyone with pod access can
// write. Any argument list (one argument per line of the input) is parsed
// or refused without a panic; an accepted one names its parameters and
// artifacts with names that are single file names, holds string values
// that are UTF-8, and has a command.
func FuzzParseRunArgs(f *testing.F) {
	for _, seed := range []string{
		"--run-name\nr\n--namespace\nns\n--task\nt\n--pipeline-root\nminio://b/root\n--param\nn:NUMBER_INTEGER=3\n--output-artifact\nm:system.Model\n--\ntrue",
		"--param\ns:STRING=a\xff\n--\ntrue",
		"--param\nl:LIST=[[[[1]]]]\n--param\nst:STRUCT={\"a\":{\"b\":[]}}\n--\nsh\n-c\necho",
		"--artifact\na:system.Dataset={\"uri\":\"minio://b/k\",\"sha256\":\"x\"}\n--artifact\nl:system.Dataset[]=[\"[{\\\"uri\\\":\\\"s3://b/k\\\"}]\"]\n--\ntrue",
		"--output-param\n../../x:STRING\n--\ntrue",
		"--cache\n--image=python\n--env=A\n--max-cache-staleness=1h\n--escaped-braces\n--\necho\n{\\{x}}",
		"--param=o:STRING=" + step.AbsentValue + "\n--artifact=a:system.Artifact=" + step.AbsentValue + "\n--\ntrue",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		s, err := step.ParseRunArgs(strings.Split(in, "\n"), io.Discard)
		if err != nil {
			return
		}
		if len(s.Command) == 0 {
			t.Fatal("accepted without a command")
		}
		names := []string{}
		for n, p := range s.Params {
			names = append(names, n)
			if v, ok := p.Value.(string); ok && p.Type == ir.TypeString && !utf8.ValidString(v) {
				t.Fatalf("string parameter %s accepted with a value that is not UTF-8: %q", n, v)
			}
		}
		for n := range s.Artifacts {
			names = append(names, n)
		}
		for n := range s.OutputParams {
			names = append(names, n)
		}
		for n := range s.OutputArtifacts {
			names = append(names, n)
		}
		for _, n := range names {
			if !step.ValidName(n) {
				t.Fatalf("accepted the name %q", n)
			}
		}
	})
}
