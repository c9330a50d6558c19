// Package cachekey computes the content-addressed identity of a step for the
// step cache (design.md §3): what the step runs (image, command, the values
// of its component's environment variables, its outputs' names and types),
// what it reads (input parameter values, input artifact content) and an
// optional user salt. Both the cache webhook (from the pod it admits) and the
// launcher (from its own flags and environment) build a Material with
// FromSpec and must arrive at the same Key; where an entry is stored (its
// scope) is the cache store's business, not part of the key.
package cachekey
