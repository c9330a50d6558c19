package launcher

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"
)

const mib = 1 << 20

// requireBench skips unless benchmarks were asked for: they move gigabytes
// and take minutes.
func requireBench(t *testing.T) {
	t.Helper()
	if os.Getenv("KFPARGO_BENCH") != "1" {
		t.Skip("benchmark: runs only with KFPARGO_BENCH=1 (bench/run.sh)")
	}
}

// envInt reads a tuning knob such as the number of rounds.
func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q is not a positive integer", name, v)
	}
	return n
}

// buildLauncher builds the launcher the way `make build` ships it.
func buildLauncher(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "launcher")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, "../../cmd/launcher")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build launcher: %v\n%s", err, b)
	}
	return out
}

// row is one line of the results table.
type row struct {
	measure, value, baseline, ratio, target, met string
}

// report logs rows and appends them to $KFPARGO_BENCH_OUT for bench/run.sh.
func report(t *testing.T, rows ...row) {
	t.Helper()
	out := os.Getenv("KFPARGO_BENCH_OUT")
	var f *os.File
	if out != "" {
		var err error
		if f, err = os.OpenFile(out, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err != nil {
			t.Fatal(err)
		}
		defer f.Close()
	}
	for _, r := range rows {
		line := fmt.Sprintf("| %s | %s | %s | %s | %s | %s |", r.measure, r.value, r.baseline, r.ratio, r.target, r.met)
		t.Log(line)
		if f != nil {
			if _, err := fmt.Fprintln(f, line); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func verdict(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

// writeRandomFile writes size bytes of incompressible data.
func writeRandomFile(t *testing.T, path string, size int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rng := rand.NewChaCha8([32]byte{42})
	buf := make([]byte, 4*mib)
	for left := size; left > 0; {
		n := min(int64(len(buf)), left)
		_, _ = rng.Read(buf[:n])
		if _, err := f.Write(buf[:n]); err != nil {
			t.Fatal(err)
		}
		left -= n
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func mean(d []time.Duration) time.Duration {
	var sum time.Duration
	for _, x := range d {
		sum += x
	}
	return sum / time.Duration(len(d))
}

// mibps is the throughput of size bytes moved in d.
func mibps(size int64, d time.Duration) float64 {
	return float64(size) / mib / d.Seconds()
}
