// Package step is the contract between the translator, which writes a step's
// Argo template, and the launcher, which runs inside the step's pod: where the
// launcher binary and the output files live, the names of the Argo parameters
// that carry artifact descriptors, and how typed KFP parameter values are
// written as Argo's string parameters, and the `launcher run` flags
// themselves (Spec, ParseRunArgs), which the cache webhook also reads from
// a pod to compute the same cache key as the launcher.
//
// Both sides import these names so they cannot drift apart.
package step
