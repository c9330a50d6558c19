#!/bin/sh
# Runs the launcher benchmarks (bench/launcher) in one go and prints their
# results as a markdown table. Needs the MinIO binary of the local stack
# (make stack-build) and root, or at least writable /minio and /kfpargo: the
# launcher binary is run with its production layout.
#
#   bench/run.sh                        all of them (~10 minutes, ~12 GiB of disk)
#   KFPARGO_BENCH_ROUNDS=3 bench/run.sh fewer 1 GiB transfer rounds (default 6)
#   KFPARGO_BENCH_N=100 bench/run.sh    fewer startup runs (default 200)
#   bench/run.sh -run Startup           pass go test flags, e.g. one benchmark
set -eu
cd "$(dirname "$0")/.."
out=$(mktemp)
trap 'rm -f "$out"' EXIT
KFPARGO_BENCH=1 KFPARGO_BENCH_OUT="$out" go test -count=1 -timeout 60m -v "$@" ./bench/launcher >&2
echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr), $(go env GOVERSION), load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
echo
echo "| Measure | kfpargo | Baseline / detail | Ratio / added | Target | Met |"
echo "|---|---|---|---|---|---|"
cat "$out"
