// Package launcher is what runs inside every kfpargo step container, in
// front of the component's own command. `run` goes through fixed steps, each
// with its own exit code: read the step's flags, download the input
// artifacts, resolve KFP placeholders, run the command (its exit code passes
// through), then collect output parameters and upload output artifacts, and
// only when all of that worked write the files Argo reads the outputs from.
package launcher
