// Package webhook holds the cache webhook's benchmark (issue 5): admission
// latency for hits (with artifact verification) and misses at fixed request
// rates from an open-loop load generator on loopback, beside a no-op webhook
// that answers the same requests through the same HTTPS server code in the
// same run. It runs only with KFPARGO_BENCH=1 (bench/run.sh).
package webhook
