package nodeagent

import (
	"os"
	"testing"
)

// TestMain lets the test binary serve as a container's init process, as
// the agent binary does in production.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == InitCommand {
		os.Exit(ContainerInit(os.Args[2:]))
	}
	os.Exit(m.Run())
}
