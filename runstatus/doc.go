// Package runstatus follows a kfpargo run (an Argo Workflow) and summarises
// it per step: phase, duration, pods, exit code and outputs. Summaries are
// pure functions of the Workflow and its pods, so the demo, the end-to-end
// tests and the CLI print the same thing.
package runstatus
