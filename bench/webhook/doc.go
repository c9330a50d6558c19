// Package webhook holds the cache webhook's benchmark (issue 5): admission
// latency for hits (with artifact verification) and misses at fixed request
// rates from an open-loop load generator on loopback, beside a no-op webhook
// that answers the same requests through the same HTTPS server code in the
// same run. For issue 8 it also runs the cachewebhook binary as a process
// of its own: a burst of concurrent admissions that must all be usable by
// the apiserver, and a soak of mixed traffic that samples the process's
// RSS and Go heap. It runs only with KFPARGO_BENCH=1 (bench/run.sh).
package webhook
