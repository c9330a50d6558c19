package stacktest

import (
	"os"
	"testing"
)

func TestRequireStackSkips(t *testing.T) {
	for _, tc := range []struct {
		name, skip, require string
		skipped             bool
	}{
		{"switched off", "1", "", true},
		{"switched off wins over require", "1", "1", true},
		{"root or not", "", "", os.Geteuid() != 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("KFPARGO_SKIP_STACK", tc.skip)
			t.Setenv("KFPARGO_REQUIRE_SERVERS", tc.require)
			var sub *testing.T
			t.Run("stack", func(t *testing.T) {
				sub = t
				RequireStack(t, "this test", "nothing")
			})
			if sub.Skipped() != tc.skipped {
				t.Errorf("skipped = %v, want %v", sub.Skipped(), tc.skipped)
			}
		})
	}
}
