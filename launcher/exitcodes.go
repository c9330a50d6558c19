package launcher

// Exit codes of `launcher run` for failures of its own. The user command's
// exit code is passed through unchanged; a command killed by a signal exits
// with 128+signal like a shell.
const (
	ExitUsage   = 64  // bad flags: the translator and launcher disagree
	ExitInputs  = 65  // an input could not be downloaded or a placeholder resolved
	ExitOutputs = 66  // an output was missing, ill-typed or could not be uploaded
	ExitStart   = 127 // the command could not be started
)
