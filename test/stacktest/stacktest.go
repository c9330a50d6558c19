package stacktest

import (
	"os"
	"strings"
	"testing"
)

// RequireStack skips the test named by what when the stack tests are
// switched off (KFPARGO_SKIP_STACK=1) or cannot run because we are not
// root; needs says what root is for. Under KFPARGO_REQUIRE_SERVERS=1 the
// second case fails instead, so that CI cannot lose the evidence silently.
func RequireStack(t testing.TB, what, needs string) {
	t.Helper()
	if os.Getenv("KFPARGO_SKIP_STACK") == "1" {
		t.Skip("KFPARGO_SKIP_STACK=1: skipping " + what)
	}
	if os.Geteuid() != 0 {
		why := what + " needs root (" + needs + ")"
		if os.Getenv("KFPARGO_REQUIRE_SERVERS") == "1" {
			t.Fatal(why + "; KFPARGO_REQUIRE_SERVERS=1 forbids skipping")
		}
		t.Skip(why + "; skipping")
	}
}

// LogWriter writes the stack's progress lines into the test log.
type LogWriter struct{ T testing.TB }

func (w LogWriter) Write(p []byte) (int, error) {
	w.T.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
