// Package runview is the one model of a kfpargo run that every run command
// shares: `kfpargo get` prints it (as a table, JSON or YAML), `kfpargo
// compare` lines several up side by side and `kfpargo report` draws it. It
// is built by pure functions from the run's Argo Workflow and its pods, so
// what the commands show cannot drift apart.
//
// # Serialised form
//
// Run is what `kfpargo get -o json|yaml` prints. Its field names are part of
// the CLI's interface: add fields, never rename or remove them. Times are
// RFC 3339 and left out until known; durations are seconds.
//
//	name, namespace, uid     the Workflow's
//	pipeline                 the pipeline's name (annotation kfpargo.io/pipeline-name)
//	experiment               label kfpargo.io/experiment, "" when none
//	phase, message           the Workflow's phase (Pending, Running, Succeeded, Failed, Error)
//	started, finished, durationSeconds
//	parameters[]             the run's arguments: {name, value}
//	steps[]                  one per executed pod node, or per skipped or omitted task:
//	  id                     the Argo node ID; edges refer to it
//	  name                   the node's display name ("train"; "train(1)" for a retry's second attempt)
//	  iteration              in a loop, the iteration's indices, outer loop first ("1", "0.2")
//	  task                   the IR task name, when known
//	  node                   the Argo node name
//	  phase, message, started, finished, durationSeconds, pods, pod (the last one), exitCode
//	  cache                  {decision: hit|miss|skip|error, reason, key, source}; left out when the webhook did not see the pod
//	  cached                 true when the step's outputs were replayed from the cache
//	  inputs[], outputs[]    parameters {name, value}; kfpargo's own plumbing is left out
//	  artifacts[]            {name, direction: input|output, uri, size, sha256, dir, schemaTitle, metadata}
//	  metrics[]              scalar metrics {artifact, name, value}; value is a number, a string or a boolean
//	  classification[]       ClassificationMetrics {artifact, confusionMatrix {classes, rows}, roc [{threshold, fpr, tpr}], rocPoints}
//	edges[]                  {from, to}: step ids, the upstream step first
//
// Comparison, the model of `kfpargo compare`, serialises the same way:
// runs[] (column headers), rows[] {kind: parameter|metric, name, values[],
// differs}; a value is null where the run has no such row.
package runview
