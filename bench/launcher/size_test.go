package launcher

import (
	"fmt"
	"os"
	"testing"
)

// TestBinarySize reports the size of the launcher as `make build` ships it
// (CGO_ENABLED=0, -trimpath, -ldflags='-s -w').
func TestBinarySize(t *testing.T) {
	requireBench(t)
	fi, err := os.Stat(buildLauncher(t))
	if err != nil {
		t.Fatal(err)
	}
	size := float64(fi.Size()) / mib
	report(t, row{
		measure:  "stripped launcher binary (MiB)",
		value:    fmt.Sprintf("%.2f", size),
		baseline: "–",
		ratio:    "–",
		target:   "≤ 15 MiB",
		met:      verdict(size <= 15),
	})
}
