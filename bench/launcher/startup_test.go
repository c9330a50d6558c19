package launcher

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/kfpargo/kfpargo/bench/benchutil"
)

// TestStartupOverhead runs `launcher run -- true` and `true` alone, taking
// turns, and reports the time the launcher adds. Without an object store
// configured, this is the launcher's fixed cost: start, parse, create the
// step directories, start and wait for the command.
func TestStartupOverhead(t *testing.T) {
	benchutil.Require(t)
	n := benchutil.EnvInt(t, "KFPARGO_BENCH_N", 200)
	if err := os.MkdirAll("/kfpargo", 0o755); err != nil {
		t.Skipf("benchmark needs a writable /kfpargo (the launcher's production layout): %v", err)
	}
	bin := buildLauncher(t)
	truePath, err := exec.LookPath("true")
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=/usr/bin:/bin"}
	launch := []string{bin, "run", "--pipeline-name", "bench", "--run-name", "run", "--namespace", "bench", "--task", "t", "--", "true"}
	alone := []string{truePath}
	timeOne := func(argv []string) time.Duration {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Env = env
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", argv, err, out)
		}
		return time.Since(start)
	}
	// Warm the page cache and the binary's first start.
	timeOne(launch)
	timeOne(alone)
	var withL, withoutL, added []time.Duration
	for i := range n {
		var l, a time.Duration
		if i%2 == 0 {
			l, a = timeOne(launch), timeOne(alone)
		} else {
			a, l = timeOne(alone), timeOne(launch)
		}
		withL, withoutL, added = append(withL, l), append(withoutL, a), append(added, l-a)
	}
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond)) }
	benchutil.Report(t,
		benchutil.Row{
			Measure:  fmt.Sprintf("`launcher run -- true`, mean of %d (ms)", n),
			Value:    ms(mean(withL)),
			Baseline: ms(mean(withoutL)) + " (`true`)",
			Ratio:    "+" + ms(mean(withL)-mean(withoutL)) + " ms",
			Target:   "< 30 ms added",
			Met:      benchutil.Verdict(mean(withL)-mean(withoutL) < 30*time.Millisecond),
		},
		benchutil.Row{
			Measure:  fmt.Sprintf("`launcher run -- true`, p50 of %d (ms)", n),
			Value:    ms(median(withL)),
			Baseline: ms(median(withoutL)) + " (`true`)",
			Ratio:    "+" + ms(median(withL)-median(withoutL)) + " ms (pairwise p50 +" + ms(median(added)) + ")",
			Target:   "< 30 ms added",
			Met:      benchutil.Verdict(median(withL)-median(withoutL) < 30*time.Millisecond),
		})
}
