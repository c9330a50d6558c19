package step_test

import (
	"io"
	"strings"
	"testing"

	"github.com/kfpargo/kfpargo/step"
)

// TestHostileRunArgs: the launcher's flags come from the pod spec, which
// anyone who can create pods writes, and the webhook parses the same flags
// from every pod it sees. Names become file names (an output parameter's
// is a file Argo reads), so they must be names; values are checked as
// parameters are everywhere else; errors name the flag and do not repeat a
// huge value.
func TestHostileRunArgs(t *testing.T) {
	const depth = 100_000
	deep := strings.Repeat("[", depth) + strings.Repeat("]", depth)
	huge := strings.Repeat("7", 1<<20)
	base := []string{"--run-name", "r", "--namespace", "ns", "--task", "t", "--pipeline-root", "minio://b/root"}
	for _, tc := range []struct {
		name  string
		flags []string
		want  string // empty: accepted
	}{
		{"output parameter named ../../x", []string{"--output-param", "../../x:STRING"}, `--output-param "../../x:STRING": "../../x" is not a name`},
		{"output parameter with an absolute name", []string{"--output-param", "/etc/passwd:STRING"}, `"/etc/passwd" is not a name`},
		{"output artifact named ..", []string{"--output-artifact", "..:system.Dataset"}, `--output-artifact "..:system.Dataset": ".." is not a name`},
		{"input parameter with a NUL", []string{"--param", "a\x00b:STRING=x"}, `"a\x00b" is not a name`},
		{"input artifact named a/b", []string{"--artifact", `a/b:system.Dataset={"uri":"minio://b/k"}`}, `"a/b" is not a name`},
		{"very long name", []string{"--output-param", strings.Repeat("n", 1<<20) + ":STRING"}, `is not a name`},
		{"1 MiB string value", []string{"--param", "s:STRING=" + huge}, ""},
		{"1 MiB bad integer", []string{"--param", "n:NUMBER_INTEGER=x" + huge}, `parameter n: "x777777777777777777777777777777777777777777777777777777777777777"... (1048577 bytes) is not an integer`},
		{"string not UTF-8", []string{"--param", "s:STRING=a\xff"}, "parameter s: value is not UTF-8 text: byte 0xff at offset 1"},
		{"struct 100 000 deep", []string{"--param", "s:STRUCT=" + deep}, "parameter s: "},
		{"list 100 000 deep", []string{"--param", "l:LIST=" + deep}, "exceeded max depth"},
		{"descriptor 100 000 deep", []string{"--artifact", "a:system.Dataset=" + deep}, "artifact a: invalid artifact descriptor"},
		{"artifact list 100 000 deep", []string{"--artifact", "a:system.Dataset[]=" + deep}, "artifact a: artifact list is not JSON"},
		{"artifact list nested in strings", []string{"--artifact", "a:system.Dataset[]=" + strings.Repeat(`["`, 20)}, "artifact a:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append(append(append([]string{}, base...), tc.flags...), "--", "true")
			s, err := step.ParseRunArgs(args, io.Discard)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %.300v", err)
			case tc.want == "":
				if len(s.Params) != 1 {
					t.Fatalf("params %d", len(s.Params))
				}
			case err == nil:
				t.Fatalf("accepted, want %q", tc.want)
			case !strings.Contains(err.Error(), tc.want):
				t.Fatalf("got %.300v\nwant %q", err, tc.want)
			case len(err.Error()) > 1000:
				t.Fatalf("error of %d bytes repeats the input", len(err.Error()))
			}
		})
	}
}
