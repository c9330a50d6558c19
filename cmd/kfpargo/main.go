// Command kfpargo compiles Kubeflow Pipelines specs into Argo Workflows,
// installs kfpargo into a cluster, and submits, watches and reports on
// runs.
//
// Exit codes: 0 success; 1 a failure outside the input (the cluster,
// writing the output, an internal error); 2 invalid input: a bad spec, an
// unknown flag or a bad flag value; 3 a watched run finished without
// succeeding. Every input error is printed as `error: FILE: PATH: message`.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/kfpargo/kfpargo/version"
)

// Exit codes; documented in the README.
const (
	exitOK      = 0
	exitFailure = 1
	exitInvalid = 2
	// exitRunFailed: a watched run finished without succeeding.
	exitRunFailed = 3
)

// usageError marks an error in what the user gave us (exit 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCommand(stdin, stdout, stderr)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	var inv usageError
	var reported reportedError
	switch {
	case errors.As(err, &reported):
		// already printed line by line
	default:
		fmt.Fprintf(stderr, "error: %v\n", err)
	}
	if errors.As(err, &inv) || errors.As(err, &reported) {
		return exitInvalid
	}
	var failed runFailed
	if errors.As(err, &failed) {
		return exitRunFailed
	}
	return exitFailure
}

// reportedError is an input error whose lines were already written.
type reportedError struct{ n int }

func (e reportedError) Error() string { return fmt.Sprintf("%d problem(s)", e.n) }

func newRootCommand(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "kfpargo",
		Short: "Run Kubeflow Pipelines on plain Argo Workflows",
		Long: `kfpargo translates Kubeflow Pipelines specs (the IR the KFP SDK compiles to) into Argo
Workflows that run one pod per step, with artifacts in S3/MinIO.

Exit codes: 0 success, 1 failure outside the input (the cluster, a file), 2 invalid input
(spec or flags), 3 a watched run finished without succeeding (submit --watch, run).`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version.Version,
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newCompileCommand(), newSubmitCommand(), newRunCommand(), newGetCommand(), newListCommand(),
		newCompareCommand(), newReportCommand(), newScheduleCommand(), newCacheCommand(), newInstallCommand(), newUninstallCommand())
	return root
}
