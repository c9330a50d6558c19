// Package cachestore keeps step-cache entries, leases and counters in Redis.
//
// Keys, under a prefix (default "kfpargo:v1:"):
//
//	<prefix>entry:<scope>:<key>   an Entry as JSON, with the entry's TTL
//	<prefix>lease:<scope>:<key>   the pod computing <key> right now (SET NX PX)
//	<prefix>stats:<scope>         a hash of counters (hits, misses, writes, ...)
//
// A scope is "ns/<namespace>" or "cluster". Namespace names are DNS labels,
// which contain no ":" or "/", so one scope's keys cannot be spelled from
// another's.
//
// The store expects one Redis server (or a replicated primary), not Redis
// Cluster: Entries and Stats walk keys with SCAN, which sees one node only.
package cachestore
