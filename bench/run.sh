#!/bin/sh
# Runs the benchmarks (bench/launcher, bench/webhook) in one go and prints their
# results as a markdown table. Needs the MinIO binary of the local stack
# (make stack-build) and root, or at least writable /minio and /kfpargo: the
# launcher binary is run with its production layout.
#
#   bench/run.sh                        all of them (~12 minutes, ~12 GiB of disk)
#   KFPARGO_BENCH_ROUNDS=3 bench/run.sh fewer 1 GiB transfer rounds (default 6)
#   KFPARGO_BENCH_N=100 bench/run.sh    fewer startup runs (default 200)
#   bench/run.sh -run Startup           pass go test flags, e.g. one benchmark
#   KFPARGO_BENCH_PKGS=./bench/webhook bench/run.sh   one package (default: launcher and webhook)
#   KFPARGO_BENCH_SECONDS=5 bench/run.sh  shorter webhook load phases (default 10 s each)
#   KFPARGO_BENCH_PKGS=./bench/webhook bench/run.sh -run Burst   the webhook binary's burst (issue 8):
#                                       KFPARGO_BENCH_BURST=2000 admissions, _CONCURRENCY=200, _ROUNDS=3;
#                                       KFPARGO_BENCH_WEBHOOK_FLAGS="--timeout 1s" adds flags to the binary
#   KFPARGO_BENCH_SOAK=30m KFPARGO_BENCH_PKGS=./bench/webhook bench/run.sh -run Soak
#                                       the issue's 30-minute soak, by hand (default 30s, a quick
#                                       check); KFPARGO_BENCH_SOAK_RATE=150 req/s
set -eu
cd "$(dirname "$0")/.."
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# -p 1: one benchmark package at a time, or they would measure each other.
KFPARGO_BENCH=1 KFPARGO_BENCH_OUT="$out" go test -p 1 -count=1 -timeout 60m -v "$@" ${KFPARGO_BENCH_PKGS:-./bench/launcher ./bench/webhook} >&2
echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr), $(go env GOVERSION), load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
echo
echo "| Measure | kfpargo | Baseline / detail | Ratio / added | Target | Met |"
echo "|---|---|---|---|---|---|"
cat "$out"
