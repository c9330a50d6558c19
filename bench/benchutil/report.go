// Package benchutil is what the benchmark packages under bench/ share: the
// switch that lets them run, tuning knobs from the environment, and the
// results table bench/run.sh prints.
package benchutil

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"
)

// Require skips unless benchmarks were asked for (KFPARGO_BENCH=1): they
// take minutes and move gigabytes or thousands of requests.
func Require(t *testing.T) {
	t.Helper()
	if os.Getenv("KFPARGO_BENCH") != "1" {
		t.Skip("benchmark: runs only with KFPARGO_BENCH=1 (bench/run.sh)")
	}
}

// EnvInt reads a positive integer knob, def when unset.
func EnvInt(t *testing.T, name string, def int) int {
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

// EnvDuration reads a positive duration knob (such as "30m"), def when unset.
func EnvDuration(t *testing.T, name string, def time.Duration) time.Duration {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("%s=%q is not a positive duration (such as 30s or 30m)", name, v)
	}
	return d
}

// Row is one line of the results table.
type Row struct {
	Measure, Value, Baseline, Ratio, Target, Met string
}

// Report logs rows and appends them to $KFPARGO_BENCH_OUT for bench/run.sh.
func Report(t *testing.T, rows ...Row) {
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
		line := fmt.Sprintf("| %s | %s | %s | %s | %s | %s |", r.Measure, r.Value, r.Baseline, r.Ratio, r.Target, r.Met)
		t.Log(line)
		if f != nil {
			if _, err := fmt.Fprintln(f, line); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// Verdict renders whether a target was met.
func Verdict(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}
