// Package launcher holds the launcher's benchmarks (issue 4): artifact
// throughput through artifact.Store against plain minio-go, the launcher's
// peak memory while it moves a large artifact, the time `launcher run` adds
// to a command, and the size of the stripped binary.
//
// They are tests that only run with KFPARGO_BENCH=1 (bench/run.sh sets it),
// so `go test ./...` skips them quickly. Each compares against its baseline
// in the same run, interleaving the two, so load on a shared machine hits
// both alike; the figures are ratios first and absolute numbers second.
// With KFPARGO_BENCH_OUT set, each test appends its rows of the markdown
// results table to that file.
package launcher
