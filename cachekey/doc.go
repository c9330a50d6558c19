// Package cachekey computes the content-addressed identity of a step for
// the step cache (design.md §3). This file set holds the static part, the
// component's fingerprint: what the step runs and what it produces. Run-time
// parts (input values, input artifact digests, scope, salt) build on it.
package cachekey
