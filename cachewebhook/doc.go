// Package cachewebhook is the step cache's mutating admission webhook: for
// each step pod the apiserver is about to create (label kfpargo.io/cache=
// enabled), it computes the step's cache key from the pod, looks it up in
// Redis, verifies the entry's artifacts, and on a hit patches the pod into
// a replay of the cached outputs (docs/caching.md).
//
// The parts are kept apart: Serve decodes AdmissionReviews and answers
// them, a Handler decides, Decider is the cache decision, Metrics counts,
// CertWatcher reloads the serving certificate, Run runs the servers. The
// webhook fails open: any error of its own admits the pod unchanged.
//
// A Handler returns a Response built with Allowed, Patched or Failed: the
// outcome (hit, miss, skip, error) and its reason travel with the patch,
// and Serve alone turns them into the AdmissionReview, the log line and
// the metrics.
package cachewebhook
