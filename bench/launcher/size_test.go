package launcher

import (
	"fmt"
	"os"
	"testing"

	"github.com/kfpargo/kfpargo/bench/benchutil"
)

// TestBinarySize reports the size of the launcher as `make build` ships it
// (CGO_ENABLED=0, -trimpath, -ldflags='-s -w').
func TestBinarySize(t *testing.T) {
	benchutil.Require(t)
	fi, err := os.Stat(buildLauncher(t))
	if err != nil {
		t.Fatal(err)
	}
	size := float64(fi.Size()) / mib
	benchutil.Report(t, benchutil.Row{
		Measure:  "stripped launcher binary (MiB)",
		Value:    fmt.Sprintf("%.2f", size),
		Baseline: "–",
		Ratio:    "–",
		Target:   "≤ 15 MiB",
		Met:      benchutil.Verdict(size <= 15),
	})
}
